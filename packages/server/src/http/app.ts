/**
 * createConclaveServer: the fastify application of the Conclave DS + AS.
 *
 * - Routes under /v1, JSON for control; `message/mls` bodies (RFC 9420 §17.10
 *   media type) are parsed to Uint8Array for the DS's MLS routes.
 * - Every error is `{ "error": { "code", "message" } }` (errors.ts).
 * - Body size limits (413), token-bucket rate limits per IP and per client
 *   (429 + Retry-After), bearer-token authentication on `auth: true` routes.
 * - The OpenAPI 3.1 document at /v1/openapi.json is generated from the routes.
 *
 * The DS plugs in by adding its service to ConclaveContext and its routes
 * module to ROUTE_MODULES.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { CryptoProvider } from "@conclave/mls";
import { AuthenticationService } from "../as/service.js";
import { defaultCryptoProvider, systemClock, type Clock } from "../crypto.js";
import { installDeliveryService } from "../ds/index.js";
import { openStore } from "../storage/index.js";
import type { Store } from "../storage/store.js";
import type { StoreConfig } from "../storage/index.js";
import type { ConclaveContext, RouteModule } from "./context.js";
import { frameworkErrorHandler, installErrorHandling } from "./errors.js";
import { DEFAULT_LIMITS, type ConclaveServerOptions, type ServerLimits } from "./options.js";
import { RateLimiter } from "./rateLimit.js";
import { resolveBucketStore } from "./rateLimitStores/index.js";
import { installObservability } from "../observability/install.js";
import { loggerOptions } from "../observability/logging.js";
import { RouteRegistry } from "./registry.js";
import { accountRoutes } from "./routes/accounts.js";
import { credentialRoutes } from "./routes/credentials.js";
import { healthRoutes } from "./routes/health.js";
import { transparencyRoutes } from "./routes/transparency.js";
import { registerWebApp } from "./static.js";
import { installFederation } from "../federation/index.js";
import type { IncomingMessage } from "node:http";

/** Route modules in registration order. */
export const ROUTE_MODULES: readonly RouteModule[] = [healthRoutes, accountRoutes, credentialRoutes, transparencyRoutes];

export const MLS_MEDIA_TYPE = "message/mls";

function isStore(s: ConclaveServerOptions["store"]): s is Store {
  return typeof (s as Store).transaction === "function";
}

/**
 * Builds the DS + AS as a fastify app (not yet listening: call `listen`, or
 * `inject` in tests). Opens and migrates the store when given a
 * {@link StoreConfig}, loads or creates the AS keys, and registers every
 * route of the HTTP API (docs/protocol.md, GET /v1/openapi.json).
 * Closing the app stops its jobs and closes what it opened.
 * @throws KeyWrapError when the AS keys are sealed and `keyEncryptionKey` is missing, of the wrong length or
 * not the one they were sealed with; Error when the store cannot be opened or migrated, or the `metrics`
 * options are unsafe (neither a token nor a listener, a token under 16 characters); RangeError for an
 * invalid rate-limit bucket or handshake limit.
 */
