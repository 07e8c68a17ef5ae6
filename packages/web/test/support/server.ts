/** A real DS+AS on SQLite in a temp dir serving a freshly built EmojisOnly at /. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConclaveServer } from "@conclave/server";
import { buildWebApp, type WebBuild } from "../../src/build/build.js";

export interface WebTestServer {
  readonly url: string;
  readonly build: WebBuild;
  close(): Promise<void>;
}

export async function startWebTestServer(): Promise<WebTestServer> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-web-"));
  const build = await buildWebApp(join(dir, "web"));
  const app = await createConclaveServer({
    store: { engine: "sqlite", path: join(dir, "ds.sqlite") },
    domain: "example.com",
    webAppRoot: build.outDir,
    limits: { rateLimitPerIp: false, rateLimitPerClient: false },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("no TCP address");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    build,
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
