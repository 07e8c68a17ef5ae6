/**
 * The native addon (crypto/node/nativeCrypto.ts, packages/native-crypto)
 * must compute what node:crypto computes, byte for byte. AES-GCM: the same
 * ciphertexts and tags for every length, with and without AAD, both key
 * sizes; the same refusals of anything tampered, with the plaintext never
 * handed out. HKDF-SHA-256 on a PRK (hkdfSha256Prk): the same outputs as
 * node:crypto's HMAC and as the JavaScript PreparedHmacSha256, for short,
 * block-long and longer keys and outputs of 0 to 255 blocks. One-shot
 * HMAC-SHA-256 and SHA-256, and the KDFs built on them (the suites' hash, MAC
 * and HKDF, HPKE's labelled KDF): the same bytes as on node:crypto. And its own
 * argument checks, so bad input from JavaScript never reaches OpenSSL.
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { PreparedHmacSha256 } from "../src/crypto/hmacSha256.js";
import { nativeCrypto } from "../src/crypto/node/nativeCrypto.js";
import { nodeCryptoProvider, nodeNativeCryptoInUse } from "../src/crypto/node/index.js";
import { nativeSha256Kdf } from "../src/crypto/node/hmacSha256Native.js";
import { opensslKdf } from "../src/crypto/node/kdf.js";
import { nativeLabeledKdf, opensslLabeledKdf } from "../src/crypto/node/labeledKdf.js";
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
    expect(nativeCrypto).toBeDefined();
    expect(nodeNativeCryptoInUse()).toBe(true);
    expect(nodeCryptoProvider.suite(1).hkdfSha256Prk).toBeDefined();
  });

  it("gives NIST's answers (GCM specification test cases 1 and 2)", () => {
    const suite = nodeCryptoProvider.suite(1);
    const zeroKey = new Uint8Array(16);
    const zeroNonce = new Uint8Array(12);
    const none = new Uint8Array(0);
    expect(Buffer.from(suite.aeadSealNow!(zeroKey, zeroNonce, none, none)).toString("hex")).toBe("58e2fccefa7e3061367f1d57a4e7455a");
    expect(Buffer.from(suite.aeadSealNow!(zeroKey, zeroNonce, none, new Uint8Array(16))).toString("hex")).toBe("0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf");
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
    const lib = nativeCrypto!;
    const key = bytes(16);
    const nonce = bytes(12);
    const ct = new Uint8Array(opensslSeal(128, key, nonce, new Uint8Array(0), bytes(64)));
    ct[70]! ^= 1;
    const out = new Uint8Array(64).fill(0xff);
    expect(lib.aesGcmOpen(0, key, nonce, new Uint8Array(0), ct, out)).toBe(false);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it("checks its arguments itself: types, key, nonce and output lengths, overlap, the variant", () => {
    const lib = nativeCrypto!;
    const seal = lib.aesGcmSeal.bind(lib);
    const open = lib.aesGcmOpen.bind(lib);
    const key = bytes(16);
    const nonce = bytes(12);
    const none = new Uint8Array(0);
    const pt = bytes(32);
    const bad: [string, () => unknown][] = [
      ["32-byte key for AES-128", () => seal(0, bytes(32), nonce, none, pt, new Uint8Array(48))],
      ["16-byte key for AES-256", () => seal(1, key, nonce, none, pt, new Uint8Array(48))],
      ["11-byte nonce", () => seal(0, key, bytes(11), none, pt, new Uint8Array(48))],
      ["short output", () => seal(0, key, nonce, none, pt, new Uint8Array(47))],
      ["long output", () => open(0, key, nonce, none, new Uint8Array(48), new Uint8Array(33))],
      ["ciphertext shorter than the tag", () => open(0, key, nonce, none, new Uint8Array(15), new Uint8Array(0))],
      ["variant 2", () => seal(2 as 0, key, nonce, none, pt, new Uint8Array(48))],
      ["a string for the key", () => seal(0, "0123456789abcdef" as unknown as Uint8Array, nonce, none, pt, new Uint8Array(48))],
      ["an Int32Array", () => seal(0, key, nonce, none, new Int32Array(8) as unknown as Uint8Array, new Uint8Array(48))],
      ["five arguments", () => (seal as (...a: unknown[]) => boolean)(0, key, nonce, none, pt)],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(TypeError);
    // Output over the input it reads (sealing in place would read the plaintext after overwriting it).
    const buf = new Uint8Array(48);
    expect(() => seal(0, key, nonce, none, buf.subarray(0, 32), buf)).toThrow(TypeError);
  });

  it("is left for node:crypto and JavaScript when CONCLAVE_NATIVE_CRYPTO=0, with the same outputs", async () => {
    const index = fileURLToPath(new URL("../src/crypto/node/index.ts", import.meta.url));
    const script = `import { nodeNativeCryptoInUse, nodeCryptoProvider } from ${JSON.stringify(index)};
const s = nodeCryptoProvider.suite(1);
const ct = s.aeadSealNow(new Uint8Array(16), new Uint8Array(12), new Uint8Array(0), new Uint8Array(16));
const e = s.kdfExpander(new Uint8Array(32).fill(9));
const okm = e.expandWithLabel("key", new Uint8Array(16).fill(1), 16);
process.stdout.write(nodeNativeCryptoInUse() + " " + Buffer.from(ct).toString("hex") + " " + Buffer.from(okm).toString("hex"));`;
    const run = (value: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, CONCLAVE_NATIVE_CRYPTO: value }, timeout: 30_000 }, (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      );
    const withoutAddon = await run("0");
    expect(withoutAddon.startsWith("false 0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf ")).toBe(true);
    expect(await run("1")).toBe(withoutAddon.replace(/^false/, "true"));
  });
});

describe("node provider: HKDF-SHA-256 on a PRK in the native addon", () => {
  const lib = nativeCrypto!;
  const prk = (key: Uint8Array) => nodeCryptoProvider.suite(1).hkdfSha256Prk!(key);

  /** RFC 5869 §2.3 with node:crypto's HMAC: T(i) = HMAC(PRK, T(i-1) | info | i). */
  function opensslExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
    const blocks: Buffer[] = [];
    let previous = Buffer.alloc(0);
    for (let i = 1; 32 * blocks.length < length; i++) {
      previous = createHmac("sha256", prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
      blocks.push(previous);
    }
    return Buffer.concat(blocks).subarray(0, length);
  }

  it("expands as node:crypto's HMAC and the JavaScript PreparedHmacSha256 do: keys of 0-130 bytes, outputs of 0-100 bytes and 255 blocks", () => {
    for (const keyLength of [0, 1, 31, 32, 33, 63, 64, 65, 100, 130]) {
      const key = bytes(keyLength);
      const native = prk(key);
      const js = new PreparedHmacSha256(key);
      for (const length of [0, 1, 12, 16, 31, 32, 33, 63, 64, 65, 100, 255 * 32]) {
        const info = bytes((length * 7 + keyLength) % 90);
        const expected = opensslExpand(key, info, length);
        expect(Buffer.from(native.expand(info, length)).equals(expected)).toBe(true);
        expect(Buffer.from(js.expand(info, length)).equals(expected)).toBe(true);
      }
      for (let split = 0; split < 3; split++) {
        const [a, b, c] = [bytes(split * 5), bytes(1), bytes(20 - split * 3)];
        const whole = new Uint8Array([...a, ...b, ...c]);
        expect(Buffer.from(native.expandParts(a, b, c, 32)).equals(opensslExpand(key, whole, 32))).toBe(true);
      }
      native.destroy();
      js.destroy();
    }
  });

  it("gives the SHA-256 suites' kdfExpander the same answers as their one-shot expandWithLabel", () => {
    for (const id of [1, 2, 3] as const) {
      const suite = nodeCryptoProvider.suite(id);
      const secret = bytes(32);
      const e = suite.kdfExpander(secret);
      for (const [label, context, length] of [
        ["key", bytes(16), 16],
        ["nonce", bytes(0), 12],
        ["secret", bytes(40), 32],
        ["exporter", bytes(70), 64],
      ] as const) {
        expect(Buffer.from(e.expandWithLabel(label, context, length)).equals(Buffer.from(suite.expandWithLabel(secret, label, context, length)))).toBe(true);
      }
      e.destroy();
    }
  });

  it("refuses a wiped key (after destroy), lengths out of range, and malformed arguments", () => {
    const h = prk(bytes(32));
    h.destroy();
    expect(() => h.expand(bytes(4), 16)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => h.expandParts(bytes(4), bytes(1), bytes(1), 16)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const k = prk(bytes(32));
    expect(() => k.expand(bytes(4), 255 * 32 + 1)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
    expect(() => k.expand(bytes(4), -1)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
    expect(() => k.expandParts(bytes(1), bytes(1), bytes(1), 33)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
    const state = new Uint8Array(lib.hmacSha256StateSize);
    lib.hmacSha256Prepare(bytes(32), state);
    const none = new Uint8Array(0);
    const bad: [string, () => unknown][] = [
      ["short state", () => lib.hkdfSha256Expand(state.subarray(1), none, none, none, new Uint8Array(16))],
      ["a state of random bytes", () => lib.hkdfSha256Expand(bytes(lib.hmacSha256StateSize), none, none, none, new Uint8Array(16))],
      ["255 blocks and one byte", () => lib.hkdfSha256Expand(state, none, none, none, new Uint8Array(255 * 32 + 1))],
      ["output over the state", () => lib.hkdfSha256Expand(state, none, none, none, state.subarray(0, 16))],
      ["a string for info", () => lib.hkdfSha256Expand(state, "info" as unknown as Uint8Array, none, none, new Uint8Array(16))],
      ["prepare into a short state", () => lib.hmacSha256Prepare(bytes(32), new Uint8Array(8))],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(TypeError);
  });
});

describe("node provider: one-shot HMAC-SHA-256 and SHA-256 in the native addon", () => {
  const lib = nativeCrypto!;
  const none = new Uint8Array(0);
  const KEY_LENGTHS = [0, 1, 31, 32, 33, 63, 64, 65, 100, 130];

  it("computes node:crypto's HMAC over four parts, truncated to any output length up to 32", () => {
    for (const keyLength of KEY_LENGTHS) {
      const key = bytes(keyLength);
      const parts = [bytes(keyLength % 7), bytes(0), bytes(70), bytes(1)];
      const expected = createHmac("sha256", key).update(parts[0]!).update(parts[2]!).update(parts[3]!).digest();
      for (const length of [0, 1, 12, 16, 31, 32]) {
        const out = new Uint8Array(length);
        lib.hmacSha256(key, parts[0]!, parts[1]!, parts[2]!, parts[3]!, out);
        expect(Buffer.from(out).equals(expected.subarray(0, length)), `key ${keyLength}, out ${length}`).toBe(true);
      }
    }
  });

  it("computes node:crypto's SHA-256 for inputs of 0 to 5000 bytes", () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 200, 1000, 5000]) {
      const data = bytes(length);
      const out = new Uint8Array(32);
      lib.sha256(data, out);
      expect(Buffer.from(out).equals(createHash("sha256").update(data).digest())).toBe(true);
    }
  });

  it("gives the SHA-256 suites' hash, MAC, Extract and Expand the bytes node:crypto gives", () => {
    const native = nativeSha256Kdf(lib);
    const openssl = opensslKdf("SHA-256", 32);
    const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    for (const keyLength of KEY_LENGTHS) {
      const key = bytes(keyLength);
      const data = bytes((keyLength * 3) % 80);
      same(native.hash(data), openssl.hash(data));
      same(native.mac(key, data), openssl.mac(key, data));
      same(native.kdfExtract(key, data), openssl.kdfExtract(key, data));
      for (const length of [0, 12, 16, 32, 33, 64, 255 * 32]) same(native.kdfExpand(key, data, length), openssl.kdfExpand(key, data, length));
    }
    expect(() => native.kdfExpand(bytes(32), none, 255 * 32 + 1)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
    // Each hash is its own array: a later hash (through the shared scratch) leaves an earlier one as it was.
    const [short, long] = [bytes(10), bytes(200)];
    const first = native.hash(short);
    const second = native.hash(long);
    same(first, openssl.hash(short));
    same(second, openssl.hash(long));
    expect(first.buffer).not.toBe(second.buffer);
  });

  it("gives HPKE's LabeledExtract and LabeledExpand (RFC 9180 §4) the bytes node:crypto gives, for the KEM's and the suite's ids", () => {
    for (const suiteId of [Uint8Array.of(0x4b, 0x45, 0x4d, 0, 0x20), Uint8Array.of(0x48, 0x50, 0x4b, 0x45, 0, 0x20, 0, 1, 0, 1)]) {
      const native = nativeLabeledKdf(lib, suiteId);
      const openssl = opensslLabeledKdf("SHA-256", 32, suiteId);
      for (const saltLength of [0, 32, 80]) {
        const salt = bytes(saltLength);
        const ikm = bytes(32);
        const prk = openssl.extract(salt, "eae_prk", ikm);
        expect(Buffer.from(native.extract(salt, "eae_prk", ikm)).equals(Buffer.from(prk))).toBe(true);
        // Into a given array (DHKEM's PRK scratch): the same bytes, in that array.
        for (const kdf of [native, openssl]) {
          const into = new Uint8Array(new ArrayBuffer(32));
          expect(kdf.extract(salt, "eae_prk", ikm, into)).toBe(into);
          expect(Buffer.from(into).equals(Buffer.from(prk))).toBe(true);
          expect(() => kdf.extract(salt, "eae_prk", ikm, new Uint8Array(31))).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
        }
        for (const length of [0, 12, 16, 32, 33, 100]) {
          const info = bytes(length % 40);
          expect(Buffer.from(native.expand(salt, "shared_secret", info, length)).equals(Buffer.from(openssl.expand(salt, "shared_secret", info, length))), `L=${length}`).toBe(true);
        }
      }
      expect(() => native.expand(bytes(32), "key", none, 255 * 32 + 1)).toThrow(expect.objectContaining({ code: "CRYPTO_INVALID_LENGTH" }));
    }
  });

  it("refuses malformed arguments and an output over an input", () => {
    const key = bytes(32);
    const buf = new Uint8Array(64);
    const bad: [string, () => unknown][] = [
      ["33-byte HMAC output", () => lib.hmacSha256(key, none, none, none, none, new Uint8Array(33))],
      ["five arguments", () => (lib.hmacSha256 as (...a: unknown[]) => void)(key, none, none, none, new Uint8Array(32))],
      ["a string part", () => lib.hmacSha256(key, "x" as unknown as Uint8Array, none, none, none, new Uint8Array(32))],
      ["HMAC output over the key", () => lib.hmacSha256(buf.subarray(0, 32), none, none, none, none, buf.subarray(16, 48))],
      ["HMAC output over a part", () => lib.hmacSha256(key, none, none, buf.subarray(0, 40), none, buf.subarray(32, 64))],
      ["31-byte hash output", () => lib.sha256(none, new Uint8Array(31))],
      ["hash output over the data", () => lib.sha256(buf.subarray(0, 40), buf.subarray(32, 64))],
      ["a number for data", () => lib.sha256(7 as unknown as Uint8Array, new Uint8Array(32))],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(TypeError);
  });
});
