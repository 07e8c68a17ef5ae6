/**
 * A past epoch's signature keys once restored from storage (§14: late
 * messages of a past epoch are verified with its members' keys): every key in
 * one buffer, found by binary search over a sorted array of leaf indices. As
 * a Map of one small array per member they cost ~250 bytes of heap per 32-byte
 * key; here each costs its bytes and 8 more.
 */
import type { SignatureKeysByLeaf } from "./groupState.js";

export class PackedSignatureKeys implements SignatureKeysByLeaf {
  /** Leaf indices, ascending, each once. */
  readonly #leaves: Uint32Array;
  /** Key i is #bytes[#ends[i - 1] (0 for i = 0) .. #ends[i]). */
  readonly #ends: Uint32Array;
  readonly #bytes: Uint8Array;

  /** The keys are copied; a leaf given twice keeps its later key, as a Map would. */
  constructor(entries: readonly (readonly [number, Uint8Array])[]) {
    let sorted = entries;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]![0] <= entries[i - 1]![0]) {
        // Stable, so the later of two entries for a leaf stays the later one.
        sorted = entries.slice().sort((a, b) => a[0] - b[0]);
        break;
      }
    }
    const kept = sorted.filter((e, i) => i + 1 === sorted.length || sorted[i + 1]![0] !== e[0]);
    let total = 0;
    for (const [, key] of kept) total += key.length;
    this.#leaves = new Uint32Array(kept.length);
    this.#ends = new Uint32Array(kept.length);
    this.#bytes = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < kept.length; i++) {
      const [leaf, key] = kept[i]!;
      this.#leaves[i] = leaf;
      this.#bytes.set(key, at);
      at += key.length;
      this.#ends[i] = at;
    }
  }

  get size(): number {
    return this.#leaves.length;
  }

  #key(i: number): Uint8Array {
    return this.#bytes.subarray(i === 0 ? 0 : this.#ends[i - 1], this.#ends[i]);
  }

  get(leaf: number): Uint8Array | undefined {
    const leaves = this.#leaves;
    let lo = 0;
    let hi = leaves.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (leaves[mid]! < leaf) lo = mid + 1;
      else hi = mid;
    }
    return lo < leaves.length && leaves[lo] === leaf ? this.#key(lo) : undefined;
  }

  *[Symbol.iterator](): Iterator<[number, Uint8Array]> {
    for (let i = 0; i < this.#leaves.length; i++) yield [this.#leaves[i]!, this.#key(i)];
  }
}
