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

  /**
   * `parse` is given the cache's own copy of the bytes, which never changes:
   * a key used raw (libsodium) can return that copy itself as its parsed
   * form, a stable object with no second copy.
   */
  get(raw: Uint8Array, parse: (bytes: Uint8Array) => T): T {
    const hit = this.map.get(raw);
    if (hit !== undefined && constantTimeEqual(hit.bytes, raw)) return hit.value;
    const bytes = raw.slice();
    const value = parse(bytes);
    this.map.set(raw, { bytes, value });
    return value;
  }
}
