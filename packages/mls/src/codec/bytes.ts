/** Byte helpers shared by every layer. */

/** The two ASCII codes of each byte's lowercase hex digits. */
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = h.charCodeAt(0);
  HEX_CODES[2 * i + 1] = h.charCodeAt(1);
}
const asciiDecoder = new TextDecoder();

/**
 * Lowercase hex. Decoded from ASCII codes in one go rather than concatenated
 * digit by digit: a concatenated string stays a rope of one V8 node per digit
 * pair (~2 KB for a 32-byte key), and key indexes keep thousands of them.
 */
export function toHex(bytes: Uint8Array): string {
  const out = new Uint8Array(2 * bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const x = 2 * bytes[i]!;
    out[2 * i] = HEX_CODES[x]!;
    out[2 * i + 1] = HEX_CODES[x + 1]!;
  }
  return asciiDecoder.decode(out);
}

/**
 * Bytes from a hex string (either case).
 * @throws TypeError for an odd length or a non-hex character.
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError("invalid hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

/** One new array holding `parts` in order. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Equality that takes the same time whatever the contents (for secrets, MACs, tags). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Plain equality for public values (ids, hashes used as identifiers). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Overwrites a secret in place; callers drop the reference afterwards. */
export function zeroize(bytes: Uint8Array | undefined): void {
  bytes?.fill(0);
}

/** UTF-8 encoding of `s`. */
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
