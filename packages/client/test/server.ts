/** A real Conclave DS+AS on SQLite in a temp dir, listening on 127.0.0.1:0. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
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
    // First come, first served user names (explicitly, for tests): client-devices.test.ts covers invites.
    accounts: { nameProof: { kind: "open" }, creationPerIp: false, creationPerPrefix: false, recoveryCodeCost: 8 },
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

/**
 * One server for a whole test file (started in beforeAll, closed in
 * afterAll), and user names unique to this run so files can share nothing.
 */
export function sharedTestServer(tag: string): { readonly server: () => TestServer; uniq(name: string): string } {
  let s: TestServer | undefined;
  let n = 0;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.close();
  });
  return {
    server() {
      if (s === undefined) throw new Error("the test server is not running");
      return s;
    },
    uniq: (name) => `${name}${++n}${tag}${Math.floor(Math.random() * 1e6)}`,
  };
}
