/**
 * Signature schemes of RFC 9420 §5.1.1 for browsers on @noble/curves:
 * Ed25519 / Ed448 (RFC 8032, strict: no ZIP-215 leniency, like OpenSSL) and
 * ECDSA over P-256 / P-384 / P-521 with the suite hash and DER signatures.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { ed448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import type { KeyPair, SignatureAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";

export interface WebSignature {
  sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False for a bad (or malformed) signature; MlsError CRYPTO_INVALID_KEY for a malformed public key. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  generateKeyPair(): KeyPair;
  publicKey(privateKey: Uint8Array): Uint8Array;
}

function invalidKey(what: string, cause?: unknown): MlsError {
  return new MlsError("CRYPTO_INVALID_KEY", what, cause === undefined ? undefined : { cause });
}

function eddsa(name: string, curve: typeof ed25519 | typeof ed448, keyLength: number, signatureLength: number): WebSignature {
  const checkSk = (sk: Uint8Array): void => {
    if (sk.length !== keyLength) throw invalidKey(`${name} private key must be ${keyLength} bytes`);
  };
  return {
    sign(sk, message) {
      checkSk(sk);
      return curve.sign(message, sk);
    },
    verify(pk, message, signature) {
      // As in the node provider: only the length makes a key malformed; a non-point fails verification.
      if (pk.length !== keyLength) throw invalidKey(`${name} public key must be ${keyLength} bytes`);
      if (signature.length !== signatureLength) return false;
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
    publicKey(sk) {
      checkSk(sk);
      return curve.getPublicKey(sk);
    },
  };
}

function ecdsa(name: string, curve: typeof p256, n: number): WebSignature {
  const pointLength = 1 + 2 * n;
  const checkSk = (sk: Uint8Array): void => {
    if (sk.length !== n || !curve.utils.isValidSecretKey(sk)) throw invalidKey(`${name} private key must be a ${n}-byte scalar in [1, n-1]`);
  };
  return {
    // prehash: the curve's own hash (SHA-256/384/512), which is the suite's; format: DER (RFC 9420 §5.1.1).
    sign(sk, message) {
      checkSk(sk);
      return curve.sign(message, sk, { prehash: true, format: "der" });
    },
    verify(pk, message, signature) {
      if (pk.length !== pointLength || pk[0] !== 0x04) throw invalidKey(`${name} public key must be an uncompressed ${pointLength}-byte point`);
      try {
        curve.Point.fromBytes(pk).assertValidity();
      } catch (e) {
        throw invalidKey(`${name} public key is not a point on the curve`, e);
      }
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
    publicKey(sk) {
      checkSk(sk);
      return curve.getPublicKey(sk, false);
    },
  };
}

export function webSignature(alg: SignatureAlgorithm): WebSignature {
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
