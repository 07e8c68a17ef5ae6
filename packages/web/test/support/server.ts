/** A real DS+AS on SQLite in a temp dir serving a freshly built EmojisOnly at /, user names against invite tokens. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CreateInviteResponse } from "@conclave/api";
import { createConclaveServer } from "@conclave/server";
import { buildWebApp, type WebBuild } from "../../src/build/build.js";

const ADMIN_TOKEN = "emojisonly-e2e-admin";

export interface WebTestServer {
  readonly url: string;
  readonly build: WebBuild;
  /** A single-use invite token from the admin route (the server gives user names against invites). */
  invite(): Promise<string>;
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
    accounts: { adminToken: ADMIN_TOKEN, creationPerIp: false, creationPerPrefix: false },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("no TCP address");
  const url = `http://127.0.0.1:${addr.port}`;
  return {
    url,
    build,
    async invite() {
      const res = await fetch(`${url}/v1/admin/invites`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (res.status !== 201) throw new Error(`invite: HTTP ${res.status} ${await res.text()}`);
      return ((await res.json()) as CreateInviteResponse).token;
    },
    async close() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
