/**
 * FileStore on its own: records round-trip encrypted, and what cannot be read
 * is a StoreError (STORE_UNREADABLE) naming it. A missing salt beside existing
 * records is never replaced (issue 20 item 6): a new salt would turn every
 * record into an apparent wrong passphrase.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileStore, StoreError } from "../src/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "conclave-filestore-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (s: string) => new TextEncoder().encode(s);
const errorOf = async (f: () => unknown): Promise<unknown> => {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
};

describe("FileStore", () => {
  it("round-trips records, encrypted on disk, across reopenings", async () => {
    const a = new FileStore(dir, "pass");
    await a.put("group:x", bytes("secret state"));
    expect(readFileSync(join(dir, "group~x.rec")).includes(Buffer.from("secret state"))).toBe(false);
    expect(await new FileStore(dir, "pass").get("group:x")).toEqual(bytes("secret state"));
    expect(await new FileStore(dir, "pass").keys("group:")).toEqual(["group:x"]);
  });

  it("a wrong passphrase or a truncated record is STORE_UNREADABLE naming the record", async () => {
    await new FileStore(dir, "pass").put("identity", bytes("me"));
    const wrong = await errorOf(() => new FileStore(dir, "other").get("identity"));
    expect(wrong).toBeInstanceOf(StoreError);
    expect([(wrong as StoreError).code, (wrong as Error).message]).toEqual(["STORE_UNREADABLE", "FileStore: cannot decrypt identity (wrong passphrase or corrupted file)"]);
    truncateSync(join(dir, "identity.rec"), 10);
    expect(((await errorOf(() => new FileStore(dir, "pass").get("identity"))) as Error).message).toBe("FileStore: identity is not a Conclave record");
  });

  it("refuses to replace a missing salt beside existing records", async () => {
    await new FileStore(dir, "pass").put("identity", bytes("me"));
    unlinkSync(join(dir, "salt"));
    const e = await errorOf(() => new FileStore(dir, "pass"));
    expect(e).toBeInstanceOf(StoreError);
    expect((e as Error).message).toBe(`FileStore: ${join(dir, "salt")} is missing, so the records in ${dir} cannot be decrypted: restore it from a backup`);
    expect(existsSync(join(dir, "salt"))).toBe(false);
  });

  it("makes a salt for a new (or empty) directory", () => {
    const fresh = join(dir, "new");
    new FileStore(fresh, "pass");
    expect(readFileSync(join(fresh, "salt"))).toHaveLength(16);
  });
});
