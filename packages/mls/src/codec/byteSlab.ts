/**
 * Byte arrays carved from a shared ArrayBuffer, for what the message path
 * makes for every message (the bytes sent, the plaintext received, a
 * ratchet's key and nonce).
 *
 * Each `new ArrayBuffer` costs V8 about a microsecond whatever its size (a
 * call into the runtime, a backing store and its bookkeeping, freeing by the
 * collector later) and a 1 KiB one about two: six per message sent and
 * received were ~8% of a message's CPU, 64 in flight. A view of an existing
 * buffer is a small JS object. Node's Buffer pool does the same.
 *
 * What this means for whoever holds such an array:
 * - it is a view: `byteOffset` and `byteLength` say where it is, and its
 *   `buffer` holds other arrays of the same kind (never of another: secrets
 *   are never in a slab whose arrays are handed out as public bytes);
 * - a slab is freed once none of its arrays is reachable, so one array kept
 *   keeps its slab (at most `slabSize` bytes);
 * - transferring its `buffer` to another thread detaches the whole slab; the
 *   next array comes from a new one.
 */

/** Called with each new slab (the node provider marks it untransferable, as Node does its Buffer pool). */
let prepareSlab: ((slab: ArrayBuffer) => void) | undefined;

export function setSlabPreparer(prepare: ((slab: ArrayBuffer) => void) | undefined): void {
  prepareSlab = prepare;
}

export class ByteSlab {
  #slab: ArrayBuffer | undefined;
  #offset = 0;

  /**
   * Slabs of `slabSize` bytes; an array over `maxCarved` bytes gets its own
   * buffer (a slab kept alive by one array wastes at most its size).
   */
  constructor(
    readonly slabSize: number,
    readonly maxCarved: number,
  ) {}

  /** `length` zero bytes, off the JS heap (native code reads them in place). */
  take(length: number): Uint8Array {
    if (length > this.maxCarved) return new Uint8Array(new ArrayBuffer(length));
    let slab = this.#slab;
    // A slab whose buffer was transferred away reads as zero bytes long.
    if (slab === undefined || this.#offset + length > slab.byteLength) {
      slab = new ArrayBuffer(this.slabSize);
      prepareSlab?.(slab);
      this.#slab = slab;
      this.#offset = 0;
    }
    const out = new Uint8Array(slab, this.#offset, length);
    // 8-byte aligned starts: native code copies word by word between aligned addresses.
    this.#offset += (length + 7) & ~7;
    return out;
  }
}
