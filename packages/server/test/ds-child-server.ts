/**
 * A Conclave server in its own process, for the crash tests (ds-crash.test.ts):
 * CONCLAVE_STORE is "sqlite:<file>" or "postgres:<schema>"; prints
 * "LISTENING <url>" once it accepts connections.
 */
import { createConclaveServer } from "../src/index.js";
import { CHILD_ADMIN_TOKEN } from "./support/child.js";
import { PG_URL } from "./support/engines.js";
import { TEST_ACCOUNTS } from "./support/server.js";

const spec = process.env.CONCLAVE_STORE ?? "";
const [engine, where] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
const store = engine === "postgres" ? ({ engine: "postgres", connectionString: PG_URL, schema: where, maxConnections: 4 } as const) : ({ engine: "sqlite", path: where } as const);
const app = await createConclaveServer({
  store,
  domain: "example.com",
  limits: { rateLimitPerIp: false, rateLimitPerClient: false },
  accounts: { ...TEST_ACCOUNTS, adminToken: CHILD_ADMIN_TOKEN },
});
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const addr = app.server.address();
if (addr === null || typeof addr === "string") throw new Error("no address");
process.stdout.write(`LISTENING http://127.0.0.1:${addr.port}\n`);
