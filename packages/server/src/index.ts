/**
 * @conclave/server — the Conclave Delivery Service and Authentication Service
 * (RFC 9750 §4, §5) over HTTP, on SQLite or PostgreSQL.
 *
 * The public surface is what an embedder needs: {@link createConclaveServer}
 * and its options, the stores it runs on, where rate-limit buckets live,
 * metrics and logs, and the key-encryption-key helpers. Services, routes and
 * repositories are internal (issue 20 item 2).
 */
// The server and its options.
export { createConclaveServer } from "./http/app.js";
export { DEFAULT_LIMITS, type ConclaveServerOptions, type ServerLimits } from "./http/options.js";
export type { AccountOptions } from "./as/accountOptions.js";
export type { NameProofConfig } from "./as/nameProof.js";
export type { OidcConfig } from "./as/oidc.js";
export { systemClock, type Clock } from "./crypto.js";
export { defaultWebAppRoot } from "./http/static.js";

// The key that seals the AS private keys and the stored group state.
export { KeyWrapError } from "./as/keyWrap.js";
export { keyEncryptionKeyFromFile, parseKeyEncryptionKey } from "./keyFile.js";

// Storage.
export { openStore, type StoreConfig } from "./storage/index.js";
export { createSqliteStore, type SqliteStoreOptions } from "./storage/sqlite.js";
export { createPostgresStore, type PostgresStoreOptions } from "./storage/postgres.js";
export type { Store, StorageEngine } from "./storage/store.js";

// The Delivery Service's options.
export type { DeliveryServiceOptions } from "./ds/index.js";
export { LocalNotifier, PostgresNotifier, type Notifier, type PostgresNotifierOptions, type Topic, type Wake } from "./ds/notifier.js";
export { retentionFromEnv, type RetentionOptions } from "./ds/retention.js";
export type { ClaimLimits } from "./ds/keyPackageDirectory.js";
export type { HandshakeLimits } from "./ds/publicState/limits.js";

// Rate limits: where the token buckets live.
export { MemoryBucketStore, FailoverBucketStore, type TokenBucketConfig, type BucketStore, type TakeResult, type FailoverOptions } from "./http/rateLimit.js";
export { rateLimitStoreFromEnv, type RateLimitStoreConfig, type RateLimitStoreOption } from "./http/rateLimitStores/index.js";
export { PostgresBucketStore, type PostgresBucketStoreOptions } from "./http/rateLimitStores/postgres.js";
export { RedisBucketStore, type RedisBucketStoreOptions } from "./http/rateLimitStores/redis.js";

// Observability: Prometheus metrics and secret-free structured logs.
export { ServerMetrics, type QueueDepthSource, type ServerMetricsOptions } from "./observability/metrics.js";
export type { MetricsOptions, Observability } from "./observability/install.js";
export { LOG_LEVELS, parseLogLevel, type LogLevel, type LogOptions } from "./observability/logging.js";
export { logOptionsFrom, metricsOptionsFromEnv } from "./observability/fromEnv.js";

// Federation between Conclave domains (docs/federation.md).
export { federationOptionsFromEnv, type FederationOptions } from "./federation/options.js";
