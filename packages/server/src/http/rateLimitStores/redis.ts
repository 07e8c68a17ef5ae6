/**
 * Token buckets in Redis, shared by every server process that points at it.
 *
 * One Lua script per take: Redis runs scripts atomically, so two processes
 * taking from the same bucket at once never both spend its last token. The
 * script reads the time from Redis itself (TIME), so processes whose clocks
 * disagree still refill one bucket at one rate (Redis 5+ replicates a script's
 * effects, not the script, which makes TIME allowed). A bucket expires when it
 * would be full again: an absent bucket and a full one behave the same, so
 * Redis memory is bounded by the keys active in the last capacity/rate seconds.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { BucketStore, TakeResult, TokenBucketConfig } from "../rateLimit.js";

// KEYS[1] bucket; ARGV capacity, refill per second. Returns {granted 0|1, retry-after ms}.
const TAKE_SCRIPT = `
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then
  tokens = cap
else
  tokens = math.min(cap, tokens + math.max(0, now - at) * rate / 1000)
end
local granted = 0
if tokens >= 1 then
  tokens = tokens - 1
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) / rate * 1000) + 1)
if granted == 1 then return {1, 0} end
return {0, math.ceil((1 - tokens) / rate * 1000)}
`;

/** Options of {@link RedisBucketStore.open}. */
export interface RedisBucketStoreOptions {
  /** redis://host:port/db */
  readonly url: string;
  /** Prefix of every bucket key (default "conclave:rl:"): processes sharing limits must use the same one. */
  readonly keyPrefix?: string;
  /** Per-command timeout (default 200 ms): a slow Redis must not hold requests. */
  readonly commandTimeoutMs?: number;
}

/** Token buckets in Redis (one Lua script per take), shared by every process using it. */
export class RedisBucketStore implements BucketStore {
  readonly kind = "redis";
  private readonly prefix: string;
  private ready: Promise<void> | undefined;

  private constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.prefix = prefix;
  }

  /** Connects lazily: the first take connects, and a Redis that is down fails takes (the caller falls back) instead of start-up. */
  static open(o: RedisBucketStoreOptions): RedisBucketStore {
    const options: RedisOptions = {
      lazyConnect: true,
      // Commands are sent only once connected (see connected()): none pile up behind a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: o.commandTimeoutMs ?? 200,
      connectTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    };
    const redis = new Redis(o.url, options);
    // Connection errors surface as failed takes; an 'error' event with no listener would crash the process.
    redis.on("error", () => undefined);
    redis.defineCommand("conclaveTakeToken", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    const store = new RedisBucketStore(redis, o.keyPrefix ?? "conclave:rl:");
    redis.connect().catch(() => undefined);
    return store;
  }

  /**
   * Waits for the connection (at start-up, or while reconnecting) instead of failing at once;
   * the caller bounds the wait (FailoverBucketStore's timeout). One listener however many wait.
   */
  private connected(): Promise<void> {
    if (this.redis.status === "ready") return Promise.resolve();
    this.ready ??= new Promise<void>((resolve) =>
      this.redis.once("ready", () => {
        this.ready = undefined;
        resolve();
      }),
    );
    return this.ready;
  }

  async take(key: string, config: TokenBucketConfig): Promise<TakeResult> {
    await this.connected();
    const run = (this.redis as unknown as { conclaveTakeToken(key: string, cap: number, rate: number): Promise<[number, number]> }).conclaveTakeToken;
    const [granted, retry] = await run.call(this.redis, this.prefix + key, config.capacity, config.refillPerSecond);
    return granted === 1 ? { ok: true } : { ok: false, retryAfterMs: Math.max(1, Number(retry)) };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
