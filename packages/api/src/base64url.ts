/**
 * base64url without padding (RFC 4648 §5): how every byte string travels in the
 * JSON bodies of the Conclave API. Pure code (no Buffer, no atob) so it runs in
 * browsers too.
 *
 * Decoding is strict: only the URL-safe alphabet, no padding, no whitespace,
 * and the unused low bits of the last character must be zero. Each byte string
 * therefore has exactly one accepted spelling, so two clients can never present
 * "the same" key or hash under different strings.
 */
import { ApiError } from "./errors.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** The JSON Schema / RegExp source every base64url field matches. */
export const BASE64URL_PATTERN = "^[A-Za-z0-9_-]*$";

/** Encodes `bytes` as unpadded base64url (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
  }
  const rest = n - i;
  if (rest === 1) {
    const v = bytes[i]! << 16;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]!;
  } else if (rest === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]!;
  }
  return out;
}

function invalid(what: string, why: string): ApiError {
  return new ApiError("INVALID_BASE64URL", `${what}: ${why}`);
}

/**
 * Decodes unpadded base64url. `what` names the field in the error message.
 * @throws ApiError `INVALID_BASE64URL` (a 400 on the wire) for anything that is not the canonical
 * encoding of some byte string.
 */
export function fromBase64Url(text: string, what = "value"): Uint8Array {
  const len = text.length;
  if (len % 4 === 1) throw invalid(what, "impossible length");
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const d = c < 128 ? DECODE[c]! : -1;
    if (d < 0) throw invalid(what, `character ${JSON.stringify(text[i])} at ${i} is not base64url`);
    acc = (acc << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  // Leftover bits are the padding of the last character: canonical means zero.
  if (acc !== 0) throw invalid(what, "non-canonical trailing bits");
  return out;
}
