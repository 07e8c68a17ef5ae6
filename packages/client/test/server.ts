/** A real Conclave DS+AS on SQLite in a temp dir, listening on 127.0.0.1:0. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConclaveServer } from "@conclave/server";

export interface TestServer {
  readonly url: string;
  readonly dir: string;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-client-"));
  const app = await createConclaveServer({
    store: { engine: "sqlite", path: join(dir, "ds.sqlite") },
    domain: "example.com",
    limits: { rateLimitPerIp: false, rateLimitPerClient: false },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("no TCP address");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    dir,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
