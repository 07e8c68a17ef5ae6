/**
 * HMAC-SHA-256 and HKDF (RFC 2104, RFC 5869) of the SHA-256 suites in the
 * native addon (nativeCrypto.ts), on OpenSSL's SHA-256, one call per value.
 *
 * A one-block HKDF-Expand is a single HMAC, T(1) = HMAC(PRK, info || 0x01),
 * and nearly every expansion in MLS is one block: those are one-shot HMAC
 * calls. Preparing the key's inner and outer states first (a call and a
 * 224-byte state array per secret) saved two SHA-256 blocks per expansion but
 * cost more than that for the two or three expansions a secret gets (a
 * ratchet step ~4 against ~3 µs). Longer outputs prepare a state, expand and
 * wipe it.
 */
import { MlsError } from "../../errors.js";
import { outputOf, type HkdfSha256Prk } from "../hmacSha256.js";
import type { NodeKdf } from "./kdf.js";
import type { NativeCrypto } from "./nativeCrypto.js";

const HASH = 32;
const EMPTY = new Uint8Array(0);
const ONE = Uint8Array.of(1);

function checkedLength(length: number, max: number): number {
  if (!Number.isInteger(length) || length < 0 || length > max) throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand length ${length} out of range`);
  return length;
}

/**
 * out = HKDF-Expand(prk, info = a || b || c, out.length) (RFC 5869 §2.3); the
 * caller checks out.length (at most 255 blocks).
 */
export function nativeHkdfSha256Expand(lib: NativeCrypto, prk: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, out: Uint8Array): Uint8Array {
  if (out.length <= HASH) {
    lib.hmacSha256(prk, a, b, c, ONE, out);
    return out;
  }
  const state = new Uint8Array(lib.hmacSha256StateSize);
  try {
    lib.hmacSha256Prepare(prk, state);
    lib.hkdfSha256Expand(state, a, b, c, out);
  } finally {
    state.fill(0);
  }
  return out;
}

/** A PRK for several expansions (crypto/hmacSha256.ts's HkdfSha256Prk): kept by reference until destroy(), each expansion one call. */
class NativeHmacSha256Key implements HkdfSha256Prk {
  readonly #lib: NativeCrypto;
  #key: Uint8Array | undefined;

  constructor(lib: NativeCrypto, key: Uint8Array) {
    this.#lib = lib;
    this.#key = key;
  }

  expand(info: Uint8Array, length: number, into?: Uint8Array): Uint8Array {
    return nativeHkdfSha256Expand(this.#lib, this.#live(), info, EMPTY, EMPTY, outputOf(checkedLength(length, 255 * HASH), into));
  }

  expandParts(a: Uint8Array, b: Uint8Array, c: Uint8Array, length: number, into?: Uint8Array): Uint8Array {
    const out = outputOf(checkedLength(length, HASH), into);
    this.#lib.hmacSha256(this.#live(), a, b, c, ONE, out);
    return out;
  }

  /** Lets go of the key (the caller owns it, and wipes it when the RFC says so). */
  destroy(): void {
    this.#key = undefined;
  }

  #live(): Uint8Array {
    if (this.#key === undefined) throw new MlsError("INVALID_ARGUMENT", "HMAC key used after destroy()");
    return this.#key;
  }
}

/** The provider's hkdfSha256Prk when the addon is in use. */
export function nativeHkdfSha256Prk(lib: NativeCrypto): (key: Uint8Array) => HkdfSha256Prk {
  return (key) => new NativeHmacSha256Key(lib, key);
}

/**
 * Hash, HMAC and HKDF of the SHA-256 suites in one native call each: the key
 * schedule's extractions and derivations, tree hashes, refs.
 */
export function nativeSha256Kdf(lib: NativeCrypto): NodeKdf {
  // The addon writes each hash here, and it is copied into a small array of the caller's: V8 keeps arrays
  // of up to 64 bytes on its heap, and moving a fresh one off it (an ArrayBuffer allocated, the bytes copied)
  // the first time native code is handed it cost more than the hash of a one-block input. Hashes in MLS
  // are of public data, but the scratch is wiped anyway: the provider's hash() may be given anything.
  const hashOut = new Uint8Array(new ArrayBuffer(HASH));
  const mac = (key: Uint8Array, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(HASH);
    lib.hmacSha256(key, data, EMPTY, EMPTY, EMPTY, out);
    return out;
  };
  return {
    hash(data) {
      lib.sha256(data, hashOut);
      const out = hashOut.slice();
      hashOut.fill(0);
      return out;
    },
    mac,
    // RFC 5869 §2.2: an empty salt is HashLen zeros, the same HMAC key once padded to a block.
    kdfExtract: mac,
    kdfExpand: (prk, info, length) => nativeHkdfSha256Expand(lib, prk, info, EMPTY, EMPTY, new Uint8Array(checkedLength(length, 255 * HASH))),
  };
}
