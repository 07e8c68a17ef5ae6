/**
 * A per-node array of the ratchet tree (nodes and their caches) that is
 * copied in chunks, on write.
 *
 * Every commit takes a provisional copy of the tree (§12.4.2: the proposals
 * and the path are applied to it, and it replaces the tree only if the commit
 * goes through). Copying four arrays of 2^15 entries cost ~0.9 ms each at
 * 10,000 members: arrays that large live in V8's large-object space, and each
 * copied pointer passes the old-generation write barrier. Here a copy shares
 * the chunks and copies only the list of them; the first write to a shared
 * chunk copies that chunk (256 entries), and a commit writes to about log2(n)
 * of them. A chunk holds no more entries than the array reaches into it, so
 * a small group's tree copies its ~31 entries on a write, not 256.
 */
const SHIFT = 8;
const CHUNK = 1 << SHIFT;
const MASK = CHUNK - 1;

export class ChunkedArray<T> {
  #chunks: (T | undefined)[][] = [];
  /** Whether this array alone holds chunk i (it may then write it in place). */
  #owned: boolean[] = [];
  #length = 0;

  constructor(length = 0) {
    this.length = length;
  }

  static from<T>(items: readonly (T | undefined)[]): ChunkedArray<T> {
    const a = new ChunkedArray<T>(items.length);
    for (let c = 0; c < a.#chunks.length; c++) {
      const base = c << SHIFT;
      a.#chunks[c] = items.slice(base, Math.min(base + CHUNK, items.length));
    }
    return a;
  }

  get length(): number {
    return this.#length;
  }

  /** Grows with undefined entries, or drops the entries from `n` on. */
  set length(n: number) {
    const chunks = (n + MASK) >> SHIFT;
    while (this.#chunks.length < chunks) {
      // Empty until written (#writable grows it): a cache the tree fills only along a few paths
      // (resolutions, encodings) would otherwise hold 2 KB of undefined per chunk.
      this.#chunks.push([]);
      this.#owned.push(true);
    }
    if (n < this.#length) {
      this.#chunks.length = chunks;
      this.#owned.length = chunks;
      // Entries past the end in the last chunk are cleared, so growing again reads undefined there.
      if ((n & MASK) !== 0 && (n & MASK) < this.#chunks[chunks - 1]!.length) this.#writable(chunks - 1, 0).fill(undefined, n & MASK);
    }
    this.#length = n;
  }

  /** Entry i; undefined past the end, as for an array. */
  get(i: number): T | undefined {
    return this.#chunks[i >> SHIFT]?.[i & MASK];
  }

  set(i: number, value: T | undefined): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) throw new RangeError(`index ${i} outside 0..${this.#length - 1}`);
    this.#writable(i >> SHIFT, i & MASK)[i & MASK] = value;
  }

  /** An independent copy: O(length / 256); both copy a chunk before their first write to it. */
  copy(): ChunkedArray<T> {
    const c = new ChunkedArray<T>();
    c.#chunks = this.#chunks.slice();
    c.#owned = new Array<boolean>(this.#chunks.length).fill(false);
    c.#length = this.#length;
    this.#owned.fill(false);
    return c;
  }

  /** Entries [0, end) as a plain array. */
  toArray(end = this.#length): (T | undefined)[] {
    const out = new Array<T | undefined>(end);
    for (let i = 0; i < end; i++) out[i] = this.get(i);
    return out;
  }

  /** Chunk c, owned by this array, with room for entry j and every entry up to the array's length in it. */
  #writable(c: number, j: number): (T | undefined)[] {
    let chunk = this.#chunks[c]!;
    if (!this.#owned[c]) {
      chunk = chunk.slice();
      this.#chunks[c] = chunk;
      this.#owned[c] = true;
    }
    if (j >= chunk.length) {
      const size = Math.max(j + 1, Math.min(CHUNK, this.#length - (c << SHIFT)));
      while (chunk.length < size) chunk.push(undefined);
    }
    return chunk;
  }
}
