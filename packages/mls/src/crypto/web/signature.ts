/**
 * Signature schemes of RFC 9420 §5.1.1 for browsers: Ed25519 / Ed448
 * (RFC 8032, pure, empty context) and ECDSA over P-256 / P-384 / P-521 with
 * the suite hash and DER signatures.
 *
 * Validation happens here, once, so every backend answers alike; signing and
 * verifying then go to WebCrypto when a one-time probe shows the platform
 * does the algorithm correctly, else to @noble/curves (strict RFC 8032, no
 * ZIP-215 leniency, like OpenSSL).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import type { KeyPair, SignatureAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { nativeSignature } from "./webcryptoSignature.js";
import type { NativeSignature } from "./webcryptoSignature.js";

export interface WebSignature {
  sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False for a bad (or malformed) signature; MlsError CRYPTO_INVALID_KEY for a malformed public key. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  generateKeyPair(): KeyPair;
  publicKey(privateKey: Uint8Array): Uint8Array;
}

/** A scheme on @noble/curves, with the input checks shared by both backends. */
interface NobleScheme {
  /** Throws CRYPTO_INVALID_KEY. */
  checkPrivateKey(sk: Uint8Array): void;
  /** Throws CRYPTO_INVALID_KEY. */
  checkPublicKey(pk: Uint8Array): void;
  /** A signature that is certainly invalid without looking further (wrong fixed length). */
  malformed(signature: Uint8Array): boolean;
  sign(sk: Uint8Array, message: Uint8Array): Uint8Array;
  verify(pk: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  generateKeyPair(): KeyPair;
  publicKey(sk: Uint8Array): Uint8Array;
}

function invalidKey(what: string, cause?: unknown): MlsError {
  return new MlsError("CRYPTO_INVALID_KEY", what, cause === undefined ? undefined : { cause });
}

function eddsa(name: string, curve: typeof ed25519 | typeof ed448, keyLength: number, signatureLength: number): NobleScheme {
  return {
    checkPrivateKey(sk) {
      if (sk.length !== keyLength) throw invalidKey(`${name} private key must be ${keyLength} bytes`);
    },
    checkPublicKey(pk) {
      // As in the node provider: only the length makes a key malformed; a non-point fails verification.
      if (pk.length !== keyLength) throw invalidKey(`${name} public key must be ${keyLength} bytes`);
    },
    malformed: (sig) => sig.length !== signatureLength,
    sign: (sk, message) => curve.sign(message, sk),
    verify(pk, message, signature) {
      try {
        return curve.verify(signature, message, pk, { zip215: false });
      } catch {
        return false;
      }
    },
    generateKeyPair() {
      const sk = curve.utils.randomSecretKey();
      return { privateKey: sk, publicKey: curve.getPublicKey(sk) };
    },
    publicKey: (sk) => curve.getPublicKey(sk),
  };
}

function ecdsa(name: string, curve: typeof p256, n: number): NobleScheme {
  const pointLength = 1 + 2 * n;
  return {
    checkPrivateKey(sk) {
      if (sk.length !== n || !curve.utils.isValidSecretKey(sk)) throw invalidKey(`${name} private key must be a ${n}-byte scalar in [1, n-1]`);
    },
    checkPublicKey(pk) {
      if (pk.length !== pointLength || pk[0] !== 0x04) throw invalidKey(`${name} public key must be an uncompressed ${pointLength}-byte point`);
      try {
        curve.Point.fromBytes(pk).assertValidity();
      } catch (e) {
        throw invalidKey(`${name} public key is not a point on the curve`, e);
      }
    },
    malformed: (sig) => sig.length < 8,
    // prehash: the curve's own hash (SHA-256/384/512), which is the suite's; DER per RFC 9420 §5.1.1.
    sign: (sk, message) => curve.sign(message, sk, { prehash: true, format: "der" }),
    verify(pk, message, signature) {
      try {
        // lowS: false because OpenSSL and others emit high-S signatures, which are valid ECDSA.
        return curve.verify(signature, message, pk, { prehash: true, format: "der", lowS: false });
      } catch {
        return false;
      }
    },
    generateKeyPair() {
      const sk = curve.utils.randomSecretKey();
      return { privateKey: sk, publicKey: curve.getPublicKey(sk, false) };
    },
    publicKey: (sk) => curve.getPublicKey(sk, false),
  };
}

function noble(alg: SignatureAlgorithm): NobleScheme {
  switch (alg) {
    case "Ed25519":
      return eddsa(alg, ed25519, 32, 64);
    case "Ed448":
      return eddsa(alg, ed448, 57, 114);
    case "ECDSA-P256-SHA256":
      return ecdsa(alg, p256, 32);
    case "ECDSA-P384-SHA384":
      return ecdsa(alg, p384, 48);
    case "ECDSA-P521-SHA512":
      return ecdsa(alg, p521, 66);
  }
}

/** Whether WebCrypto signs and verifies `alg` interoperably with @noble here. */
async function probe(n: NobleScheme, w: NativeSignature): Promise<boolean> {
  try {
    const kp = n.generateKeyPair();
    const msg = Uint8Array.of(0x4d, 0x4c, 0x53);
    const ours = await w.sign(kp.privateKey, msg);
    return n.verify(kp.publicKey, msg, ours) && (await w.verify(kp.publicKey, msg, n.sign(kp.privateKey, msg))) && !(await w.verify(kp.publicKey, Uint8Array.of(0), ours));
  } catch {
    return false;
  }
}

export interface WebSignatureOptions {
  /** Use WebCrypto when the platform supports the algorithm (default true). */
  readonly native?: boolean;
}

export function webSignature(alg: SignatureAlgorithm, options: WebSignatureOptions = {}): WebSignature {
  const n = noble(alg);
  const w = nativeSignature(alg, n.publicKey);
  let useNative: Promise<boolean> | undefined = options.native === false ? Promise.resolve(false) : undefined;
  const native = (): Promise<boolean> => (useNative ??= probe(n, w));
  return {
    async sign(sk, message) {
      n.checkPrivateKey(sk);
      return (await native()) ? w.sign(sk, message) : n.sign(sk, message);
    },
    async verify(pk, message, signature) {
      n.checkPublicKey(pk);
      if (n.malformed(signature)) return false;
      return (await native()) ? w.verify(pk, message, signature) : n.verify(pk, message, signature);
    },
    generateKeyPair: () => n.generateKeyPair(),
    publicKey(sk) {
      n.checkPrivateKey(sk);
      return n.publicKey(sk);
    },
  };
}
