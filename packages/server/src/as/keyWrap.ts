/**
 * The AS's private keys at rest (RFC 9750 §8.4.3: the AS signing keys are the
 * most sensitive secrets of the deployment). With a key-encryption key (KEK)
 * configured, a private key is stored sealed with AES-256-GCM, its name and
 * algorithm bound as associated data so a sealed key cannot be moved to
 * another row. The KEK lives outside the database (an environment variable or
 * a key file), so a copy of the database or a backup alone reveals nothing.
 *
 *   sealed = "CKW1" || nonce (12) || ciphertext || tag (16)
 *
 * A database written without a KEK holds plain keys; starting with a KEK
 * seals them in place. Starting without the KEK a database that has sealed
 * keys fails with a clear message instead of minting new keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const MAGIC = Buffer.from("CKW1", "ascii");
const NONCE = 12;
const TAG = 16;
export const KEK_LENGTH = 32;

/** Misconfiguration of the key-encryption key: the server refuses to start. */
export class KeyWrapError extends Error {
  /** Always "KeyWrapError" (entry points match it to print one line). */
  override readonly name = "KeyWrapError";
}

export function isSealed(stored: Uint8Array): boolean {
  return stored.length >= MAGIC.length + NONCE + TAG && Buffer.from(stored.buffer, stored.byteOffset, MAGIC.length).equals(MAGIC);
}

function aad(name: string, algorithm: string): Buffer {
  return Buffer.from(`conclave server key\0${name}\0${algorithm}`, "utf8");
}

function checkKek(kek: Uint8Array): void {
  if (kek.length !== KEK_LENGTH) throw new KeyWrapError(`the key-encryption key must be ${KEK_LENGTH} bytes, got ${kek.length}`);
}

export function sealPrivateKey(kek: Uint8Array, name: string, algorithm: string, privateKey: Uint8Array): Uint8Array {
  checkKek(kek);
  const nonce = randomBytes(NONCE);
  const c = createCipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG });
  c.setAAD(aad(name, algorithm));
  const body = Buffer.concat([c.update(privateKey), c.final(), c.getAuthTag()]);
  return new Uint8Array(Buffer.concat([MAGIC, nonce, body]));
}

export function openPrivateKey(kek: Uint8Array | undefined, name: string, algorithm: string, stored: Uint8Array): Uint8Array {
  if (!isSealed(stored)) return stored;
  if (kek === undefined) throw new KeyWrapError(`server key ${name} is encrypted at rest: start the server with its key-encryption key (CONCLAVE_KEY_FILE or CONCLAVE_KEK)`);
  checkKek(kek);
  const nonce = stored.subarray(MAGIC.length, MAGIC.length + NONCE);
  const body = stored.subarray(MAGIC.length + NONCE);
  const d = createDecipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG });
  d.setAAD(aad(name, algorithm));
  d.setAuthTag(body.subarray(body.length - TAG));
  const plain = d.update(body.subarray(0, body.length - TAG));
  try {
    d.final();
  } catch {
    plain.fill(0);
    throw new KeyWrapError(`server key ${name} does not open with this key-encryption key (wrong key, or the row was tampered with)`);
  }
  return new Uint8Array(plain);
}
