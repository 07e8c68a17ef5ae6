/**
 * AES-GCM in one native call (packages/node-aesgcm, an optional dependency
 * built at install against Node's own OpenSSL) for the node provider.
 *
 * node:crypto makes a Cipher object per call, and an MLS message needs four
 * AEAD calls with four fresh keys (RFC 9420 §6.3.1, §6.3.2): the objects,
 * their five method calls each and the weak handles the collector finalizes
 * were ~25% of the sending and receiving thread's time with messages in
 * flight. The addon computes the same bytes (same OpenSSL); the tests compare
 * it with node:crypto and the provider checks one answer when it loads.
 *
 * Absent (no compiler at install, an install without optional dependencies),
 * failing that check, or with CONCLAVE_NATIVE_AESGCM=0, AES-GCM stays on
 * node:crypto.
 */
import { createCipheriv } from "node:crypto";
import { createRequire } from "node:module";

/** 0: AES-128-GCM, 1: AES-256-GCM. */
export type AesGcmVariant = 0 | 1;

/** The addon's API (packages/node-aesgcm/index.d.cts). Bad arguments throw TypeError; false means OpenSSL failed or the tag did not verify, with `out` zeroed. */
export interface NativeAesGcm {
  seal(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): boolean;
  open(variant: AesGcmVariant, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
}

/** A binary that loads but answers differently from node:crypto, or accepts a forged tag, is not used. */
function agreesWithNodeCrypto(lib: NativeAesGcm): boolean {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 100 + i);
  const aad = Uint8Array.from({ length: 20 }, (_, i) => 200 + i);
  const plaintext = Uint8Array.from({ length: 21 }, (_, i) => 3 * i);
  const c = createCipheriv("aes-128-gcm", key, nonce);
  c.setAAD(aad);
  const expected = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  const sealed = new Uint8Array(plaintext.length + 16);
  if (!lib.seal(0, key, nonce, aad, plaintext, sealed) || !expected.equals(sealed)) return false;
  const opened = new Uint8Array(plaintext.length);
  if (!lib.open(0, key, nonce, aad, sealed, opened) || !opened.every((b, i) => b === plaintext[i])) return false;
  sealed[sealed.length - 1]! ^= 1;
  return !lib.open(0, key, nonce, aad, sealed, opened) && opened.every((b) => b === 0);
}

function load(): NativeAesGcm | undefined {
  if (process.env.CONCLAVE_NATIVE_AESGCM === "0") return undefined;
  try {
    const lib = createRequire(import.meta.url)("@conclave/node-aesgcm") as NativeAesGcm;
    return agreesWithNodeCrypto(lib) ? lib : undefined;
  } catch {
    return undefined;
  }
}

/** The addon, or undefined when AES-GCM runs on node:crypto's Cipher objects. */
export const nativeAesGcm: NativeAesGcm | undefined = load();
