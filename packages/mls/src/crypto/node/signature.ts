/**
 * Signature schemes of RFC 9420 §5.1.1 on node:crypto: Ed25519 / Ed448
 * (RFC 8032, pure, empty context) and ECDSA with DER-encoded signatures over
 * P-256 / SHA-256, P-384 / SHA-384, P-521 / SHA-512. Ed25519 runs on
 * libsodium instead where it is installed (sodium.ts).
 *
 * Parsed keys are cached per key array: signing keys are reused for every
 * message, and verifying a member's key again should not re-import it.
 */
import { createECDH } from "node:crypto";
import { randomBytes } from "./random.js";
import type { KeyObject } from "node:crypto";
import type { KeyPair, SignatureAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { isValidScalar, NIST_CURVES } from "./curves.js";
import type { NistCurve } from "./curves.js";
import { asBytes } from "./kdf.js";
import { runInline, signJob, verifyJob, verifyNow, type SignatureJob } from "./signatureJob.js";
import { sodium, SODIUM_ED25519, type Sodium } from "./sodium.js";
import { ecPrivateKeyObject, ecPublicKeyObject, okpPrivateKeyObject, okpPublicKeyObject, okpRawPublicKey, padStart, ParsedKeyCache } from "./keyEncoding.js";

export interface NodeSignature {
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False for a bad (or malformed) signature; MlsError CRYPTO_INVALID_KEY for a malformed public key. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** The checks of `sign` done before OpenSSL signs (the key parsed): the work to do. */
  prepareSign(privateKey: Uint8Array, message: Uint8Array): SignatureJob;
  /** The checks of `verify` that need no OpenSSL verification: the work to do, or the answer already (false). */
  prepareVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): SignatureJob | boolean;
  generateKeyPair(): KeyPair;
  publicKey(privateKey: Uint8Array): Uint8Array;
}

function invalidKey(what: string, cause?: unknown): MlsError {
  return new MlsError("CRYPTO_INVALID_KEY", what, cause === undefined ? undefined : { cause });
}

/** A scheme's synchronous sign and verify: its prepared work, run on this thread. */
function withInline(s: Omit<NodeSignature, "sign" | "verify">): NodeSignature {
  return {
    ...s,
    sign: (sk, message) => runInline(s.prepareSign(sk, message)) as Uint8Array,
    verify: (pk, message, signature) => verifyNow(s.prepareVerify(pk, message, signature)),
  };
}

function eddsa(crv: "Ed25519" | "Ed448", keyLength: number, signatureLength: number): NodeSignature {
  const privateKeys = new ParsedKeyCache<KeyObject>();
  const publicKeys = new ParsedKeyCache<KeyObject>();
  const privateKey = (sk: Uint8Array): KeyObject => {
    if (sk.length !== keyLength) throw invalidKey(`${crv} private key must be ${keyLength} bytes`);
    return privateKeys.get(sk, (raw) => okpPrivateKeyObject(crv, raw, keyLength));
  };
  const publicKey = (sk: Uint8Array): Uint8Array => okpRawPublicKey(privateKey(sk));
  return withInline({
    prepareSign: (sk, message) => signJob(null, privateKey(sk), message),
    prepareVerify(pk, message, signature) {
      // A 32/57-byte string that is not a curve point parses here and fails in verify (false), as RFC 8032 §5.1.7 reads.
      if (pk.length !== keyLength) throw invalidKey(`${crv} public key must be ${keyLength} bytes`);
      const key = publicKeys.get(pk, (raw) => okpPublicKeyObject(crv, raw));
      if (signature.length !== signatureLength) return false;
      return verifyJob(null, key, message, signature);
    },
    generateKeyPair() {
      // RFC 8032 §5.1.5: the private key is 32 (57) random bytes.
      const sk = randomBytes(keyLength);
      return { privateKey: sk, publicKey: publicKey(sk) };
    },
    publicKey,
  });
}

/**
 * Ed25519 on libsodium (sodium.ts): the same keys, signatures and answers as
 * on node:crypto (bar the adversarial keys sodium.ts names). Expanded secret
 * keys are the provider's own copies, which the worker is given once each. A
 * public key needs no parsing: its bytes are used as given (copied to the
 * worker with the message, as the message is), with no cache to look up.
 */
