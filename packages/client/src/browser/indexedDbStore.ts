/**
 * ClientStore on IndexedDB for browsers: the same guarantees as the Node file
 * store (fileStore.ts). Every record is sealed with AES-256-GCM under a key
 * derived from the user's passphrase in WebCrypto (PBKDF2-SHA-256, then HKDF
 * to the record key), with the record's name as associated data so records
 * cannot be swapped. Each write is one IndexedDB transaction with strict
 * durability, resolved only once committed: a crash or a closed tab leaves the
 * old or the new value of every record of a batch, never a mix, so the
 * Client's rule "state written before the queue is acknowledged" holds here
 * as on Node. The data survives reloads (it is the origin's IndexedDB).
 */
import { StoreError, type ClientStore } from "../store.js";

const RECORDS = "records";
const META = "meta";
const KDF = "kdf";
const CHECK = "check";
const MAGIC = new TextEncoder().encode("CCS1");
const CHECK_PLAINTEXT = new TextEncoder().encode("conclave store check v1");
const HKDF_INFO = new TextEncoder().encode("conclave client store v1 record key");
const KEY_RE = /^[A-Za-z0-9._:-]+$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256 (about a quarter second in a current browser). */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

interface KdfRecord {
  readonly salt: Uint8Array;
  readonly iterations: number;
}

/**
 * An IndexedDB factory (a DOM `IDBFactory`: `globalThis.indexedDB`, or
 * fake-indexeddb's on Node), typed by the two methods the store calls so that
 * the declarations, which the Node entry exports too, need no DOM lib.
 */
export interface IndexedDbFactory {
  open(name: string, version?: number): unknown;
  deleteDatabase(name: string): unknown;
}

/** Options of {@link IndexedDbStore.open}. */
export interface IndexedDbStoreOptions {
  /** PBKDF2 iterations for a new store (an existing store keeps the count it was created with). */
  readonly iterations?: number;
  /** The IndexedDB factory (default globalThis.indexedDB; tests pass fake-indexeddb's). */
  readonly indexedDB?: IndexedDbFactory;
}

/** One write of a batch: a value, or null to delete the record. */
export type StoreWrite = readonly [key: string, value: Uint8Array | null];

/**
 * A {@link ClientStore} in IndexedDB (browsers), each record sealed with
 * AES-256-GCM under a key derived from a passphrase (PBKDF2-HMAC-SHA-256).
 * Reads of a record that is not one, or that does not decrypt, throw
 * {@link StoreError} (`code` STORE_UNREADABLE).
 */
export class IndexedDbStore implements ClientStore {
  private constructor(
    private readonly db: IDBDatabase,
    private readonly key: CryptoKey,
  ) {}

