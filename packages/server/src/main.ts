/**
 * Runs the Conclave DS + AS on the embedded default: one SQLite file, no other
 * service. Configuration comes from the environment so the same entry point
 * serves a laptop and a container:
 *   CONCLAVE_DB         SQLite file (default .conclave/conclave.sqlite)
 *   CONCLAVE_PG         PostgreSQL connection string (overrides CONCLAVE_DB)
 *   CONCLAVE_HOST/PORT  listen address (default 127.0.0.1:7300)
 *   CONCLAVE_DOMAIN     the domain in issued identities (default localhost)
 *   CONCLAVE_KEK        key-encryption key for the AS private keys (32 bytes, base64url)
 *   CONCLAVE_KEY_FILE   or a file holding it (default for SQLite: conclave.kek beside the
 *                       database, created on first start; PostgreSQL has no default)
 *   CONCLAVE_REDIS_URL  rate-limit buckets in Redis (default: in PostgreSQL on PostgreSQL, else in memory);
 *                       CONCLAVE_REDIS_PREFIX their key prefix (default conclave:rl:)
 *   CONCLAVE_ADMIN_TOKEN enables POST /v1/admin/invites (user names are claimed with invites)
 *   CONCLAVE_LOG_LEVEL  or --log-level: fatal|error|warn|info|debug|trace|silent (default warn)
 *   CONCLAVE_METRICS_PORT / _HOST / _TOKEN  Prometheus /metrics (observability/fromEnv.ts)
 *   CONCLAVE_PUBLIC_URL, CONCLAVE_FEDERATION_*  federation with other domains (federation/options.ts)
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createConclaveServer } from "./http/app.js";
import { retentionFromEnv } from "./ds/retention.js";
import { rateLimitStoreFromEnv } from "./http/rateLimitStores/index.js";
import { logLevelFlag, logOptionsFrom, metricsOptionsFromEnv } from "./observability/fromEnv.js";
import { defaultWebAppRoot } from "./http/static.js";
import { keyEncryptionKeyFromFile, parseKeyEncryptionKey } from "./keyFile.js";
import { KeyWrapError } from "./as/keyWrap.js";
import type { StoreConfig } from "./storage/index.js";
import { federationOptionsFromEnv } from "./federation/options.js";

function storeFromEnv(): StoreConfig {
  const pg = process.env.CONCLAVE_PG;
  if (pg) return { engine: "postgres", connectionString: pg };
  const path = resolve(process.env.CONCLAVE_DB ?? ".conclave/conclave.sqlite");
  mkdirSync(dirname(path), { recursive: true });
  return { engine: "sqlite", path };
}

/** CONCLAVE_PORT as `conclave serve --port` takes it: digits only, 0..65535 (0: any free port); empty is an error, not port 0. */
function portFromEnv(raw: string | undefined): number {
  if (raw === undefined) return 7300;
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (port >= 0 && port <= 65535) return port;
  console.error(`conclave: USAGE: bad CONCLAVE_PORT ${JSON.stringify(raw)}: expected a number from 0 to 65535`);
  process.exit(2);
}

/** The AS keys are sealed at rest unless no key is configured for PostgreSQL (the log says so). */
function keyEncryptionKeyFromEnv(store: StoreConfig): Uint8Array | undefined {
  if (process.env.CONCLAVE_KEK) return parseKeyEncryptionKey(process.env.CONCLAVE_KEK);
  if (process.env.CONCLAVE_KEY_FILE) return keyEncryptionKeyFromFile(resolve(process.env.CONCLAVE_KEY_FILE), false);
  if (store.engine === "sqlite" && store.path !== undefined) return keyEncryptionKeyFromFile(join(dirname(store.path), "conclave.kek"), true);
  return undefined;
}

/** A key-encryption key problem is the operator's to fix: one line with a stable code, exit 1, no stack trace. */
function exitOnKeyError(e: unknown): never {
  if (e instanceof KeyWrapError) {
    console.error(`conclave: KEY_ENCRYPTION_KEY: ${e.message}`);
    process.exit(1);
  }
  throw e;
}

const host = process.env.CONCLAVE_HOST ?? "127.0.0.1";
const port = portFromEnv(process.env.CONCLAVE_PORT);
const store = storeFromEnv();
let keyEncryptionKey: Uint8Array | undefined;
try {
  keyEncryptionKey = keyEncryptionKeyFromEnv(store);
} catch (e) {
  exitOnKeyError(e);
}
// The EmojisOnly web app at / when this is a checkout (http/static.ts).
const webAppRoot = defaultWebAppRoot();
// Logs quiet by default (--log-level / CONCLAVE_LOG_LEVEL), metrics when configured, rate limits shared on PostgreSQL or Redis.
const metrics = metricsOptionsFromEnv();
const observability = { log: logOptionsFrom(logLevelFlag()), rateLimitStore: rateLimitStoreFromEnv(store), ...(metrics === undefined ? {} : { metrics }) };
// Invites for user names (the default name proof), as `conclave serve --admin-token`.
const adminToken = process.env.CONCLAVE_ADMIN_TOKEN;
// Federation when CONCLAVE_PUBLIC_URL or CONCLAVE_FEDERATION_PEERS is set (docs/federation.md).
const federation = federationOptionsFromEnv(process.env, `http://${host}:${port}`);
const app = await createConclaveServer({
  store,
  ds: { retention: retentionFromEnv() },
  domain: process.env.CONCLAVE_DOMAIN ?? "localhost",
  ...observability,
  ...(webAppRoot === undefined ? {} : { webAppRoot }),
  ...(adminToken ? { accounts: { adminToken } } : {}),
  ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }),
  ...(federation === undefined ? {} : { federation }),
}).catch(exitOnKeyError);
if (keyEncryptionKey === undefined) app.log.warn("no CONCLAVE_KEK or CONCLAVE_KEY_FILE: the AS private keys are stored in the database in the clear");
await app.listen({ host, port });
const bound = app.server.address();
// With port 0 the system picked one: print the port actually bound.
const url = `http://${host}:${typeof bound === "object" && bound !== null ? bound.port : port}`;
console.log(`conclave: DS+AS listening on ${url}/v1 (${store.engine}${store.engine === "sqlite" ? ` ${store.path}` : ""}); OpenAPI at /v1/openapi.json`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
