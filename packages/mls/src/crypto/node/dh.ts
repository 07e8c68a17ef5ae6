/**
 * The Diffie-Hellman groups under DHKEM (RFC 9180 §4.1, §7.1) on node:crypto:
 * X25519 / X448 (RFC 7748) through KeyObjects, P-256 / P-384 / P-521 through
 * ECDH objects (cheaper than KeyObjects for one-off scalar multiplications);
 * X25519 on libsodium instead where it is installed (sodium.ts).
 *
 * Every failure to use a peer's key (wrong length, point not on the curve,
 * all-zero X25519/X448 output) is MlsError CRYPTO_INVALID_KEY.
 */
import { createECDH, diffieHellman } from "node:crypto";
import { randomBytes } from "./random.js";
import type { ECDH, KeyObject } from "node:crypto";
import type { KemAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { asBytes } from "./kdf.js";
import { isValidScalar, NIST_CURVES } from "./curves.js";
import type { NistCurve } from "./curves.js";
import { okpPrivateKeyObject, okpPublicKeyObject, okpRawPublicKey, padStart, ParsedKeyCache } from "./keyEncoding.js";
import { sodium, unshared, type Sodium } from "./sodium.js";

export interface DhGroup {
  readonly npk: number;
  readonly nsk: number;
  /** RFC 9180 §7.1.3 DeriveKeyPair bitmask (NIST curves) or undefined (X curves: no rejection sampling). */
  readonly bitmask: number | undefined;
  /** A fresh ephemeral key: its public key and DH with it. The private key never leaves. */
  ephemeral(): { publicKey: Uint8Array; dh(peerPublic: Uint8Array): Uint8Array };
  dh(privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array;
  publicKey(privateKey: Uint8Array): Uint8Array;
  /** A random private key in serialized form. */
  randomPrivateKey(): Uint8Array;
  /** Whether `candidate` (Nsk bytes) is a valid private key (NIST: 0 < sk < n). */
  isValidPrivateKey(candidate: Uint8Array): boolean;
}

function invalidKey(what: string, cause?: unknown): MlsError {
  return new MlsError("CRYPTO_INVALID_KEY", what, cause === undefined ? undefined : { cause });
}

/** RFC 9180 §7.1.4, RFC 7748 §6: an all-zero shared secret must be rejected. */
function nonZeroSecret(out: Uint8Array, crv: string): Uint8Array {
  let acc = 0;
  for (let i = 0; i < out.length; i++) acc |= out[i]!;
  if (acc === 0) throw invalidKey(`${crv} shared secret is all zero`);
  return out;
}

// ---- X25519 / X448 (RFC 7748) ----

function okpGroup(crv: "X25519" | "X448", n: number): DhGroup {
  const privateKeys = new ParsedKeyCache<KeyObject>();
  const privateKey = (sk: Uint8Array): KeyObject => {
    if (sk.length !== n) throw invalidKey(`${crv} private key must be ${n} bytes`);
    return privateKeys.get(sk, (raw) => okpPrivateKeyObject(crv, raw, n));
  };
  const agree = (sk: KeyObject, pk: Uint8Array): Uint8Array => {
    if (pk.length !== n) throw invalidKey(`${crv} public key must be ${n} bytes`);
    let out: Uint8Array;
    try {
      out = asBytes(diffieHellman({ privateKey: sk, publicKey: okpPublicKeyObject(crv, pk) }));
    } catch (e) {
      // OpenSSL refuses an all-zero result (low-order peer point) by failing the derivation.
      throw invalidKey(`${crv} key agreement failed`, e);
    }
    return nonZeroSecret(out, crv);
  };
  return {
    npk: n,
    nsk: n,
    bitmask: undefined,
    ephemeral() {
      // Random bytes imported, not generateKeyPairSync: exporting a key from a
      // generated pair can deadlock Node 20 (the export holds the key's mutex
      // while allocating; a GC that frees the finished keygen job waits on the
      // same mutex). It is also cheaper (test/node-keygen-deadlock.test.ts).
      const sk = okpPrivateKeyObject(crv, randomBytes(n), n);
      return { publicKey: okpRawPublicKey(sk), dh: (peer) => agree(sk, peer) };
    },
    dh: (sk, pk) => agree(privateKey(sk), pk),
    publicKey: (sk) => okpRawPublicKey(privateKey(sk)),
    // RFC 7748 §5: every n-byte string is a private key (clamping happens inside the DH).
    randomPrivateKey: () => randomBytes(n),
    isValidPrivateKey: (c) => c.length === n,
  };
}

/**
 * X25519 on libsodium (sodium.ts): raw keys straight in, no KeyObject import
 * per peer key. A DH costs ~34 µs against ~40-45 through node:crypto, a
 * public key from a private one ~14 µs against ~40-60 (each path node and
 * each HPKE ephemeral needs one). RFC 7748 fixes every output, so the two
 * agree byte for byte (tested).
 */
function sodiumX25519(lib: Sodium): DhGroup {
  const n = 32;
  // Public keys are computed into this off-heap array and copied out: a fresh 32-byte array sits on V8's
  // heap, and the addon reading its address first moved it off (an ArrayBuffer allocated, the bytes
  // copied), which cost more than the copy. The key is public: nothing to wipe.
  const pkOut = new Uint8Array(new ArrayBuffer(n));
  const publicKey = (sk: Uint8Array): Uint8Array => {
    if (sk.length !== n) throw invalidKey(`X25519 private key must be ${n} bytes`);
    lib.crypto_scalarmult_base(pkOut, unshared(sk));
    return pkOut.slice();
  };
  const agree = (sk: Uint8Array, pk: Uint8Array): Uint8Array => {
    if (sk.length !== n) throw invalidKey(`X25519 private key must be ${n} bytes`);
    if (pk.length !== n) throw invalidKey(`X25519 public key must be ${n} bytes`);
    const out = new Uint8Array(n);
    try {
      lib.crypto_scalarmult(out, unshared(sk), unshared(pk));
    } catch (e) {
      // libsodium refuses an all-zero result (RFC 7748 §6: a low-order peer point) by failing.
      throw invalidKey("X25519 key agreement failed", e);
    }
    return nonZeroSecret(out, "X25519");
  };
  return {
    npk: n,
    nsk: n,
    bitmask: undefined,
    ephemeral() {
      const sk = randomBytes(n);
      // One DH (RFC 9180 Encap), then the ephemeral private key is wiped.
      return {
        publicKey: publicKey(sk),
        dh(peer) {
          if (!sk.some((b) => b !== 0)) throw new MlsError("INVALID_ARGUMENT", "an ephemeral key is used once");
          try {
            return agree(sk, peer);
          } finally {
            sk.fill(0);
          }
        },
      };
    },
    dh: agree,
    publicKey,
    randomPrivateKey: () => randomBytes(n),
    isValidPrivateKey: (c) => c.length === n,
  };
}

// ---- P-256 / P-384 / P-521 (SEC1) ----

function nistGroup(crv: NistCurve): DhGroup {
  const c = NIST_CURVES[crv];
  const { openssl, n: nsk, pointLength: npk, bitmask } = c;
  const isValidPrivateKey = (sk: Uint8Array): boolean => isValidScalar(c, sk);
  const withPrivate = new ParsedKeyCache<ECDH>();
  const ecdh = (sk: Uint8Array): ECDH => {
    if (!isValidPrivateKey(sk)) throw invalidKey(`${crv} private key out of range`);
    return withPrivate.get(sk, (raw) => {
      const e = createECDH(openssl);
      e.setPrivateKey(raw);
      return e;
    });
  };
  const agree = (e: ECDH, pk: Uint8Array): Uint8Array => {
    // RFC 9180 §7.1.1: uncompressed points only.
    if (pk.length !== npk || pk[0] !== 0x04) throw invalidKey(`${crv} public key must be an uncompressed ${npk}-byte point`);
    try {
      // computeSecret checks that the point is on the curve.
      return padStart(asBytes(e.computeSecret(pk)), nsk);
    } catch (err) {
      throw invalidKey(`${crv} public key is not a valid point`, err);
    }
  };
  return {
    npk,
    nsk,
    bitmask,
    ephemeral() {
      const e = createECDH(openssl);
      const publicKey = asBytes(e.generateKeys());
      return { publicKey, dh: (peer) => agree(e, peer) };
    },
    dh: (sk, pk) => agree(ecdh(sk), pk),
    publicKey: (sk) => asBytes(ecdh(sk).getPublicKey()),
    randomPrivateKey() {
      const e = createECDH(openssl);
      e.generateKeys();
      return padStart(asBytes(e.getPrivateKey()), nsk);
    },
    isValidPrivateKey,
  };
}

export function dhGroup(kem: KemAlgorithm): DhGroup {
  switch (kem) {
    case "DHKEM-X25519":
      return sodium === undefined ? okpGroup("X25519", 32) : sodiumX25519(sodium);
    case "DHKEM-X448":
      return okpGroup("X448", 56);
    case "DHKEM-P256":
      return nistGroup("P-256");
    case "DHKEM-P384":
      return nistGroup("P-384");
    case "DHKEM-P521":
      return nistGroup("P-521");
  }
}