  /**
   * Opens (or creates) the store `name` of this origin with `passphrase`.
   * @throws StoreError (`STORE_UNREADABLE`): a wrong passphrase, or a database that is not a Conclave store;
   * Error for an empty passphrase or when IndexedDB is not available.
   */
  static async open(name: string, passphrase: string, opts: IndexedDbStoreOptions = {}): Promise<IndexedDbStore> {
    if (passphrase.length === 0) throw new Error("IndexedDbStore: empty passphrase");
    const db = await openDatabase(idb(opts.indexedDB), `conclave:${name}`);
    try {
      const kdf = await kdfRecord(db, opts.iterations ?? DEFAULT_PBKDF2_ITERATIONS);
      const store = new IndexedDbStore(db, await deriveRecordKey(passphrase, kdf));
      await store.#checkPassphrase();
      return store;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Deletes the store `name` and all its records (a device's "sign out and forget"). */
  static async destroy(name: string, factory?: IndexedDbFactory): Promise<void> {
    await request(idb(factory).deleteDatabase(`conclave:${name}`));
  }

  /** The check record proves the passphrase before anything else is read or written. */
  async #checkPassphrase(): Promise<void> {
    const sealed = await request<Uint8Array | undefined>(this.db.transaction(META).objectStore(META).get(CHECK));
    if (sealed === undefined) {
      await writeMeta(this.db, "put", CHECK, await this.#seal(CHECK, CHECK_PLAINTEXT));
      return;
    }
    await this.#open(CHECK, sealed); // throws StoreError on a wrong passphrase
  }

  /**
   * The record `key`, decrypted; undefined when there is none.
   * @throws StoreError (`STORE_UNREADABLE`) for a record that is not one or does not decrypt; Error for a bad key.
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    const sealed = await request<unknown>(this.db.transaction(RECORDS).objectStore(RECORDS).get(key));
    if (sealed === undefined) return undefined;
    if (!(sealed instanceof Uint8Array)) throw new StoreError(`IndexedDbStore: ${key} is not a Conclave record`);
    return this.#open(key, sealed);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.putMany([[key, value]]);
  }

  delete(key: string): Promise<void> {
    return this.putMany([[key, null]]);
  }

  /**
   * Writes (and deletes) several records in ONE transaction: all of them land, or none.
   * @throws Error for a key with characters outside [A-Za-z0-9._:-] (before anything is written), or IndexedDB's error.
   */
  async putMany(writes: readonly StoreWrite[]): Promise<void> {
    for (const [key] of writes) checkKey(key);
    // Sealed first: an IndexedDB transaction commits itself once its task awaits anything but IndexedDB.
    const sealed = await Promise.all(writes.map(async ([key, value]) => [key, value === null ? null : await this.#seal(key, value)] as const));
    const tx = this.db.transaction(RECORDS, "readwrite", { durability: "strict" });
    const done = committed(tx);
    try {
      const s = tx.objectStore(RECORDS);
      for (const [key, value] of sealed) {
        if (value === null) s.delete(key);
        else s.put(value, key);
      }
    } catch (e) {
      // A request that throws leaves the others queued: abort, or they would commit without it.
      tx.abort();
      await done.catch(() => undefined);
      throw e;
    }
    await done;
  }

  async keys(prefix: string): Promise<string[]> {
    const all = await request<IDBValidKey[]>(this.db.transaction(RECORDS).objectStore(RECORDS).getAllKeys());
    return all.filter((k): k is string => typeof k === "string" && k.startsWith(prefix));
  }

  /** Closes the database connection (a later call on this store fails). */
  close(): void {
    this.db.close();
  }

  async #seal(name: string, plaintext: Uint8Array): Promise<Uint8Array> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(name) }, this.key, plaintext as Uint8Array<ArrayBuffer>));
    const out = new Uint8Array(MAGIC.length + IV_BYTES + ct.length);
    out.set(MAGIC, 0);
    out.set(iv, MAGIC.length);
    out.set(ct, MAGIC.length + IV_BYTES);
    return out;
  }

  async #open(name: string, sealed: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < MAGIC.length + IV_BYTES + TAG_BYTES || !MAGIC.every((b, i) => sealed[i] === b)) {
      throw new StoreError(`IndexedDbStore: ${name} is not a Conclave record`);
    }
    const iv = sealed.slice(MAGIC.length, MAGIC.length + IV_BYTES);
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad(name) }, this.key, sealed.slice(MAGIC.length + IV_BYTES)));
    } catch {
      throw new StoreError(`IndexedDbStore: cannot decrypt ${name} (wrong passphrase or corrupted record)`);
    }
  }
}

/** The factory as the DOM type it is (IndexedDbFactory only hides that type from the declarations). */
function idb(factory: IndexedDbFactory | undefined): IDBFactory {
  const f = factory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (f === undefined) throw new Error("IndexedDbStore: no IndexedDB here (pass opts.indexedDB)");
  return f as IDBFactory;
}

function checkKey(key: string): void {
  if (!KEY_RE.test(key)) throw new Error(`IndexedDbStore: bad key ${JSON.stringify(key)}`);
}

/** Record names are bound as AEAD associated data; the check record has its own namespace. */
function aad(name: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`conclave-record:${name}`);
}

/** PBKDF2 stretches the passphrase (the guessing cost); HKDF turns its output into a non-extractable AES-GCM key. */
async function deriveRecordKey(passphrase: string, kdf: KdfRecord): Promise<CryptoKey> {
  const pass = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: kdf.salt as Uint8Array<ArrayBuffer>, iterations: kdf.iterations }, pass, 256);
  const master = await crypto.subtle.importKey("raw", bits, "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO }, master, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** The store's salt and iteration count, created on first open (`add`: two tabs opening a new store agree on one). */
async function kdfRecord(db: IDBDatabase, iterations: number): Promise<KdfRecord> {
  const existing = await request<KdfRecord | undefined>(db.transaction(META).objectStore(META).get(KDF));
  if (existing !== undefined) return existing;
  const fresh: KdfRecord = { salt: crypto.getRandomValues(new Uint8Array(16)), iterations };
  try {
    await writeMeta(db, "add", KDF, fresh);
    return fresh;
  } catch {
    const won = await request<KdfRecord | undefined>(db.transaction(META).objectStore(META).get(KDF));
    if (won === undefined) throw new StoreError("IndexedDbStore: cannot create the key derivation record");
    return won;
  }
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  const req = factory.open(name, 1);
  req.onupgradeneeded = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains(RECORDS)) db.createObjectStore(RECORDS);
    if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
  };
  return request<IDBDatabase>(req).then((db) => {
    // Another tab deleting or upgrading the database must not wait on us forever: let go (later calls fail).
    db.onversionchange = () => db.close();
    return db;
  });
}

/** One meta record in its own transaction; resolves once committed (`add` fails if the key exists). */
async function writeMeta(db: IDBDatabase, op: "put" | "add", key: string, value: unknown): Promise<void> {
  const tx = db.transaction(META, "readwrite", { durability: "strict" });
  tx.objectStore(META)[op](value, key);
  await committed(tx);
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    tx.onerror = () => undefined; // the abort that follows carries the error
  });
}
