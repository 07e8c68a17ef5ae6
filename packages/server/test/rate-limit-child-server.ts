/**
 * A Conclave server in its own process for the shared rate-limit tests
 * (rate-limit-shared.test.ts). Environment:
 *   CONCLAVE_STORE       "sqlite:<file>" or "postgres:<schema>"
 *   CONCLAVE_REDIS_URL   as for the shipped entry points (rateLimitStoreFromEnv)
 *   CONCLAVE_REDIS_PREFIX  its key prefix (tests keep their buckets apart)
 *   CONCLAVE_RL          JSON { perIp, perClient }: TokenBucketConfig or false
 * Prints "LISTENING <url>" once it accepts connections.
 */
import { openBucketStore } from "../src/http/rateLimitStores/index.js";
import { createConclaveServer, rateLimitStoreFromEnv, systemClock, type StoreConfig } from "../src/index.js";
import { CHILD_ADMIN_TOKEN } from "./support/child.js";
import { PG_URL } from "./support/engines.js";
import { TEST_ACCOUNTS } from "./support/server.js";

const spec = process.env.CONCLAVE_STORE ?? "";
const [engine, where] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
const store: StoreConfig = engine === "postgres" ? { engine: "postgres", connectionString: PG_URL, schema: where, maxConnections: 4 } : { engine: "sqlite", path: where };
const rl = JSON.parse(process.env.CONCLAVE_RL ?? "{}") as { perIp?: unknown; perClient?: unknown };
const fromEnv = rateLimitStoreFromEnv(store);
// The store the entry points pick, opened here with a generous failover timeout: these tests check
// that processes share buckets, and on a loaded machine a burst queued behind the store's 2
// connections can pass the default 250 ms, which (by design, tested in rate-limit-shared's
// fail-safe cases) limits that process on its own for a second and grants more than `capacity`.
const buckets = openBucketStore(fromEnv, systemClock, { timeoutMs: 10_000 });
const app = await createConclaveServer({
  store,
  domain: "example.com",
  limits: { rateLimitPerIp: (rl.perIp ?? false) as false, rateLimitPerClient: (rl.perClient ?? false) as false },
  rateLimitStore: buckets,
  accounts: { ...TEST_ACCOUNTS, adminToken: CHILD_ADMIN_TOKEN },
});
await app.listen({ host: "127.0.0.1", port: 0 });
const addr = app.server.address();
if (addr === null || typeof addr === "string") throw new Error("no address");
process.stdout.write(`LISTENING http://127.0.0.1:${addr.port} ${fromEnv.kind}\n`);
process.once(
  "SIGTERM",
  () =>
    void app.close().then(async () => {
      await buckets.close();
      process.exit(0);
    }),
);
