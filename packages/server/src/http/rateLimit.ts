/**
 * A token-bucket rate limiter (in memory, per process). Each key (a client id
 * or an IP address) has a bucket of `capacity` tokens refilled continuously at
 * `refillPerSecond`; a request takes one token or is refused with the time
 * until one is available (sent as Retry-After). Several server processes each
 * limit on their own: the effective limit is per process.
 */
import type { Clock } from "../crypto.js";
import { RateLimitError } from "./errors.js";

export interface TokenBucketConfig {
  /** Burst size: requests allowed back to back from a full bucket. */
  readonly capacity: number;
  /** Sustained rate. */
  readonly refillPerSecond: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: TokenBucketConfig,
    private readonly clock: Clock,
    /** Bound on remembered keys; idle (full) buckets are forgotten first. */
    private readonly maxKeys = 100_000,
  ) {
    if (!(config.capacity >= 1) || !(config.refillPerSecond > 0)) throw new RangeError("token bucket needs capacity >= 1 and refillPerSecond > 0");
  }

  take(key: string): TakeResult {
    const now = this.clock();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      b = { tokens: this.config.capacity, updatedAt: now };
      this.buckets.set(key, b);
    } else {
      this.refill(b, now);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / this.config.refillPerSecond) * 1000) };
  }

  /** Takes a token for `key` or throws RateLimitError (429 with Retry-After, whole seconds). */
  require(key: string): void {
    const r = this.take(key);
    if (!r.ok) throw new RateLimitError(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
  }

  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, now: number): void {
    const elapsed = Math.max(0, now - b.updatedAt);
    b.tokens = Math.min(this.config.capacity, b.tokens + (elapsed / 1000) * this.config.refillPerSecond);
    b.updatedAt = now;
  }

  private evict(now: number): void {
    for (const [key, b] of this.buckets) {
      this.refill(b, now);
      if (b.tokens >= this.config.capacity) this.buckets.delete(key);
    }
    // Still full of busy keys: drop the oldest ones (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
