/**
 * ECDSA signature encodings: MLS uses DER (RFC 9420 §5.1.1, the
 * Ecdsa-Sig-Value of RFC 3279 §2.2.3), WebCrypto uses r || s (IEEE P1363).
 * Parsing is strict DER, as OpenSSL's verification is, so both providers
 * accept exactly the same signatures.
 */

/** Strict DER Ecdsa-Sig-Value -> r || s with n-byte halves; undefined when malformed or out of range. */
export function derToP1363(der: Uint8Array, n: number): Uint8Array | undefined {
  let pos = 0;
  if (der[pos++] !== 0x30) return undefined;
  let len = der[pos++];
  if (len === 0x81) {
    // Long form only when the short form cannot hold the length.
    len = der[pos++];
    if (len === undefined || len < 0x80) return undefined;
  } else if (len === undefined || len >= 0x80) {
    return undefined; // indefinite or longer forms never occur for these sizes
  }
  if (pos + len !== der.length) return undefined;
  const out = new Uint8Array(2 * n);
  for (let k = 0; k < 2; k++) {
    if (der[pos++] !== 0x02) return undefined;
    const l = der[pos++];
    if (l === undefined || l === 0 || l >= 0x80 || pos + l > der.length) return undefined;
    let v = der.subarray(pos, pos + l);
    pos += l;
    if (v[0]! & 0x80) return undefined; // negative
    if (v[0] === 0) {
      // Zero is never a valid r or s; a leading zero is allowed only before a high bit.
      if (v.length === 1 || !(v[1]! & 0x80)) return undefined;
      v = v.subarray(1);
    }
    if (v.length > n) return undefined;
    out.set(v, (k + 1) * n - v.length);
  }
  return pos === der.length ? out : undefined;
}

/** r || s (n-byte halves) -> DER Ecdsa-Sig-Value with minimal INTEGERs. */
export function p1363ToDer(sig: Uint8Array, n: number): Uint8Array {
  const int = (x: Uint8Array): number[] => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    const body = Array.from(x.subarray(i));
    if (body[0]! & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const content = [...int(sig.subarray(0, n)), ...int(sig.subarray(n, 2 * n))];
  const head = content.length < 0x80 ? [0x30, content.length] : [0x30, 0x81, content.length];
  return Uint8Array.from([...head, ...content]);
}
