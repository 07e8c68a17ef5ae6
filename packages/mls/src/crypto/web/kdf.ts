/**
 * Hash, HMAC and HKDF (RFC 5869) for browsers, synchronous, on @noble/hashes
 * (WebCrypto has no synchronous API, and the key schedule must not await).
 */
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { expand, extract } from "@noble/hashes/hkdf.js";
import type { HashAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";

export const NOBLE_HASH = { "SHA-256": sha256, "SHA-384": sha384, "SHA-512": sha512 } as const satisfies Record<HashAlgorithm, unknown>;

export interface WebKdf {
  hash(data: Uint8Array): Uint8Array;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  kdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  kdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

export function webKdf(alg: HashAlgorithm, nh: number): WebKdf {
  const h = NOBLE_HASH[alg];
  return {
    hash: (data) => h(data),
    mac: (key, data) => hmac(h, key, data),
    // RFC 5869 §2.2: an empty salt acts as Nh zero bytes either way.
    kdfExtract: (salt, ikm) => extract(h, ikm, salt),
    kdfExpand(prk, info, length) {
      if (!Number.isInteger(length) || length < 0 || length > 255 * nh) {
        throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand length ${length} out of range`);
      }
      return expand(h, prk, info, length);
    },
  };
}
