/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) for MLS signature keys.
 *
 * RFC 9420 §5.3: the subjectPublicKeyInfo of an X.509 credential's end-entity
 * certificate MUST be identical to the LeafNode's signature_key. MLS carries
 * the raw key (RFC 8032 bytes for EdDSA, the uncompressed SEC1 point for
 * ECDSA, §5.1.1); in DER each supported algorithm's SPKI is a fixed prefix
 * (AlgorithmIdentifier, BIT STRING header) followed by exactly those bytes
 * (RFC 8410 for Ed25519/Ed448, RFC 5480 for the NIST curves). So conversion
 * both ways is a prefix check, with no general ASN.1 parsing of untrusted input.
 */
import { fromHex, type SignatureAlgorithm } from "@conclave/mls";

interface SpkiForm {
  readonly prefix: Uint8Array;
  readonly keyLength: number;
  /** ECDSA points must be uncompressed (0x04 || X || Y). */
  readonly uncompressedPoint: boolean;
}

const FORMS: Readonly<Record<SignatureAlgorithm, SpkiForm>> = {
  Ed25519: { prefix: fromHex("302a300506032b6570032100"), keyLength: 32, uncompressedPoint: false },
  Ed448: { prefix: fromHex("3043300506032b6571033a00"), keyLength: 57, uncompressedPoint: false },
  "ECDSA-P256-SHA256": { prefix: fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200"), keyLength: 65, uncompressedPoint: true },
  "ECDSA-P384-SHA384": { prefix: fromHex("3076301006072a8648ce3d020106052b81040022036200"), keyLength: 97, uncompressedPoint: true },
  "ECDSA-P521-SHA512": { prefix: fromHex("30819b301006072a8648ce3d020106052b8104002303818600"), keyLength: 133, uncompressedPoint: true },
};

/** True when `key` has the length and form of a `alg` public key (not a full validity check). */
export function hasSignatureKeyShape(alg: SignatureAlgorithm, key: Uint8Array): boolean {
  const f = FORMS[alg];
  return key.length === f.keyLength && (!f.uncompressedPoint || key[0] === 0x04);
}

/** DER SubjectPublicKeyInfo of a raw MLS signature public key. */
export function spkiFromRawKey(alg: SignatureAlgorithm, key: Uint8Array): Uint8Array {
  if (!hasSignatureKeyShape(alg, key)) throw new RangeError(`not a ${alg} public key`);
  const f = FORMS[alg];
  const out = new Uint8Array(f.prefix.length + key.length);
  out.set(f.prefix, 0);
  out.set(key, f.prefix.length);
  return out;
}

/** The algorithm and raw key of a DER SPKI, or undefined when it is none of the MLS signature algorithms. */
export function rawKeyFromSpki(spki: Uint8Array): { algorithm: SignatureAlgorithm; key: Uint8Array } | undefined {
  for (const [alg, f] of Object.entries(FORMS) as [SignatureAlgorithm, SpkiForm][]) {
    if (spki.length !== f.prefix.length + f.keyLength) continue;
    let match = true;
    for (let i = 0; i < f.prefix.length && match; i++) match = spki[i] === f.prefix[i];
    if (!match) continue;
    const key = spki.slice(f.prefix.length);
    return hasSignatureKeyShape(alg, key) ? { algorithm: alg, key } : undefined;
  }
  return undefined;
}
