/**
 * File-backed store for Node: each record is encrypted with AES-256-GCM under
 * a key derived from a passphrase with scrypt, and written atomically (temp
 * file + rename) so a crash leaves either the old or the new record.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { StoreError, type ClientStore } from "./store.js";

const MAGIC = new TextEncoder().encode("CCS1");
const KEY_RE = /^[A-Za-z0-9._:-]+$/;

/** File-backed, encrypted at rest. One file per key in `dir`. */
export class FileStore implements ClientStore {
  readonly #dir: string;
  readonly #key: Buffer;

  /**
   * Opens the store in `dir` (created, mode 0700, when missing) and derives its key from `passphrase`.
   * A wrong passphrase shows at the first {@link FileStore.get} of a record.
   * @throws StoreError (`STORE_UNREADABLE`) when `dir` holds records but no salt file: a new salt would
   * never decrypt them, so none is made (restore the file from a backup); Error for an empty passphrase,
   * or when `dir` cannot be created or its salt file read.
   */
  constructor(dir: string, passphrase: string) {
    if (passphrase.length === 0) throw new Error("FileStore: empty passphrase");
    this.#dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const saltPath = join(dir, "salt");
    let salt: Buffer;
    if (existsSync(saltPath)) salt = readFileSync(saltPath);
    else if (readdirSync(dir).some((f) => f.endsWith(".rec"))) {
      throw new StoreError(`FileStore: ${saltPath} is missing, so the records in ${dir} cannot be decrypted: restore it from a backup`);
    } else {
      salt = randomBytes(16);
      atomicWrite(saltPath, salt);
    }
    // scrypt N=2^15, r=8: ~32 MiB, slow enough against guessing, fast enough for a CLI start.
    this.#key = scryptSync(passphrase, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  }

  #path(key: string): string {
    if (!KEY_RE.test(key)) throw new Error(`FileStore: bad key ${JSON.stringify(key)}`);
    return join(this.#dir, `${key.replace(/:/g, "~")}.rec`);
  }

  /**
   * The record `key`, decrypted; undefined when there is none.
   * @throws StoreError (`STORE_UNREADABLE`): a file that is not a Conclave record, or does not decrypt (wrong
   * passphrase, corrupted or swapped file); Error for a key with characters outside [A-Za-z0-9._:-].
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    let data: Buffer;
    try {
      data = readFileSync(this.#path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    if (data.length < 4 + 12 + 16 || !data.subarray(0, 4).equals(MAGIC)) throw new StoreError(`FileStore: ${key} is not a Conclave record`);
    const iv = data.subarray(4, 16);
    const tag = data.subarray(data.length - 16);
    const d = createDecipheriv("aes-256-gcm", this.#key, iv);
    d.setAAD(Buffer.from(key)); // binds the record to its name: files cannot be swapped
    d.setAuthTag(tag);
    try {
      return new Uint8Array(Buffer.concat([d.update(data.subarray(16, data.length - 16)), d.final()]));
    } catch {
      throw new StoreError(`FileStore: cannot decrypt ${key} (wrong passphrase or corrupted file)`);
    }
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#key, iv);
    c.setAAD(Buffer.from(key));
    const body = Buffer.concat([c.update(value), c.final()]);
    atomicWrite(this.#path(key), Buffer.concat([MAGIC, iv, body, c.getAuthTag()]));
  }

  async delete(key: string): Promise<void> {
    rmSync(this.#path(key), { force: true });
  }

  async keys(prefix: string): Promise<string[]> {
    return readdirSync(this.#dir)
      .filter((f) => f.endsWith(".rec"))
      .map((f) => f.slice(0, -4).replace(/~/g, ":"))
      .filter((k) => k.startsWith(prefix));
  }
}

function atomicWrite(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}
