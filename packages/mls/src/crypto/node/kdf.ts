/**
 * Hash, HMAC and HKDF (RFC 5869) on node:crypto, synchronous.
 *
 * HKDF is written out rather than using `hkdfSync`, because MLS calls Extract
 * and Expand separately (RFC 9420 §8) and `hkdfSync` only does both at once.
 */
import { createHash, createHmac } from "node:crypto";
import type { HashAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { nativeSha256Kdf } from "./hmacSha256Native.js";
import { nativeSha256For } from "./nativeCrypto.js";

/** node:crypto's names for the suite hashes. */
export const NODE_HASH: Readonly<Record<HashAlgorithm, "sha256" | "sha384" | "sha512">> = {
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

/** Wraps a Node Buffer as a plain Uint8Array over the same memory (no copy). */
export function asBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export interface NodeKdf {
  hash(data: Uint8Array): Uint8Array;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  kdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  kdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** SHA-256 suites on the native addon where it is in use (one call per hash or HMAC), node:crypto otherwise. */
export function nodeKdf(hash: HashAlgorithm, nh: number): NodeKdf {
  const native = nativeSha256For(hash);
  return native !== undefined ? nativeSha256Kdf(native) : opensslKdf(hash, nh);
}

/** On node:crypto's Hash and Hmac objects. */
export function opensslKdf(hash: HashAlgorithm, nh: number): NodeKdf {
  const alg = NODE_HASH[hash];
  const zeroSalt = new Uint8Array(nh);
  const mac = (key: Uint8Array, data: Uint8Array): Uint8Array => asBytes(createHmac(alg, key).update(data).digest());
  return {
    hash: (data) => asBytes(createHash(alg).update(data).digest()),
    mac,
    // RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM); an empty salt means Nh zero bytes
    // (HMAC pads short keys with zeros, so the result is the same either way).
    kdfExtract: (salt, ikm) => mac(salt.length === 0 ? zeroSalt : salt, ikm),
    kdfExpand(prk, info, length) {
      // RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i), L <= 255 * Nh
      if (!Number.isInteger(length) || length < 0 || length > 255 * nh) {
        throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand length ${length} out of range`);
      }
      const counter = new Uint8Array(1);
      if (length <= nh) {
        // The common case in MLS: one block.
        counter[0] = 1;
        const t = createHmac(alg, prk).update(info).update(counter).digest();
        return asBytes(length === nh ? t : t.subarray(0, length));
      }
      const out = new Uint8Array(length);
      let prev: Uint8Array = new Uint8Array(0);
      for (let i = 1, o = 0; o < length; i++) {
        counter[0] = i;
        prev = asBytes(createHmac(alg, prk).update(prev).update(info).update(counter).digest());
        out.set(prev.subarray(0, Math.min(nh, length - o)), o);
        o += nh;
      }
      return out;
    },
  };
}
