/** Access to the platform's WebCrypto (globalThis.crypto), without importing anything from node. */
import { MlsError } from "../../errors.js";

export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new MlsError("UNSUPPORTED_CIPHER_SUITE", "WebCrypto (globalThis.crypto.subtle) is not available");
  return s;
}

/** Fills a fresh array with CSPRNG output (getRandomValues takes at most 65536 bytes per call). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let o = 0; o < length; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(length, o + 65536)));
  return out;
}

/**
 * The DOM typings want ArrayBuffer-backed views; ours may be typed over
 * ArrayBufferLike. WebCrypto copies its inputs, so this is only a type view.
 */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

/** base64url without padding (RFC 7515 §2), for JWK members. */
export function base64url(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
