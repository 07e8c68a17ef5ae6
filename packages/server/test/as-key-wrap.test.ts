/**
 * The AS private keys at rest (as/keyWrap.ts, keyFile.ts): sealed with the
 * key-encryption key, bound to their row, refused without the right key,
 * sealed in place when a KEK is added later, and the key file is created once.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AsKeysResponse } from "@conclave/api";
import { createConclaveServer, createSqliteStore, keyEncryptionKeyFromFile, KeyWrapError, parseKeyEncryptionKey } from "../src/index.js";
import { AUTH_KEY_NAME, CA_KEY_NAME, LOG_KEY_NAME } from "../src/as/keys.js";
import { isSealed } from "../src/as/keyWrap.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "conclave-kek-"));
  dirs.push(d);
  return d;
}
const kek = (fill: number) => new Uint8Array(32).fill(fill);

/** Starts a server on `path`, returns its published AS keys, stops it. */
async function asKeysOf(path: string, keyEncryptionKey?: Uint8Array): Promise<AsKeysResponse> {
  const app = await createConclaveServer({ store: { engine: "sqlite", path }, ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }) });
  try {
    const r = await app.inject({ method: "GET", url: "/v1/as/keys" });
    expect(r.statusCode).toBe(200);
    return r.json<AsKeysResponse>();
  } finally {
    await app.close();
  }
}

async function storedPrivateKeys(path: string): Promise<Uint8Array[]> {
  const store = await createSqliteStore({ path });
  try {
    // The DS authentication key (the deniable handshake's S_s) is sealed like the others.
    return [(await store.keys.get(CA_KEY_NAME))!.privateKey, (await store.keys.get(LOG_KEY_NAME))!.privateKey, (await store.keys.get(AUTH_KEY_NAME))!.privateKey];
  } finally {
    await store.close();
  }
}

describe("AS private keys at rest", () => {
  it("are sealed with the KEK, and the same keys come back on restart", async () => {
    const path = join(tempDir(), "db.sqlite");
    const first = await asKeysOf(path, kek(1));
    for (const k of await storedPrivateKeys(path)) expect(isSealed(k)).toBe(true);
    expect(await asKeysOf(path, kek(1))).toEqual(first);
  });

  it("refuse to load without the KEK or with another one (no new keys are minted)", async () => {
    const path = join(tempDir(), "db.sqlite");
    const first = await asKeysOf(path, kek(2));
    await expect(asKeysOf(path)).rejects.toThrow(KeyWrapError);
    await expect(asKeysOf(path)).rejects.toThrow(/CONCLAVE_KEK/);
    await expect(asKeysOf(path, kek(3))).rejects.toThrow(/does not open/);
    expect(await asKeysOf(path, kek(2))).toEqual(first);
  });

  it("are bound to their row: a sealed key moved to another row does not open", async () => {
    const path = join(tempDir(), "db.sqlite");
    await asKeysOf(path, kek(4));
    const [caSealed, logSealed] = await storedPrivateKeys(path);
    const store = await createSqliteStore({ path });
    expect(await store.keys.replacePrivateKey(LOG_KEY_NAME, logSealed!, caSealed!)).toBe(true);
    await store.close();
    await expect(asKeysOf(path, kek(4))).rejects.toThrow(/does not open/);
  });

  it("written in the clear are sealed in place once a KEK is configured", async () => {
    const path = join(tempDir(), "db.sqlite");
    const first = await asKeysOf(path);
    for (const k of await storedPrivateKeys(path)) expect(isSealed(k)).toBe(false);
    expect(await asKeysOf(path, kek(5))).toEqual(first);
    for (const k of await storedPrivateKeys(path)) expect(isSealed(k)).toBe(true);
    await expect(asKeysOf(path)).rejects.toThrow(KeyWrapError);
  });
});

describe("key-encryption key sources", () => {
  it("a key file is created once (owner-only) and read back; another create keeps it", () => {
    const file = join(tempDir(), "conclave.kek");
    const a = keyEncryptionKeyFromFile(file, true);
    expect(a.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(keyEncryptionKeyFromFile(file, true)).toEqual(a);
    expect(keyEncryptionKeyFromFile(file, false)).toEqual(a);
    expect(new Uint8Array(readFileSync(file))).toEqual(a);
  });

  it("accepts a file or variable holding base64url; rejects anything else with KeyWrapError", () => {
    const dir = tempDir();
    const text = Buffer.from(kek(9)).toString("base64url");
    writeFileSync(join(dir, "b64"), `${text}\n`);
    expect(keyEncryptionKeyFromFile(join(dir, "b64"), false)).toEqual(kek(9));
    expect(parseKeyEncryptionKey(text)).toEqual(kek(9));
    writeFileSync(join(dir, "short"), "too short");
    expect(() => keyEncryptionKeyFromFile(join(dir, "short"), false)).toThrow(KeyWrapError);
    expect(() => keyEncryptionKeyFromFile(join(dir, "missing"), false)).toThrow(KeyWrapError);
    expect(() => parseKeyEncryptionKey(`${text}=`)).toThrow(KeyWrapError);
  });
});
