/**
 * Where a server process gets its key-encryption key (as/keyWrap.ts): a key
 * file (32 raw bytes, created with mode 0600 when asked to and absent) or an
 * environment variable holding the key in base64url.
 */
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { KEK_LENGTH, KeyWrapError } from "./as/keyWrap.js";

/** 32 bytes from base64url text (CONCLAVE_KEK). @throws KeyWrapError when `text` is not 32 bytes in unpadded base64url. */
export function parseKeyEncryptionKey(text: string): Uint8Array {
  const trimmed = text.trim();
  const b = Buffer.from(trimmed, "base64url");
  if (b.length !== KEK_LENGTH || b.toString("base64url") !== trimmed) {
    throw new KeyWrapError(`the key-encryption key must be ${KEK_LENGTH} bytes in unpadded base64url`);
  }
  return new Uint8Array(b);
}

/**
 * The key in `path`. With `create`, a missing file is made with a fresh
 * random key, readable by its owner only. The key is written to a temporary
 * file first and linked into place, so two processes starting together never
 * see a half-written key and cannot end up with different ones.
 * @throws KeyWrapError when the file cannot be read or holds neither 32 raw bytes nor 32 bytes in base64url;
 * the file system's error when `create` cannot write next to `path`.
 */
export function keyEncryptionKeyFromFile(path: string, create: boolean): Uint8Array {
  if (create) {
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    writeFileSync(tmp, randomBytes(KEK_LENGTH), { mode: 0o600, flag: "wx" });
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new KeyWrapError(`cannot read the key file ${path}: ${(e as Error).message}`);
  }
  if (raw.length === KEK_LENGTH) return new Uint8Array(raw);
  return parseKeyEncryptionKey(raw.toString("utf8"));
}
