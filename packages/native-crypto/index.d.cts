/** 0: AES-128-GCM (16-byte key), 1: AES-256-GCM (32-byte key). Nonce 12 bytes, tag 16 bytes. */
export type AesGcmVariant = 0 | 1;
/** Writes ciphertext || tag into `out` (plaintext.length + 16 bytes). False if OpenSSL failed (out zeroed). Throws TypeError on bad arguments. */
export function aesGcmSeal(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): boolean;
/** Writes the plaintext into `out` (ciphertext.length - 16 bytes). False if the tag does not verify (out zeroed). Throws TypeError on bad arguments. */
export function aesGcmOpen(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
/** Length of a prepared HMAC-SHA-256 state. */
export const hmacSha256StateSize: number;
/** Fills `state` (hmacSha256StateSize bytes) with HMAC-SHA-256's key states for `key`. */
export function hmacSha256Prepare(key: Uint8Array, state: Uint8Array): void;
/** out = HKDF-Expand(PRK prepared in `state`, info = a || b || c, out.length); throws TypeError for a wiped state. */
export function hkdfSha256Expand(state: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, out: Uint8Array): void;
/** out = the first out.length (<= 32) bytes of HMAC-SHA-256(key, a || b || c || d); throws TypeError for a longer or overlapping out. */
export function hmacSha256(key: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, d: Uint8Array, out: Uint8Array): void;
/** out (32 bytes) = SHA-256(data). */
export function sha256(data: Uint8Array, out: Uint8Array): void;
