/**
 * @conclave/server — the Conclave Delivery Service and Authentication Service
 * (RFC 9750 §4, §5) over HTTP, on SQLite or PostgreSQL.
 */
export { createConclaveServer, ROUTE_MODULES, MLS_MEDIA_TYPE } from "./http/app.js";
export { DEFAULT_LIMITS, type ConclaveServerOptions, type ServerLimits } from "./http/options.js";
export { clientOf, intParam, type ConclaveContext, type RouteModule } from "./http/context.js";
export { RouteRegistry, type RouteSpec, type RouteHandler } from "./http/registry.js";
export { buildOpenApi } from "./http/openapi.js";
export { toErrorResponse, RateLimitError } from "./http/errors.js";
export {
  TokenBucketLimiter,
  RateLimiter,
  MemoryBucketStore,
  FailoverBucketStore,
  type TokenBucketConfig,
  type BucketStore,
  type TakeResult,
  type FailoverOptions,
} from "./http/rateLimit.js";
export * from "./http/rateLimitStores/index.js";
export * from "./observability/index.js";
export { AuthenticationService, type AuthenticationServiceOptions } from "./as/service.js";
export { ClientAuth, type AuthenticatedClient } from "./auth/clientAuth.js";
export { TransparencyLog } from "./as/transparencyLog.js";
export { CertificateAuthority } from "./as/ca.js";
export { KeyWrapError } from "./as/keyWrap.js";
export { keyEncryptionKeyFromFile, parseKeyEncryptionKey } from "./keyFile.js";
export { defaultWebAppRoot, registerWebApp } from "./http/static.js";
export { systemClock, type Clock } from "./crypto.js";
export * from "./storage/index.js";
export { installDeliveryService, LocalNotifier, PostgresNotifier, retentionFromEnv, type DeliveryServiceOptions, type Notifier, type DsServices } from "./ds/index.js";
