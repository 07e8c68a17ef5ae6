/** NIST curve constants shared by ECDH (RFC 9180 §7.1) and ECDSA (RFC 9420 §5.1.1). */

export type NistCurve = "P-256" | "P-384" | "P-521";

export interface NistCurveInfo {
  /** OpenSSL's curve name for createECDH. */
  readonly openssl: string;
  /** Scalar / coordinate length in bytes. */
  readonly n: number;
  /** Uncompressed point length, 1 + 2n. */
  readonly pointLength: number;
  /** RFC 9180 §7.1.3 DeriveKeyPair bitmask. */
  readonly bitmask: number;
  /** The group order, big-endian, n bytes (SEC 2). */
  readonly order: Uint8Array;
}

function info(openssl: string, n: number, bitmask: number, orderHex: string): NistCurveInfo {
  return { openssl, n, pointLength: 1 + 2 * n, bitmask, order: Uint8Array.from(Buffer.from(orderHex, "hex")) };
}

export const NIST_CURVES: Readonly<Record<NistCurve, NistCurveInfo>> = {
  "P-256": info("prime256v1", 32, 0xff, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
  "P-384": info("secp384r1", 48, 0xff, "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"),
  "P-521": info("secp521r1", 66, 0x01, "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"),
};

/** A private scalar is valid when it is n bytes and 0 < sk < order. */
export function isValidScalar(c: NistCurveInfo, sk: Uint8Array): boolean {
  if (sk.length !== c.n) return false;
  let acc = 0;
  for (let i = 0; i < sk.length; i++) acc |= sk[i]!;
  return acc !== 0 && lessThan(sk, c.order);
}

/** True when the big-endian `a` (same length as `b`) is strictly below `b`. Constant time. */
export function lessThan(a: Uint8Array, b: Uint8Array): boolean {
  let lt = 0;
  let gt = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    // Only the first differing byte decides; later ones are masked out.
    const undecided = 1 ^ (lt | gt);
    lt |= undecided & ((x - y) >>> 31);
    gt |= undecided & ((y - x) >>> 31);
  }
  return lt === 1;
}
