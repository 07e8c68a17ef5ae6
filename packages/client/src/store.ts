/**
 * Local state store. Everything a Client keeps (identity, KeyPackage private
 * keys, serialized groups, queue cursor) holds secrets, so the persistent
 * stores encrypt each record and write it atomically: a crash leaves either
 * the old or the new record, never a torn one. This file holds what every
 * runtime shares; the stores live beside it (fileStore.ts on Node,
 * browser/indexedDbStore.ts in browsers).
 */
export interface ClientStore {
  /** The record `key`, or undefined when there is none. Rejects with {@link StoreError} for a record that does not read back. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes the record `key` (replacing it). */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Deletes the record `key` (nothing when there is none). */
  delete(key: string): Promise<void>;
  /** The names of the records starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

/** Non-persistent store for tests and throwaway clients. */
export class MemoryStore implements ClientStore {
  readonly #m = new Map<string, Uint8Array>();
  async get(key: string) {
    return this.#m.get(key);
  }
  async put(key: string, value: Uint8Array) {
    this.#m.set(key, value.slice());
  }
  async delete(key: string) {
    this.#m.delete(key);
  }
  async keys(prefix: string) {
    return [...this.#m.keys()].filter((k) => k.startsWith(prefix));
  }
}

/** A store record that cannot be read: wrong passphrase, corrupted or foreign file. */
export class StoreError extends Error {
  /** Always "STORE_UNREADABLE": a record that is not one, or does not decrypt (wrong passphrase, corruption). */
  readonly code = "STORE_UNREADABLE";
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A JSON record of a store (the client keeps its small records as JSON). */
export async function getJson<T>(store: ClientStore, key: string): Promise<T | undefined> {
  const b = await store.get(key);
  return b === undefined ? undefined : (JSON.parse(dec.decode(b)) as T);
}

export async function putJson(store: ClientStore, key: string, value: unknown): Promise<void> {
  await store.put(key, enc.encode(JSON.stringify(value)));
}
