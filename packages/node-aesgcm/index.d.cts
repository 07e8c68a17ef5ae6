/** 0: AES-128-GCM (16-byte key), 1: AES-256-GCM (32-byte key). Nonce 12 bytes, tag 16 bytes. */
export type AesGcmVariant = 0 | 1;
/** Writes ciphertext || tag into `out` (plaintext.length + 16 bytes). False if OpenSSL failed (out zeroed). Throws TypeError on bad arguments. */
export function seal(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): boolean;
/** Writes the plaintext into `out` (ciphertext.length - 16 bytes). False if the tag does not verify (out zeroed). Throws TypeError on bad arguments. */
export function open(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
