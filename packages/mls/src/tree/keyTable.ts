/**
 * A compact, build-once table from public keys to node indices: open
 * addressing over one Int32Array, holding a 32-bit hash of each key and its
 * index, not the key. A Map keyed by the key's hex string cost ~120 bytes per
 * key (2.5 MB for a 10,000-member tree's encryption and signature keys); this
 * costs 16 at most. Lookups return every index whose hash matches, and the
 * caller checks the key at that index, so a collision costs a comparison and
 * never a wrong answer. The hash is seeded per process from the CSPRNG, so
 * keys chosen to collide (members pick their own keys) cannot be aimed at it.
 */
import { bytesEqual } from "../codec/bytes.js";

const SEED = globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!;

/** FNV-1a over the key with a random offset basis (per process). */
export function hashKey(key: Uint8Array): number {
  let h = SEED ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 0x01000193);
  return h | 0;
}

/** A set of keys by a seeded hash of each, filled one key at a time: a collision costs a comparison, not a wrong answer. */
export class KeySet {
  readonly #byHash = new Map<number, Uint8Array | Uint8Array[]>();

  /** Adds `key`; false when it was there already. */
  add(key: Uint8Array): boolean {
    const h = hashKey(key);
    const had = this.#byHash.get(h);
    if (had === undefined) {
      this.#byHash.set(h, key);
      return true;
    }
    const list = had instanceof Uint8Array ? [had] : had;
    if (list.some((k) => bytesEqual(k, key))) return false;
    list.push(key);
    this.#byHash.set(h, list);
    return true;
  }
}

export class KeyTable {
  /** Pairs [hash, index + 1]; index 0 marks an empty slot. */
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly size: number;

  private constructor(slots: Int32Array, size: number) {
    this.#slots = slots;
    this.#mask = slots.length / 2 - 1;
    this.size = size;
  }

  /** A table of these (key, index) entries; the same key may appear under several indices. */
  static build(entries: readonly (readonly [Uint8Array, number])[]): KeyTable {
    let capacity = 16;
    while (capacity < 2 * entries.length) capacity *= 2; // load at most 1/2: short probe runs
    const slots = new Int32Array(2 * capacity);
    const mask = capacity - 1;
    for (const [key, index] of entries) {
      const h = hashKey(key);
      let s = h & mask;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = h;
      slots[2 * s + 1] = index + 1;
    }
    return new KeyTable(slots, entries.length);
  }

  /** The first index stored under `key` for which `holds` is true, in insertion order. */
  find(key: Uint8Array, holds: (index: number) => boolean): number | undefined {
    const h = hashKey(key);
    const slots = this.#slots;
    for (let s = h & this.#mask; slots[2 * s + 1] !== 0; s = (s + 1) & this.#mask) {
      if (slots[2 * s] === h) {
        const index = slots[2 * s + 1]! - 1;
        if (holds(index)) return index;
      }
    }
    return undefined;
  }
}
