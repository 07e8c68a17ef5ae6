/** Options of createConclaveServer and their defaults. */
import type { FastifyServerOptions } from "fastify";
import type { CryptoProvider } from "@conclave/mls";
import type { AccountOptions } from "../as/accountOptions.js";
import type { Clock } from "../crypto.js";
import type { DeliveryServiceOptions } from "../ds/index.js";
import type { StoreConfig } from "../storage/index.js";
import type { Store } from "../storage/store.js";
import type { TokenBucketConfig } from "./rateLimit.js";
import type { RateLimitStoreOption } from "./rateLimitStores/index.js";
import type { MetricsOptions } from "../observability/install.js";
import type { LogOptions } from "../observability/logging.js";
import type { FederationOptions } from "../federation/options.js";

/** Size, rate and lifetime limits of a server (each has a default in {@link DEFAULT_LIMITS}). */
export interface ServerLimits {
  /** Largest JSON body, bytes (413 PAYLOAD_TOO_LARGE above). */
  readonly jsonBodyBytes: number;
  /** Largest message/mls body, bytes. */
  readonly mlsBodyBytes: number;
  /** Token bucket per remote IP over all requests; false disables. */
  readonly rateLimitPerIp: TokenBucketConfig | false;
  /** Token bucket per authenticated client; false disables. */
  readonly rateLimitPerClient: TokenBucketConfig | false;
  readonly challengeTtlMs: number;
  readonly tokenTtlMs: number;
  /** Lifetime of issued credentials. */
  readonly credentialTtlMs: number;
  /** Most transparency-log leaves per GET /v1/transparency/leaves. */
  readonly maxLeavesPerPage: number;
  /** Open /v1/stream WebSockets one client may hold at once. */
  readonly maxStreamsPerClient: number;
}

/** The limits a server uses for those not given in `limits`. */
export const DEFAULT_LIMITS: ServerLimits = {
  jsonBodyBytes: 64 * 1024,
  mlsBodyBytes: 1024 * 1024,
  rateLimitPerIp: { capacity: 300, refillPerSecond: 50 },
  rateLimitPerClient: { capacity: 120, refillPerSecond: 20 },
  challengeTtlMs: 60_000,
  tokenTtlMs: 24 * 3600_000,
  credentialTtlMs: 90 * 24 * 3600_000,
  maxLeavesPerPage: 1000,
  maxStreamsPerClient: 8,
};

/** Options of createConclaveServer: only `store` is required. */
export interface ConclaveServerOptions {
  /** An open Store (the caller closes it), or a config the server opens and closes with itself. */
  readonly store: Store | StoreConfig;
  /** The AS domain in identities "user@domain#device" (default "localhost"). */
  readonly domain?: string;
  readonly limits?: Partial<ServerLimits>;
  /** Milliseconds since the Unix epoch (tests inject a controllable clock). */
  readonly clock?: Clock;
  /** MLS crypto provider for signature verification and tree-head signing (default: node provider). */
  readonly crypto?: CryptoProvider;
  /** fastify logger option (default false; `log` builds one that never logs secrets). */
  readonly logger?: FastifyServerOptions["logger"];
  /** Structured JSON logs at a level, secrets redacted (observability/logging.ts); ignored when `logger` is given. */
  readonly log?: LogOptions;
  /** Prometheus metrics: a /metrics endpoint behind a token and/or on a listener of its own (observability/install.ts). Off by default. */
  readonly metrics?: MetricsOptions;
  /** Trust X-Forwarded-For for client IPs (behind a reverse proxy). Default false. */
  readonly trustProxy?: boolean;
  /** Delivery Service options (past epochs for application messages, cross-process notifier). */
  readonly ds?: DeliveryServiceOptions;
  /**
   * 32 bytes that seal the AS private keys in the database (AES-256-GCM). Keep
   * it outside the database; without it the keys are stored in the clear.
   */
  readonly keyEncryptionKey?: Uint8Array;
  /** Accounts and devices: name proofs (default: invite tokens), recovery codes, creation limits, expiry of unused accounts. */
  readonly accounts?: AccountOptions;
  /** A directory of built web app files (packages/web/dist) to serve at `/` (http/static.ts); none by default. */
  readonly webAppRoot?: string;
  /**
   * Where the rate-limit buckets live (http/rateLimitStores/): default PostgreSQL when the
   * server opens a PostgreSQL store (shared by every process), else this process's memory;
   * or { kind: "redis", url }. A store object passed here is the caller's to close.
   */
  readonly rateLimitStore?: RateLimitStoreOption;
  /**
   * Federation with other Conclave domains (docs/federation.md): the well-known document,
   * signed server-to-server requests, remote KeyPackages and credentials, hub and followers.
   * Absent: this server serves its own domain only.
   */
  readonly federation?: FederationOptions;
}
