/**
 * AES-GCM through the native addon (crypto/node/aesGcmNative.ts,
 * packages/node-aesgcm) must be node:crypto's AES-GCM byte for byte: the
 * same ciphertexts and tags for every length, with and without AAD, both key
 * sizes; the same refusals of anything tampered, with the plaintext never
 * handed out; and its own argument checks, so bad input from JavaScript
 * cannot reach OpenSSL with wrong lengths.
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { nativeAesGcm } from "../src/crypto/node/aesGcmNative.js";
import { nodeAesGcmBackend, nodeCryptoProvider } from "../src/crypto/node/index.js";
import { MlsError } from "../src/errors.js";

const bytes = (n: number) => new Uint8Array(randomBytes(n));
const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

function opensslSeal(bits: 128 | 256, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Buffer {
  const c = createCipheriv(`aes-${bits}-gcm`, key, nonce);
  if (aad.length > 0) c.setAAD(aad);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

function opensslOpen(bits: 128 | 256, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array): Buffer {
  const d = createDecipheriv(`aes-${bits}-gcm`, key, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  if (aad.length > 0) d.setAAD(aad);
  return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
}

const SUITES = [
  { id: 1, bits: 128 }, // MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
  { id: 2, bits: 128 }, // MLS_128_DHKEMP256_AES128GCM_SHA256_P256
  { id: 5, bits: 256 }, // MLS_256_DHKEMP521_AES256GCM_SHA512_P521
] as const;

describe("node provider: AES-GCM in the native addon", () => {
  it("is in use where the addon was built (it is on this platform)", () => {
    expect(nativeAesGcm).toBeDefined();
    expect(nodeAesGcmBackend()).toBe("native");
  });

  it("gives NIST's answers (GCM specification test cases 1 and 2)", () => {
    const suite = nodeCryptoProvider.suite(1);
    const zeroKey = new Uint8Array(16);
    const zeroNonce = new Uint8Array(12);
    const none = new Uint8Array(0);
    expect(Buffer.from(suite.aeadSealNow!(zeroKey, zeroNonce, none, none)).toString("hex")).toBe("58e2fccefa7e3061367f1d57a4e7455a");
    expect(Buffer.from(suite.aeadSealNow!(zeroKey, zeroNonce, none, new Uint8Array(16))).toString("hex")).toBe(
      "0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf",
    );
  });

  for (const { id, bits } of SUITES) {
    it(`suite ${id} (AES-${bits}-GCM): seals and opens as node:crypto does, every length 0-70 and larger, with and without AAD`, async () => {
      const suite = nodeCryptoProvider.suite(id);
      const lengths = [...Array.from({ length: 71 }, (_, i) => i), 255, 1024, 4099, 70_000];
      for (const length of lengths) {
        const key = bytes(bits / 8);
        const nonce = bytes(12);
        const aad = length % 3 === 0 ? new Uint8Array(0) : bytes(length % 50);
        const pt = bytes(length);
        const expected = opensslSeal(bits, key, nonce, aad, pt);
        const now = suite.aeadSealNow!(key, nonce, aad, pt);
        expect(Buffer.from(now).equals(expected)).toBe(true);
        expect(Buffer.from(await suite.aeadSeal(key, nonce, aad, pt)).equals(expected)).toBe(true);
        expect(Buffer.from(suite.aeadOpenNow!(key, nonce, aad, expected)).equals(pt)).toBe(true);
        expect(opensslOpen(bits, key, nonce, aad, now).equals(pt)).toBe(true);
      }
    });
  }

  it("refuses what node:crypto refuses: a bit flipped in ciphertext, tag, AAD or nonce, a wrong key, a cut tag", async () => {
    const suite = nodeCryptoProvider.suite(1);
    const key = bytes(16);
    const nonce = bytes(12);
    const aad = bytes(33);
    const pt = bytes(100);
    const ct = suite.aeadSealNow!(key, nonce, aad, pt);
    const flip = (a: Uint8Array, at: number) => {
      const b = a.slice();
      b[at]! ^= 0x80;
      return b;
    };
    const cases: [Uint8Array, Uint8Array, Uint8Array, Uint8Array][] = [
      [key, nonce, aad, flip(ct, 0)],
      [key, nonce, aad, flip(ct, 99)],
      [key, nonce, aad, flip(ct, 100)], // first tag byte
      [key, nonce, aad, flip(ct, 115)], // last tag byte
      [key, nonce, flip(aad, 7), ct],
      [key, nonce, new Uint8Array(0), ct],
      [key, flip(nonce, 11), aad, ct],
      [flip(key, 3), nonce, aad, ct],
      [key, nonce, aad, ct.subarray(0, 115)],
      [key, nonce, aad, ct.subarray(0, 15)],
    ];
    for (const [k, n, a, c] of cases) {
      expect(() => opensslOpen(128, k, n, a, c)).toThrow();
      expect(() => suite.aeadOpenNow!(k, n, a, c)).toThrow(MlsError);
      await expect(suite.aeadOpen(k, n, a, c)).rejects.toMatchObject({ code: "CRYPTO_DECRYPT_FAILED" });
    }
    expect(() => suite.aeadSealNow!(bytes(15), nonce, aad, pt)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_KEY" }));
    expect(() => suite.aeadSealNow!(key, bytes(16), aad, pt)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
  });

  it("zeroes the output when the tag does not verify, so no unauthenticated plaintext is exposed", () => {
    const lib = nativeAesGcm!;
    const key = bytes(16);
    const nonce = bytes(12);
    const ct = new Uint8Array(opensslSeal(128, key, nonce, new Uint8Array(0), bytes(64)));
    ct[70]! ^= 1;
    const out = new Uint8Array(64).fill(0xff);
    expect(lib.open(0, key, nonce, new Uint8Array(0), ct, out)).toBe(false);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it("checks its arguments itself: types, key, nonce and output lengths, overlap, the variant", () => {
    const lib = nativeAesGcm!;
    const key = bytes(16);
    const nonce = bytes(12);
    const none = new Uint8Array(0);
    const pt = bytes(32);
    const bad: [string, () => unknown][] = [
      ["32-byte key for AES-128", () => lib.seal(0, bytes(32), nonce, none, pt, new Uint8Array(48))],
      ["16-byte key for AES-256", () => lib.seal(1, key, nonce, none, pt, new Uint8Array(48))],
      ["11-byte nonce", () => lib.seal(0, key, bytes(11), none, pt, new Uint8Array(48))],
      ["short output", () => lib.seal(0, key, nonce, none, pt, new Uint8Array(47))],
      ["long output", () => lib.open(0, key, nonce, none, new Uint8Array(48), new Uint8Array(33))],
      ["ciphertext shorter than the tag", () => lib.open(0, key, nonce, none, new Uint8Array(15), new Uint8Array(0))],
      ["variant 2", () => lib.seal(2 as 0, key, nonce, none, pt, new Uint8Array(48))],
      ["a string for the key", () => lib.seal(0, "0123456789abcdef" as unknown as Uint8Array, nonce, none, pt, new Uint8Array(48))],
      ["an Int32Array", () => lib.seal(0, key, nonce, none, new Int32Array(8) as unknown as Uint8Array, new Uint8Array(48))],
      ["five arguments", () => (lib.seal as (...a: unknown[]) => boolean)(0, key, nonce, none, pt)],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(TypeError);
    // Output over the input it reads (sealing in place would read the plaintext after overwriting it).
    const buf = new Uint8Array(48);
    expect(() => lib.seal(0, key, nonce, none, buf.subarray(0, 32), buf)).toThrow(TypeError);
  });

  it("is left for node:crypto when CONCLAVE_NATIVE_AESGCM=0", async () => {
    const index = fileURLToPath(new URL("../src/crypto/node/index.ts", import.meta.url));
    const script = `import { nodeAesGcmBackend, nodeCryptoProvider } from ${JSON.stringify(index)};
const s = nodeCryptoProvider.suite(1);
const ct = s.aeadSealNow(new Uint8Array(16), new Uint8Array(12), new Uint8Array(0), new Uint8Array(16));
process.stdout.write(nodeAesGcmBackend() + " " + Buffer.from(ct).toString("hex"));`;
    const run = (value: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, CONCLAVE_NATIVE_AESGCM: value }, timeout: 30_000 }, (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      );
    const expected = "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf";
    expect(await run("0")).toBe(`node:crypto ${expected}`);
    expect(await run("1")).toBe(`native ${expected}`);
  });
});
