/** `conclave serve`: the DS + AS on one SQLite file (the embedded default). */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  createConclaveServer,
  defaultWebAppRoot,
  keyEncryptionKeyFromFile,
  logOptionsFrom,
  parseKeyEncryptionKey,
  metricsOptionsFromEnv,
  rateLimitStoreFromEnv,
  retentionFromEnv,
  type FederationOptions,
  type StoreConfig,
} from "@conclave/server";

/** Options of {@link serve} (`conclave serve`'s flags). */
export interface ServeOptions {
  readonly db: string;
  readonly host: string;
  readonly port: number;
  readonly domain: string;
  readonly logger?: boolean;
  /** --log-level (else CONCLAVE_LOG_LEVEL, else "warn"); secrets are redacted (server observability/logging.ts). */
  readonly logLevel?: string;
  /** Tests and the demo turn the per-IP limits off (every client is 127.0.0.1), account-creation limits included. */
  readonly rateLimits?: boolean;
  /** User names to whoever asks first (local development, tests, the demo); default: admin-made invite tokens. */
  readonly openRegistration?: boolean;
  /** Enables POST /v1/admin/invites for `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string;
  /** The AS key-encryption key's file (default: conclave.kek beside the database, created when missing). */
  readonly keyFile?: string;
  /** The key-encryption key itself, unpadded base64url (CONCLAVE_KEK); takes the place of the key file. */
  readonly kek?: string;
  /** Serve the EmojisOnly web app at / (default true when packages/web is there). */
  readonly webApp?: boolean;
  /** Federation with other Conclave domains (docs/federation.md); none by default. */
  readonly federation?: FederationOptions;
}

/** A running server: its base URL and how to stop it. */
export interface Serving {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts a DS+AS on SQLite at `opts.db`, listening on `opts.host:opts.port` (`conclave serve`).
 * @throws KeyWrapError for a key-encryption key (`kek` or the key file) that is malformed or unreadable;
 * Error for bad CONCLAVE_LOG_LEVEL / CONCLAVE_METRICS_PORT values or a port that cannot be bound.
 */
export async function serve(opts: ServeOptions): Promise<Serving> {
  const path = resolve(opts.db);
  mkdirSync(dirname(path), { recursive: true });
  // The AS private keys are sealed with a key kept beside the database, not in it (a copy of the database alone reveals nothing).
  const keyEncryptionKey =
    opts.kek !== undefined
      ? parseKeyEncryptionKey(opts.kek)
      : keyEncryptionKeyFromFile(opts.keyFile === undefined ? join(dirname(path), "conclave.kek") : resolve(opts.keyFile), opts.keyFile === undefined);
  // The EmojisOnly web app at / (packages/web/dist) when run from a checkout.
  const webAppRoot = opts.webApp === false ? undefined : defaultWebAppRoot();
  const store: StoreConfig = { engine: "sqlite", path };
  // Rate limits in Redis when CONCLAVE_REDIS_URL is set; /metrics when CONCLAVE_METRICS_PORT or _TOKEN is.
  const metrics = metricsOptionsFromEnv();
  const app = await createConclaveServer({
    store,
    ds: { retention: retentionFromEnv() },
    rateLimitStore: rateLimitStoreFromEnv(store),
    ...(opts.logger === true ? { logger: true } : { log: logOptionsFrom(opts.logLevel) }),
    ...(metrics === undefined ? {} : { metrics }),
    keyEncryptionKey,
    domain: opts.domain,
    ...(webAppRoot === undefined ? {} : { webAppRoot }),
    ...(opts.federation === undefined ? {} : { federation: opts.federation }),
    ...(opts.rateLimits === false ? { limits: { rateLimitPerIp: false, rateLimitPerClient: false } } : {}),
    accounts: {
      ...(opts.openRegistration === true ? { nameProof: { kind: "open" } } : {}),
      ...(opts.adminToken !== undefined ? { adminToken: opts.adminToken } : {}),
      ...(opts.rateLimits === false ? { creationPerIp: false, creationPerPrefix: false } : {}),
    },
  });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("server has no TCP address");
  return { url: `http://${opts.host}:${addr.port}`, close: () => app.close() };
}
