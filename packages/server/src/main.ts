/**
 * Runs the Conclave DS + AS on the embedded default: one SQLite file, no other
 * service. Configuration comes from the environment so the same entry point
 * serves a laptop and a container:
 *   CONCLAVE_DB         SQLite file (default .conclave/conclave.sqlite)
 *   CONCLAVE_PG         PostgreSQL connection string (overrides CONCLAVE_DB)
 *   CONCLAVE_HOST/PORT  listen address (default 127.0.0.1:7300)
 *   CONCLAVE_DOMAIN     the domain in issued identities (default localhost)
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createConclaveServer } from "./http/app.js";
import type { StoreConfig } from "./storage/index.js";

function storeFromEnv(): StoreConfig {
  const pg = process.env.CONCLAVE_PG;
  if (pg) return { engine: "postgres", connectionString: pg };
  const path = resolve(process.env.CONCLAVE_DB ?? ".conclave/conclave.sqlite");
  mkdirSync(dirname(path), { recursive: true });
  return { engine: "sqlite", path };
}

const store = storeFromEnv();
const app = await createConclaveServer({ store, domain: process.env.CONCLAVE_DOMAIN ?? "localhost", logger: true });
const host = process.env.CONCLAVE_HOST ?? "127.0.0.1";
const port = Number(process.env.CONCLAVE_PORT ?? 7300);
await app.listen({ host, port });
console.log(`conclave: DS+AS listening on http://${host}:${port}/v1 (${store.engine}${store.engine === "sqlite" ? ` ${store.path}` : ""}); OpenAPI at /v1/openapi.json`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
