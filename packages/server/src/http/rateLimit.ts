/**
 * Token-bucket rate limits. Each key (a client id or an IP address) has a
 * bucket of `capacity` tokens refilled continuously at `refillPerSecond`; a
 * request takes one token or is refused with the time until one is available
 * (sent as Retry-After).
 *
 * Where the buckets live is pluggable (BucketStore): this process's memory
 * (the default: one process on SQLite), or a store every server process shares
 * so that N processes enforce one limit, not N (rateLimitStores/: Redis with an
 * atomic Lua script, PostgreSQL with one atomic UPSERT). A shared store that
 * fails or is slow does not take the API down: RateLimiter falls back to a
 * per-process memory bucket until it answers again (see FailoverBucketStore).
 */
import type { Clock } from "../crypto.js";
import { RateLimitError } from "./errors.js";

/** A token bucket: `capacity` requests at once, refilled at `refillPerSecond`. */
export interface TokenBucketConfig {
  /** Burst size: requests allowed back to back from a full bucket. */
  readonly capacity: number;
  /** Sustained rate. */
  readonly refillPerSecond: number;
}

/** A bucket's answer: a token taken, or when to try again. */
export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** Where buckets are kept. `take` refills the key's bucket, then takes one token if it holds one, atomically. */
export interface BucketStore {
  /** "memory", "redis", "postgres", ... (for logs and metrics). */
  readonly kind: string;
  /**
   * Refills bucket `key` (created full) by the time since its last take, then takes one token if it holds one.
   * Rejects when a shared store fails (FailoverBucketStore then limits per process).
   */
  take(key: string, config: TokenBucketConfig): Promise<TakeResult>;
  /** Releases the store's connections (or memory); no take after this. */
  close(): Promise<void>;
}

export function checkBucketConfig(config: TokenBucketConfig): void {
  if (!(config.capacity >= 1) || !(config.refillPerSecond > 0) || !Number.isFinite(config.capacity) || !Number.isFinite(config.refillPerSecond)) {
    throw new RangeError("token bucket needs a finite capacity >= 1 and refillPerSecond > 0");
  }
}

/** Milliseconds until a bucket holding `tokens` holds one. */
export function retryAfterMs(tokens: number, config: TokenBucketConfig): number {
  return Math.ceil(((1 - tokens) / config.refillPerSecond) * 1000);
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** When the bucket is full again: after that it is indistinguishable from a new one and may be forgotten. */
  fullAt: number;
}

/** Buckets in this process's memory, bounded in keys. */
export class MemoryBucketStore implements BucketStore {
  readonly kind = "memory";
  private readonly buckets = new Map<string, Bucket>();

  /** `clock`: milliseconds since the epoch; `maxKeys`: bound on remembered keys. */
  constructor(
    private readonly clock: Clock,
    /** Bound on remembered keys; full buckets are forgotten first, then the oldest. */
    private readonly maxKeys = 100_000,
  ) {}

  /** {@link BucketStore.take}, synchronously (memory needs no wait). */
  takeNow(key: string, config: TokenBucketConfig): TakeResult {
    const now = this.clock();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      b = { tokens: config.capacity, updatedAt: now, fullAt: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(config.capacity, b.tokens + (Math.max(0, now - b.updatedAt) / 1000) * config.refillPerSecond);
      b.updatedAt = now;
    }
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    b.fullAt = now + ((config.capacity - b.tokens) / config.refillPerSecond) * 1000;
    return ok ? { ok: true } : { ok: false, retryAfterMs: retryAfterMs(b.tokens, config) };
  }

  take(key: string, config: TokenBucketConfig): Promise<TakeResult> {
    return Promise.resolve(this.takeNow(key, config));
  }

  /** Keys remembered now. */
  get size(): number {
    return this.buckets.size;
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }

  private evict(now: number): void {
    for (const [key, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(key);
    // Still full of busy keys: drop the oldest ones (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}

/** A synchronous limiter over memory buckets (one process). */
export class TokenBucketLimiter {
  private readonly store: MemoryBucketStore;

  constructor(
    private readonly config: TokenBucketConfig,
    clock: Clock,
    maxKeys = 100_000,
  ) {
    checkBucketConfig(config);
    this.store = new MemoryBucketStore(clock, maxKeys);
  }

  take(key: string): TakeResult {
    return this.store.takeNow(key, this.config);
  }

  /** Takes a token for `key` or throws RateLimitError (429 with Retry-After, whole seconds). */
  require(key: string): void {
    const r = this.take(key);
    if (!r.ok) throw new RateLimitError(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
  }

  get size(): number {
    return this.store.size;
  }
}

/** Options of {@link FailoverBucketStore}. */
export interface FailoverOptions {
  /** A take slower than this counts as a failure (default 250 ms). */
  readonly timeoutMs?: number;
  /** After a failure, the primary is not asked again for this long (default 1000 ms). */
  readonly retryAfterMs?: number;
  /** Told once per outage (when the primary first fails) and once when it answers again. */
  readonly onStateChange?: (state: "degraded" | "recovered", error?: unknown) => void;
}

/**
 * A shared store with a per-process fallback. The documented choice when the
 * shared store is down: keep limiting, per process (each process enforces the
 * full limit on its own, as before shared limits existed), rather than refusing
 * every request (an outage of Redis would become an outage of the API) or
 * letting everything through (no limit at all while it is down). The primary is
 * retried after `retryAfterMs`, so an outage costs one timeout per second, not
 * one per request. (Real time, not the server's injectable clock: this is
 * about the store's health, not about the buckets.)
 */
export class FailoverBucketStore implements BucketStore {
  readonly kind: string;
  private downUntil = 0;
  private degraded = false;

  /** Takes from `primary`; while it fails or is slower than `o.timeoutMs`, from `fallback` (this process's memory). */
  constructor(
    private readonly primary: BucketStore,
    private readonly fallback: MemoryBucketStore,
    private readonly o: FailoverOptions = {},
  ) {
    this.kind = primary.kind;
  }

  /** True while requests are limited per process because the shared store failed. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  async take(key: string, config: TokenBucketConfig): Promise<TakeResult> {
    if (performance.now() < this.downUntil) return this.fallback.takeNow(key, config);
    try {
      const r = await withTimeout(this.primary.take(key, config), this.o.timeoutMs ?? 250);
      if (this.degraded) {
        this.degraded = false;
        this.o.onStateChange?.("recovered");
      }
      return r;
    } catch (e) {
      this.downUntil = performance.now() + (this.o.retryAfterMs ?? 1000);
      if (!this.degraded) {
        this.degraded = true;
        this.o.onStateChange?.("degraded", e);
      }
      return this.fallback.takeNow(key, config);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.fallback.close()]);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate-limit store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** One limit (per IP, or per client) over a bucket store. */
export class RateLimiter {
  constructor(
    /** "ip" or "client": the keys' prefix, and the label of the rejection metric. */
    readonly name: string,
    readonly config: TokenBucketConfig,
    private readonly store: BucketStore,
    private readonly onReject?: (limiter: string) => void,
  ) {
    checkBucketConfig(config);
  }

  /** Takes a token for `id` or throws RateLimitError (429 with Retry-After, whole seconds). */
  async consume(id: string): Promise<void> {
    const r = await this.store.take(`${this.name}:${id}`, this.config);
    if (r.ok) return;
    this.onReject?.(this.name);
    throw new RateLimitError(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
  }
}