function sodiumEd25519(lib: Sodium): NodeSignature {
  const secretKeys = new ParsedKeyCache<{ secretKey: Uint8Array; publicKey: Uint8Array }>();
  const expand = (seed: Uint8Array): { secretKey: Uint8Array; publicKey: Uint8Array } => {
    if (seed.length !== 32) throw invalidKey("Ed25519 private key must be 32 bytes");
    return secretKeys.get(seed, (raw) => {
      // RFC 8032 §5.1.5: libsodium's secret key is the seed followed by the public key.
      const secretKey = new Uint8Array(64);
      const publicKey = new Uint8Array(32);
      lib.crypto_sign_seed_keypair(publicKey, secretKey, raw);
      return { secretKey, publicKey };
    });
  };
  return withInline({
    prepareSign: (sk, message) => signJob(SODIUM_ED25519, expand(sk).secretKey, message),
    prepareVerify(pk, message, signature) {
      // As on node:crypto: a 32-byte string that is not a curve point fails in verify (false).
      if (pk.length !== 32) throw invalidKey("Ed25519 public key must be 32 bytes");
      if (signature.length !== 64) return false;
      return verifyJob(SODIUM_ED25519, pk, message, signature);
    },
    generateKeyPair() {
      const sk = randomBytes(32);
      return { privateKey: sk, publicKey: expand(sk).publicKey.slice() };
    },
    publicKey: (sk) => expand(sk).publicKey.slice(),
  });
}

function ecdsa(crv: NistCurve, hash: "sha256" | "sha384" | "sha512"): NodeSignature {
  const c = NIST_CURVES[crv];
  const privateKeys = new ParsedKeyCache<{ key: KeyObject; publicKey: Uint8Array }>();
  const publicKeys = new ParsedKeyCache<KeyObject>();
  const privateKey = (sk: Uint8Array): { key: KeyObject; publicKey: Uint8Array } => {
    if (!isValidScalar(c, sk)) throw invalidKey(`${crv} private key must be a ${c.n}-byte scalar in [1, n-1]`);
    return privateKeys.get(sk, (raw) => {
      const e = createECDH(c.openssl);
      e.setPrivateKey(raw);
      const publicKey = asBytes(e.getPublicKey());
      return { key: ecPrivateKeyObject(crv, raw, publicKey, c.n), publicKey };
    });
  };
  const parsePublic = (pk: Uint8Array): KeyObject => {
    if (pk.length !== c.pointLength || pk[0] !== 0x04) throw invalidKey(`${crv} public key must be an uncompressed ${c.pointLength}-byte point`);
    try {
      return ecPublicKeyObject(crv, pk, c.n);
    } catch (e) {
      throw invalidKey(`${crv} public key is not a point on the curve`, e);
    }
  };
  return withInline({
    // RFC 9420 §5.1.1: ECDSA signatures are DER-encoded (RFC 3279 Ecdsa-Sig-Value).
    prepareSign: (sk, message) => signJob(hash, { key: privateKey(sk).key, dsaEncoding: "der" }, message),
    prepareVerify(pk, message, signature) {
      return verifyJob(hash, { key: publicKeys.get(pk, parsePublic), dsaEncoding: "der" }, message, signature);
    },
    generateKeyPair() {
      const e = createECDH(c.openssl);
      const publicKey = asBytes(e.generateKeys());
      return { privateKey: padStart(asBytes(e.getPrivateKey()), c.n), publicKey };
    },
    publicKey: (sk) => privateKey(sk).publicKey.slice(),
  });
}

export function nodeSignature(alg: SignatureAlgorithm): NodeSignature {
  switch (alg) {
    case "Ed25519":
      return sodium === undefined ? eddsa("Ed25519", 32, 64) : sodiumEd25519(sodium);
    case "Ed448":
      return eddsa("Ed448", 57, 114);
    case "ECDSA-P256-SHA256":
      return ecdsa("P-256", "sha256");
    case "ECDSA-P384-SHA384":
      return ecdsa("P-384", "sha384");
    case "ECDSA-P521-SHA512":
      return ecdsa("P-521", "sha512");
  }
}
