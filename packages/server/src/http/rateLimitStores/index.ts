/**
 * Choosing where rate-limit buckets live. createConclaveServer takes a
 * RateLimitStoreConfig (or a BucketStore of your own):
 * - default: PostgreSQL when the server opens a PostgreSQL store (every process
 *   on that database shares the limits), else this process's memory;
 * - { kind: "redis", url }: Redis (the entry points use it when
 *   CONCLAVE_REDIS_URL is set, whatever the storage engine);
 * - { kind: "memory" }: per process.
 * Shared stores are wrapped in FailoverBucketStore: while they fail, limits
 * are enforced per process (rateLimit.ts says why).
 */
import type { Clock } from "../../crypto.js";
import type { StoreConfig } from "../../storage/index.js";
import { FailoverBucketStore, MemoryBucketStore, type BucketStore, type FailoverOptions } from "../rateLimit.js";
import { PostgresBucketStore, type PostgresBucketStoreOptions } from "./postgres.js";
import { RedisBucketStore, type RedisBucketStoreOptions } from "./redis.js";

/** Where the rate limiter keeps its token buckets: in memory (one process), Redis or PostgreSQL (shared by processes). */
export type RateLimitStoreConfig = { readonly kind: "memory" } | ({ readonly kind: "redis" } & RedisBucketStoreOptions) | ({ readonly kind: "postgres" } & PostgresBucketStoreOptions);

/** The config a server uses when none is given: `store` is its StoreConfig, or undefined when it was handed an open Store. */
export function defaultRateLimitStore(store: StoreConfig | undefined): RateLimitStoreConfig {
  if (store?.engine !== "postgres") return { kind: "memory" };
  return { kind: "postgres", connectionString: store.connectionString, ...(store.schema === undefined ? {} : { schema: store.schema }) };
}

/**
 * What the shipped entry points use: Redis when CONCLAVE_REDIS_URL is set (keys under
 * CONCLAVE_REDIS_PREFIX, default "conclave:rl:", for deployments sharing one Redis), else the
 * default for their store.
 */
export function rateLimitStoreFromEnv(store: StoreConfig, env: NodeJS.ProcessEnv = process.env): RateLimitStoreConfig {
  const url = env.CONCLAVE_REDIS_URL;
  if (url === undefined || url === "") return defaultRateLimitStore(store);
  const keyPrefix = env.CONCLAVE_REDIS_PREFIX;
  return { kind: "redis", url, ...(keyPrefix === undefined || keyPrefix === "" ? {} : { keyPrefix }) };
}

/** Opens the configured store (never waiting for, nor failing on, a shared store that is down); shared ones fall back to memory while they fail. */
export function openBucketStore(config: RateLimitStoreConfig, clock: Clock, failover: FailoverOptions = {}): BucketStore {
  const memory = new MemoryBucketStore(clock);
  switch (config.kind) {
    case "memory":
      return memory;
    case "redis":
      return new FailoverBucketStore(RedisBucketStore.open(config), memory, failover);
    case "postgres":
      return new FailoverBucketStore(PostgresBucketStore.open(config), memory, failover);
  }
}

/** createConclaveServer's `rateLimitStore` option: a config the server opens (and closes), or a store of your own (you close it). */
export type RateLimitStoreOption = RateLimitStoreConfig | BucketStore;

function isBucketStore(o: RateLimitStoreOption): o is BucketStore {
  return typeof (o as BucketStore).take === "function";
}

/** The store a server uses, and whether it must close it. */
export function resolveBucketStore(
  option: RateLimitStoreOption | undefined,
  storeConfig: StoreConfig | undefined,
  clock: Clock,
  failover: FailoverOptions = {},
): { readonly store: BucketStore; readonly owned: boolean } {
  if (option !== undefined && isBucketStore(option)) return { store: option, owned: false };
  return { store: openBucketStore(option ?? defaultRateLimitStore(storeConfig), clock, failover), owned: true };
}
