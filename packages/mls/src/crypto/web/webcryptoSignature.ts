/**
 * Signatures on the platform's WebCrypto, used by the web provider when the
 * platform supports the algorithm (native code verifies 10-20x faster than
 * pure JS). Inputs arrive already validated by ./signature.ts; this file only
 * converts formats: PKCS#8 for EdDSA seeds (RFC 8410), JWK for ECDSA scalars,
 * DER <-> r || s for ECDSA signatures.
 */
import type { SignatureAlgorithm } from "../cipherSuite.js";
import { derToP1363, p1363ToDer } from "./ecdsaDer.js";
import { ParsedKeyCache } from "./keyCache.js";
import { base64url, buf, subtle } from "./webcrypto.js";

export interface NativeSignature {
  sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False for a bad or unparsable signature. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

// RFC 8410 §7 OneAsymmetricKey prefixes; the seed follows.
const ED25519_PKCS8 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);
const ED448_PKCS8 = Uint8Array.of(0x30, 0x47, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x04, 0x3b, 0x04, 0x39);

function eddsa(name: "Ed25519" | "Ed448", pkcs8Prefix: Uint8Array): NativeSignature {
  const privateKeys = new ParsedKeyCache<Promise<CryptoKey>>();
  const publicKeys = new ParsedKeyCache<Promise<CryptoKey>>();
  return {
    async sign(sk, message) {
      const key = await privateKeys.get(sk, (raw) => {
        const der = new Uint8Array(pkcs8Prefix.length + raw.length);
        der.set(pkcs8Prefix);
        der.set(raw, pkcs8Prefix.length);
        return subtle()
          .importKey("pkcs8", der, { name }, false, ["sign"])
          .finally(() => der.fill(0));
      });
      return new Uint8Array(await subtle().sign({ name }, key, buf(message)));
    },
    async verify(pk, message, signature) {
      try {
        const key = await publicKeys.get(pk, (raw) => subtle().importKey("raw", buf(raw), { name }, false, ["verify"]));
        return await subtle().verify({ name }, key, buf(signature), buf(message));
      } catch {
        // Some platforms refuse a non-point at import: that is a failed verification, as elsewhere.
        return false;
      }
    },
  };
}

function ecdsa(namedCurve: "P-256" | "P-384" | "P-521", hash: "SHA-256" | "SHA-384" | "SHA-512", n: number, publicKeyOf: (sk: Uint8Array) => Uint8Array): NativeSignature {
  const privateKeys = new ParsedKeyCache<Promise<CryptoKey>>();
  const publicKeys = new ParsedKeyCache<Promise<CryptoKey>>();
  const algorithm = { name: "ECDSA", namedCurve };
  return {
    async sign(sk, message) {
      const key = await privateKeys.get(sk, (raw) => {
        // JWK, because PKCS#8 without the public point is not accepted everywhere.
        const pub = publicKeyOf(raw);
        const jwk: JsonWebKey = { kty: "EC", crv: namedCurve, d: base64url(raw), x: base64url(pub.subarray(1, 1 + n)), y: base64url(pub.subarray(1 + n)) };
        return subtle().importKey("jwk", jwk, algorithm, false, ["sign"]);
      });
      return p1363ToDer(new Uint8Array(await subtle().sign({ name: "ECDSA", hash }, key, buf(message))), n);
    },
    async verify(pk, message, signature) {
      const rs = derToP1363(signature, n);
      if (rs === undefined) return false;
      const key = await publicKeys.get(pk, (raw) => subtle().importKey("raw", buf(raw), algorithm, false, ["verify"]));
      return subtle().verify({ name: "ECDSA", hash }, key, buf(rs), buf(message));
    },
  };
}

/** The WebCrypto implementation of `alg`; whether the platform supports it is for the caller to probe. */
export function nativeSignature(alg: SignatureAlgorithm, publicKeyOf: (sk: Uint8Array) => Uint8Array): NativeSignature {
  switch (alg) {
    case "Ed25519":
      return eddsa("Ed25519", ED25519_PKCS8);
    case "Ed448":
      return eddsa("Ed448", ED448_PKCS8);
    case "ECDSA-P256-SHA256":
      return ecdsa("P-256", "SHA-256", 32, publicKeyOf);
    case "ECDSA-P384-SHA384":
      return ecdsa("P-384", "SHA-384", 48, publicKeyOf);
    case "ECDSA-P521-SHA512":
      return ecdsa("P-521", "SHA-512", 66, publicKeyOf);
  }
}
