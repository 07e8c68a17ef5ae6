/**
 * A prepared HMAC-SHA-256 key (crypto/hmacSha256.ts's PreparedHmac) in the
 * native addon (nativeCrypto.ts): its inner and outer SHA-256 states live in
 * a Uint8Array this object owns and wipes on destroy(); each expansion is one
 * call, on OpenSSL's SHA-256.
 */
import { MlsError } from "../../errors.js";
import type { PreparedHmac } from "../hmacSha256.js";
import type { NodeKdf } from "./kdf.js";
import type { NativeCrypto } from "./nativeCrypto.js";

const HASH = 32;
const EMPTY = new Uint8Array(0);
const ONE = Uint8Array.of(1);

function checkedLength(length: number, max: number): number {
  if (!Number.isInteger(length) || length < 0 || length > max) throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand length ${length} out of range`);
  return length;
}

class NativePreparedHmacSha256 implements PreparedHmac {
  readonly #lib: NativeCrypto;
  readonly #state: Uint8Array;

  constructor(lib: NativeCrypto, key: Uint8Array) {
    this.#lib = lib;
    this.#state = new Uint8Array(lib.hmacSha256StateSize);
    lib.hmacSha256Prepare(key, this.#state);
  }

  expand(info: Uint8Array, length: number): Uint8Array {
    const out = new Uint8Array(checkedLength(length, 255 * HASH));
    this.#lib.hkdfSha256Expand(this.#state, info, EMPTY, EMPTY, out);
    return out;
  }

  expandParts(a: Uint8Array, b: Uint8Array, c: Uint8Array, length: number): Uint8Array {
    const out = new Uint8Array(checkedLength(length, HASH));
    this.#lib.hkdfSha256Expand(this.#state, a, b, c, out);
    return out;
  }

  destroy(): void {
    this.#state.fill(0);
  }
}

/** The provider's prepareHmacSha256 when the addon is in use. */
export function nativePreparedHmacSha256(lib: NativeCrypto): (key: Uint8Array) => PreparedHmac {
  return (key) => new NativePreparedHmacSha256(lib, key);
}

/**
 * Hash, HMAC and HKDF (RFC 5869) of the SHA-256 suites in one native call
 * each: the key schedule's extractions and derivations, tree hashes, refs.
 */
export function nativeSha256Kdf(lib: NativeCrypto): NodeKdf {
  const mac = (key: Uint8Array, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(HASH);
    lib.hmacSha256(key, data, EMPTY, EMPTY, EMPTY, out);
    return out;
  };
  return {
    hash(data) {
      const out = new Uint8Array(HASH);
      lib.sha256(data, out);
      return out;
    },
    mac,
    // RFC 5869 §2.2: an empty salt is HashLen zeros, the same HMAC key once padded to a block.
    kdfExtract: mac,
    kdfExpand(prk, info, length) {
      const out = new Uint8Array(checkedLength(length, 255 * HASH));
      if (length <= HASH) {
        // RFC 5869 §2.3: one block, T(1) = HMAC(PRK, info || 0x01).
        lib.hmacSha256(prk, info, ONE, EMPTY, EMPTY, out);
        return out;
      }
      const state = new Uint8Array(lib.hmacSha256StateSize);
      lib.hmacSha256Prepare(prk, state);
      lib.hkdfSha256Expand(state, info, EMPTY, EMPTY, out);
      state.fill(0);
      return out;
    },
  };
}
