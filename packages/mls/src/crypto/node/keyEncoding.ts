/**
 * Raw MLS key bytes <-> node:crypto KeyObjects.
 *
 * MLS carries keys raw (RFC 9420 §5.1.1, RFC 9180 §7.1.1). We hand them to
 * OpenSSL as JWK (RFC 8037 for X25519/X448/Ed25519/Ed448, RFC 7518 §6.2 for
 * EC): on Node 20 / OpenSSL 3.0 that import is roughly ten times faster than
 * parsing PKCS#8 or SPKI DER, and it still validates EC points.
 *
 * Caveat: the base64url strings built here hold key bytes and, being JS
 * strings, cannot be wiped; they become garbage immediately.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { NistCurve } from "./curves.js";

export type OkpCurve = "X25519" | "X448" | "Ed25519" | "Ed448";

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
// Copied out: small decoded Buffers are slices of Node's shared 8 KiB pool.
const unb64u = (s: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(s ?? "", "base64url"));

/** RFC 8037 public key; OpenSSL checks only the length here (EdDSA points are checked by verify). */
export function okpPublicKeyObject(crv: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv, x: b64u(raw) }, format: "jwk" });
}

/**
 * RFC 8037 private key. Node insists on an `x` member but builds the key from
 * `d` alone (EVP_PKEY_new_raw_private_key derives the public half), so a
 * placeholder of the right length stands in; the test vectors check that the
 * derived public keys are right.
 */
export function okpPrivateKeyObject(crv: OkpCurve, raw: Uint8Array, publicLength: number): KeyObject {
  return createPrivateKey({ key: { kty: "OKP", crv, d: b64u(raw), x: b64u(new Uint8Array(publicLength)) }, format: "jwk" });
}

/** The raw RFC 8037 public key of an OKP KeyObject (public or private). */
export function okpRawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return unb64u(pub.export({ format: "jwk" }).x);
}

/** Uncompressed SEC1 point (0x04 || X || Y) -> KeyObject; OpenSSL rejects points off the curve. */
export function ecPublicKeyObject(crv: NistCurve, point: Uint8Array, coordinateLength: number): KeyObject {
  return createPublicKey({ key: ecJwk(crv, point, coordinateLength), format: "jwk" });
}

/** EC private key from the scalar and its (already computed) public point. */
export function ecPrivateKeyObject(crv: NistCurve, scalar: Uint8Array, point: Uint8Array, coordinateLength: number): KeyObject {
  return createPrivateKey({ key: { ...ecJwk(crv, point, coordinateLength), d: b64u(scalar) }, format: "jwk" });
}

function ecJwk(crv: NistCurve, point: Uint8Array, n: number): { kty: "EC"; crv: NistCurve; x: string; y: string } {
  return { kty: "EC", crv, x: b64u(point.subarray(1, 1 + n)), y: b64u(point.subarray(1 + n, 1 + 2 * n)) };
}

/** Left-pads a big-endian integer to `length` bytes (OpenSSL drops leading zeros). */
export function padStart(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length === length) return bytes;
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

export { ParsedKeyCache } from "../web/keyCache.js";
