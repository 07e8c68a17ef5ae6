/**
 * The tree's per-node hash cache (RFC 9420 §7.8 tree hashes), packed: each
 * chunk of 256 nodes keeps its hashes in one array of 256 * Nh bytes and a
 * byte per node saying whether the hash is there. A hash per node as an array
 * of its own cost ~150 bytes of heap for 32 bytes of hash (5 MB at 10,000
 * members). Chunks are copied on write, as ChunkedArray's are, so a tree's
 * clone per commit stays O(n / 256).
 *
 * A chunk the tree does not fill (every chunk of a tree under 128 leaves) is
 * kept loose instead: one small array per hash, never written in place, so
 * copying the chunk copies pointers. A small group's commit otherwise copied
 * an 8 KB off-heap chunk per tree clone, and each off-heap allocation costs
 * more than the hashes it holds.
 *
 * Writes to a packed chunk this array shares with a copy go to a small
 * overlay first (one Map per array, copied with it), folded into the chunks
 * once it holds 64 entries: a commit's path changes ~2 log2(n) entries spread
 * over a few chunks, and copying a chunk (8 KB, off-heap) for each was most
 * of a large group's tree clone cost.
 *
 * `get` returns a copy: a caller may keep a hash (the tree hash goes into the
 * GroupContext) while the tree changes and a packed chunk is written in place.
 */
const SHIFT = 8;
const CHUNK = 1 << SHIFT;
const MASK = CHUNK - 1;
/** Overlay entries that trigger a fold (see the class comment). */
const OVERLAY_LIMIT = 64;

/** One allocation: the hashes, then a presence byte per node (a copy is one off-heap allocation, not two). */
interface Packed {
  readonly bytes: Uint8Array;
  readonly present: Uint8Array;
}

function newPacked(nh: number, from?: Uint8Array): Packed {
  const bytes = from === undefined ? new Uint8Array(CHUNK * (nh + 1)) : from.slice();
  return { bytes, present: bytes.subarray(CHUNK * nh) };
}

/** Hashes of a chunk the tree does not fill, each its own array (never written in place). */
type Loose = (Uint8Array | undefined)[];

type Chunk = Packed | Loose;

export class PackedHashes {
  readonly #nh: number;
  #chunks: (Chunk | undefined)[] = [];
  #owned: boolean[] = [];
  #length = 0;
  /** Entries written over shared packed chunks (undefined: cleared), newer than the chunks. */
  #overlay = new Map<number, Uint8Array | undefined>();

  constructor(nh: number, length = 0) {
    this.#nh = nh;
    this.length = length;
  }

  get length(): number {
    return this.#length;
  }

  /** Grows with absent entries, or drops the entries from `n` on. */
  set length(n: number) {
    const chunks = (n + MASK) >> SHIFT;
    while (this.#chunks.length < chunks) {
      this.#chunks.push(undefined);
      this.#owned.push(true);
    }
    if (n < this.#length) {
      for (const i of [...this.#overlay.keys()]) if (i >= n) this.#overlay.delete(i);
      this.#chunks.length = chunks;
      this.#owned.length = chunks;
      // Entries past the end in the last chunk are cleared, so growing again reads them absent.
      if ((n & MASK) !== 0 && this.#chunks[chunks - 1] !== undefined) {
        const last = this.#writable(chunks - 1);
        if (Array.isArray(last)) last.length = Math.min(last.length, n & MASK);
        else last.present.fill(0, n & MASK);
      }
    }
    this.#length = n;
  }

  has(i: number): boolean {
    if (this.#overlay.size > 0 && this.#overlay.has(i)) return this.#overlay.get(i) !== undefined;
    const c = this.#chunks[i >> SHIFT];
    if (c === undefined) return false;
    return Array.isArray(c) ? c[i & MASK] !== undefined : c.present[i & MASK] === 1;
  }

  get(i: number): Uint8Array | undefined {
    if (this.#overlay.size > 0 && this.#overlay.has(i)) return this.#overlay.get(i)?.slice();
    const c = this.#chunks[i >> SHIFT];
    const j = i & MASK;
    if (c === undefined) return undefined;
    if (Array.isArray(c)) return c[j]?.slice();
    if (c.present[j] === 0) return undefined;
    return c.bytes.slice(j * this.#nh, (j + 1) * this.#nh);
  }

  /** Stores a hash (copied), or clears the entry. */
  set(i: number, hash: Uint8Array | undefined): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) throw new RangeError(`index ${i} outside 0..${this.#length - 1}`);
    if (hash !== undefined && hash.length !== this.#nh) throw new RangeError(`a hash is ${this.#nh} bytes, not ${hash.length}`);
    const c = i >> SHIFT;
    const j = i & MASK;
    if (hash === undefined && !this.has(i)) return;
    const shared = this.#chunks[c];
    if (shared !== undefined && !Array.isArray(shared) && !this.#owned[c]) {
      this.#overlay.set(i, hash?.slice());
      if (this.#overlay.size >= OVERLAY_LIMIT) this.#fold();
      return;
    }
    this.#overlay.delete(i);
    this.#write(c, j, hash);
  }

  /** Writes the overlay into the (now owned) chunks. */
  #fold(): void {
    const entries = [...this.#overlay];
    this.#overlay.clear();
    for (const [i, hash] of entries) this.#write(i >> SHIFT, i & MASK, hash);
  }

  #write(c: number, j: number, hash: Uint8Array | undefined): void {
    const chunk = this.#writable(c);
    if (Array.isArray(chunk)) {
      if (hash === undefined) chunk[j] = undefined;
      else {
        while (chunk.length < j) chunk.push(undefined);
        chunk[j] = hash.slice();
      }
    } else if (hash === undefined) chunk.present[j] = 0;
    else {
      chunk.bytes.set(hash, j * this.#nh);
      chunk.present[j] = 1;
    }
  }

  /** An independent copy: O(length / 256); both copy a chunk before their first write to it. */
  copy(): PackedHashes {
    const c = new PackedHashes(this.#nh);
    c.#chunks = this.#chunks.slice();
    c.#owned = new Array<boolean>(this.#chunks.length).fill(false);
    c.#length = this.#length;
    if (this.#overlay.size > 0) c.#overlay = new Map(this.#overlay);
    this.#owned.fill(false);
    return c;
  }

  /** Chunk c, owned by this array; a loose chunk is packed once the array's length fills it. */
  #writable(c: number): Chunk {
    const chunk = this.#chunks[c];
    const owned = this.#owned[c] === true;
    const fills = this.#length - (c << SHIFT) >= CHUNK;
    let next: Chunk;
    if (chunk === undefined) next = fills ? newPacked(this.#nh) : [];
    else if (Array.isArray(chunk)) next = fills ? this.#pack(chunk) : owned ? chunk : chunk.slice();
    else next = owned ? chunk : newPacked(this.#nh, chunk.bytes);
    if (next !== chunk) {
      this.#chunks[c] = next;
      this.#owned[c] = true;
    }
    return next;
  }

  #pack(loose: Loose): Packed {
    const packed = newPacked(this.#nh);
    for (let j = 0; j < loose.length; j++) {
      const h = loose[j];
      if (h === undefined) continue;
      packed.bytes.set(h, j * this.#nh);
      packed.present[j] = 1;
    }
    return packed;
  }
}
