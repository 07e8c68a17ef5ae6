/**
 * Remembers what was parsed from a key's bytes (a CryptoKey, a KeyObject...).
 * Platform-neutral; both providers use it.
 *
 * Keyed by the array's identity, but a hit also requires the bytes to be
 * unchanged (callers may zeroize or reuse arrays), compared in constant time.
 * Entries die with the array (WeakMap), so nothing outlives the caller's key.
 */
import { constantTimeEqual } from "../../codec/bytes.js";

export class ParsedKeyCache<T> {
  private readonly map = new WeakMap<Uint8Array, { readonly bytes: Uint8Array; readonly value: T }>();

  get(raw: Uint8Array, parse: (raw: Uint8Array) => T): T {
    const hit = this.map.get(raw);
    if (hit !== undefined && constantTimeEqual(hit.bytes, raw)) return hit.value;
    const value = parse(raw);
    this.map.set(raw, { bytes: raw.slice(), value });
    return value;
  }
}

/**
 * A private copy of each key array, the same object while the array's bytes
 * stay the same: for keys used raw (libsodium) whose identity must be stable.
 * One copy per key, which is also what a hit is compared with.
 */
export class KeyCopies {
  private readonly map = new WeakMap<Uint8Array, Uint8Array>();

  get(raw: Uint8Array): Uint8Array {
    const hit = this.map.get(raw);
    if (hit !== undefined && constantTimeEqual(hit, raw)) return hit;
    const copy = raw.slice();
    this.map.set(raw, copy);
    return copy;
  }
}