export async function createConclaveServer(options: ConclaveServerOptions): Promise<FastifyInstance> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const clock: Clock = options.clock ?? systemClock;
  const crypto: CryptoProvider = options.crypto ?? defaultCryptoProvider;
  const domain = options.domain ?? "localhost";
  const ownsStore = !isStore(options.store);
  const store = isStore(options.store) ? options.store : await openStore(options.store);

  let as: AuthenticationService;
  try {
    as = await AuthenticationService.create({
      store,
      crypto,
      clock,
      domain,
      challengeTtlMs: limits.challengeTtlMs,
      tokenTtlMs: limits.tokenTtlMs,
      credentialTtlMs: limits.credentialTtlMs,
      ...(options.keyEncryptionKey === undefined ? {} : { keyEncryptionKey: options.keyEncryptionKey }),
      ...(options.accounts === undefined ? {} : { accounts: options.accounts }),
    });
  } catch (e) {
    if (ownsStore) await store.close();
    throw e;
  }

  const app = Fastify({
    logger: options.logger ?? (options.log === undefined ? false : loggerOptions(options.log)),
    trustProxy: options.trustProxy ?? false,
    bodyLimit: limits.jsonBodyBytes,
    frameworkErrors: frameworkErrorHandler,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });
  installErrorHandling(app);

  // Control bodies are JSON only: drop fastify's default text/plain parser (415 instead).
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser(MLS_MEDIA_TYPE, { parseAs: "buffer", bodyLimit: limits.mlsBodyBytes }, (_req, body, done) => {
    const b = body as Buffer;
    done(null, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  });

  // Prometheus metrics (observability/): hooks first, so every route is measured.
  const metrics = options.metrics === undefined ? undefined : installObservability(app, options.metrics, store).metrics;

  // Token buckets: in memory, or shared by every process (PostgreSQL by default on PostgreSQL, or Redis); rateLimitStores/.
  const limited = limits.rateLimitPerIp !== false || limits.rateLimitPerClient !== false;
  const buckets = limited
    ? resolveBucketStore(options.rateLimitStore, ownsStore ? (options.store as StoreConfig) : undefined, clock, {
        onStateChange: (state, err) => {
          metrics?.rateLimitStoreDegraded(state === "degraded");
          if (state === "degraded") app.log.warn({ err }, "rate-limit store failing: limiting per process until it answers");
          else app.log.warn("rate-limit store answering again: limits shared");
        },
      })
    : undefined;
  if (buckets?.owned === true) app.addHook("onClose", async () => buckets.store.close());
  const rejected = metrics === undefined ? undefined : (limiter: string) => metrics.rateLimited(limiter);
  const perIp = limits.rateLimitPerIp === false || buckets === undefined ? undefined : new RateLimiter("ip", limits.rateLimitPerIp, buckets.store, rejected);
  const perClient = limits.rateLimitPerClient === false || buckets === undefined ? undefined : new RateLimiter("client", limits.rateLimitPerClient, buckets.store, rejected);
  if (perIp !== undefined) {
    app.addHook("onRequest", async (request: FastifyRequest) => perIp.consume(request.ip));
  }

  app.decorateRequest("client", null);
  const authenticate = async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    request.client = await as.auth.authenticate(request.headers.authorization);
    await perClient?.consume(String(request.client.id));
  };

  const routes = new RouteRegistry(app, authenticate);
  const trustProxy = options.trustProxy ?? false;
  const ipOf = (req: IncomingMessage): string => {
    const forwarded = trustProxy ? req.headers["x-forwarded-for"] : undefined;
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
    return first !== undefined && first !== "" ? first : (req.socket.remoteAddress ?? "unknown");
  };
  const limiters = { ...(perIp === undefined ? {} : { perIp }), ...(perClient === undefined ? {} : { perClient }) };
  const ctx: ConclaveContext = { store, as, crypto, clock, limits, domain, routes, limiters, ipOf };
  app.decorate("conclave", ctx);
  for (const register of ROUTE_MODULES) register(ctx);
  // The DS (RFC 9750 §5): its routes, the /v1/stream WebSocket and its notifier.
  const dsOptions = options.keyEncryptionKey === undefined ? options.ds : { ...options.ds, keyEncryptionKey: options.keyEncryptionKey };
  const ds = await installDeliveryService(app, ctx, dsOptions, ownsStore ? (options.store as StoreConfig) : undefined);
  // Account-creation, recovery-guess and KeyPackage-claim limits share the API's bucket store: one limit for N processes.
  if (buckets !== undefined) {
    as.shareLimits(buckets.store);
    ds.keyPackages.shareLimits(buckets.store);
  }
  // Federation with other Conclave domains (federation/, docs/federation.md): only when configured.
  if (options.federation !== undefined) await installFederation(app, ctx, ds, options.federation, options.keyEncryptionKey);
  if (options.webAppRoot !== undefined) await registerWebApp(app, options.webAppRoot);

  // Unused accounts expire (as/accountExpiry.ts); the sweep stops before the store closes.
  as.sweeper.start(as.accountOptions.sweepIntervalMs, (e) => app.log.error(e, "account sweep failed"));
  app.addHook("onClose", async () => as.sweeper.stop());
  if (ownsStore) app.addHook("onClose", async () => store.close());
  return app;
}
