/**
 * The node provider's optional native calls (packages/native-crypto, an
 * optional dependency built at install against Node's own OpenSSL):
 *
 * - AES-GCM seal and open in one call each. node:crypto makes a Cipher object
 *   per call, and an MLS message needs four AEAD calls with four fresh keys
 *   (RFC 9420 §6.3.1, §6.3.2): the objects, their five method calls each and
 *   the weak handles the collector finalizes were ~25% of the sending and
 *   receiving thread's time with messages in flight.
 * - HMAC-SHA-256 and SHA-256 in one call each (hmacSha256Native.ts) for the
 *   SHA-256 suites: every one-block HKDF-Expand (the five derivations per
 *   message on each side) is one HMAC on the PRK, and HPKE's labelled KDF, the
 *   key schedule, tree hashes and refs no longer build a node:crypto
 *   Hmac/Hash object per call (~4 µs an HMAC, eight per HPKE seal or open).
 *   Longer expansions use a prepared key state (hmacSha256Prepare).
 *
 * Both compute the same bytes as node:crypto (the same OpenSSL); the tests
 * compare them, and the provider checks one answer of each when it loads.
 * Absent (no compiler at install, an install without optional dependencies),
 * failing that check, or with CONCLAVE_NATIVE_CRYPTO=0, the provider uses
 * node:crypto's Cipher objects and the JavaScript HMAC.
 */
import { createCipheriv, createHash, createHmac } from "node:crypto";
import { createRequire } from "node:module";
import type { HashAlgorithm } from "../cipherSuite.js";

/** 0: AES-128-GCM, 1: AES-256-GCM. */
export type AesGcmVariant = 0 | 1;

/** The addon's API (packages/native-crypto/index.d.cts). Bad arguments throw TypeError. */
export interface NativeCrypto {
  /** False if OpenSSL failed, with `out` zeroed. */
  aesGcmSeal(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): boolean;
  /** False if the tag does not verify, with `out` zeroed. */
  aesGcmOpen(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
  readonly hmacSha256StateSize: number;
  hmacSha256Prepare(key: Uint8Array, state: Uint8Array): void;
  /** out = HKDF-Expand(prepared PRK, a || b || c, out.length). */
  hkdfSha256Expand(state: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, out: Uint8Array): void;
  /** out = the first out.length (<= 32) bytes of HMAC-SHA-256(key, a || b || c || d). */
  hmacSha256(key: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, d: Uint8Array, out: Uint8Array): void;
  /** out (32 bytes) = SHA-256(data). */
  sha256(data: Uint8Array, out: Uint8Array): void;
}

const bytesOf = (length: number, from: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (from + 7 * i) & 0xff);

/** A binary that loads but answers differently from node:crypto, or accepts a forged tag, is not used. */
function agreesWithNodeCrypto(lib: NativeCrypto): boolean {
  const key = bytesOf(16, 0);
  const nonce = bytesOf(12, 100);
  const aad = bytesOf(20, 200);
  const plaintext = bytesOf(21, 3);
  const c = createCipheriv("aes-128-gcm", key, nonce);
  c.setAAD(aad);
  const expected = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  const sealed = new Uint8Array(plaintext.length + 16);
  if (!lib.aesGcmSeal(0, key, nonce, aad, plaintext, sealed) || !expected.equals(sealed)) return false;
  const opened = new Uint8Array(plaintext.length);
  if (!lib.aesGcmOpen(0, key, nonce, aad, sealed, opened) || !opened.every((b, i) => b === plaintext[i])) return false;
  sealed[sealed.length - 1]! ^= 1;
  if (lib.aesGcmOpen(0, key, nonce, aad, sealed, opened) || !opened.every((b) => b === 0)) return false;
  // HKDF-Expand over two blocks: T(1) = HMAC(PRK, info | 1), T(2) = HMAC(PRK, T(1) | info | 2).
  const prk = bytesOf(32, 50);
  const state = new Uint8Array(lib.hmacSha256StateSize);
  lib.hmacSha256Prepare(prk, state);
  const out = new Uint8Array(40);
  lib.hkdfSha256Expand(state, aad, plaintext, new Uint8Array(0), out);
  const t1 = createHmac("sha256", prk).update(aad).update(plaintext).update(Uint8Array.of(1)).digest();
  const t2 = createHmac("sha256", prk).update(t1).update(aad).update(plaintext).update(Uint8Array.of(2)).digest();
  if (!Buffer.concat([t1, t2]).subarray(0, 40).equals(out)) return false;
  // One-shot HMAC over four parts with a key longer than a block (hashed first), and SHA-256.
  const longKey = bytesOf(70, 9);
  const mac = new Uint8Array(32);
  lib.hmacSha256(longKey, prk, aad, new Uint8Array(0), plaintext, mac);
  if (!createHmac("sha256", longKey).update(prk).update(aad).update(plaintext).digest().equals(mac)) return false;
  const digest = new Uint8Array(32);
  lib.sha256(plaintext, digest);
  return createHash("sha256").update(plaintext).digest().equals(digest);
}

function load(): NativeCrypto | undefined {
  if (process.env.CONCLAVE_NATIVE_CRYPTO === "0") return undefined;
  try {
    const lib = createRequire(import.meta.url)("@conclave/native-crypto") as NativeCrypto;
    return agreesWithNodeCrypto(lib) ? lib : undefined;
  } catch {
    return undefined;
  }
}

/** The addon, or undefined when the provider runs without it. */
export const nativeCrypto: NativeCrypto | undefined = load();

/** The addon for a suite hashing with SHA-256 (the only hash it computes), undefined otherwise or when it is not in use. */
export function nativeSha256For(hash: HashAlgorithm): NativeCrypto | undefined {
  return hash === "SHA-256" ? nativeCrypto : undefined;
}
