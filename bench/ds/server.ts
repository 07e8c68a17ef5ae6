/**
 * The Conclave DS+AS under test, alone in its process: the store of
 * BENCH_STORE ("sqlite:<file>" or "postgres:<connection string>#<schema>"),
 * no rate limits (every load client is 127.0.0.1) nor KeyPackage-claim limits, no logs, no metrics hooks
 * unless BENCH_METRICS=1, an admin token so the bench can make invites.
 * Prints "LISTENING <url>".
 */
import { createConclaveServer, type StoreConfig } from "../../packages/server/src/index.js";
import { CHILD_ADMIN_TOKEN } from "../../packages/server/test/support/child.js";
import { TEST_ACCOUNTS } from "../../packages/server/test/support/server.js";
import { BENCH_METRICS_TOKEN, stopOnSignal } from "./processes.js";

const spec = process.env.BENCH_STORE ?? "";
const colon = spec.indexOf(":");
const [engine, where] = [spec.slice(0, colon), spec.slice(colon + 1)];
function storeConfig(): StoreConfig {
  if (engine === "sqlite") return { engine: "sqlite", path: where };
  const hash = where.lastIndexOf("#");
  return { engine: "postgres", connectionString: where.slice(0, hash), schema: where.slice(hash + 1), maxConnections: 10 };
}

const app = await createConclaveServer({
  store: storeConfig(),
  domain: "example.com",
  limits: { rateLimitPerIp: false, rateLimitPerClient: false },
  accounts: { ...TEST_ACCOUNTS, adminToken: CHILD_ADMIN_TOKEN },
  // One creator claims a KeyPackage for each of up to 999 members: the anti-draining claim limits would stop it.
  ds: { keyPackageClaims: { perClaimer: false, perTarget: false } },
  ...(process.env.BENCH_METRICS === "1" ? { metrics: { token: BENCH_METRICS_TOKEN, processMetrics: false } } : {}),
});
await app.listen({ host: "127.0.0.1", port: 0 });
const addr = app.server.address();
if (addr === null || typeof addr === "string") throw new Error("no address");
stopOnSignal(() => app.close());
process.stdout.write(`LISTENING http://127.0.0.1:${addr.port}\n`);
