/**
 * The shipped entry points, run as real processes, wire issue 18's operations
 * settings: `npm run main` (packages/server/src/main.ts) on PostgreSQL keeps
 * its rate-limit buckets in that database, logs at `--log-level` with secrets
 * redacted and is quiet by default, and serves /metrics on its own port when
 * CONCLAVE_METRICS_PORT is set; `conclave serve` with CONCLAVE_REDIS_URL keeps
 * its buckets in Redis.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PG_URL, POSTGRES_AVAILABLE } from "./support/engines.js";
import { startProcess, type Started } from "./support/process.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const MAIN = resolve(ROOT, "packages/server/src/main.ts");
const CLI = resolve(ROOT, "packages/cli/bin/conclave.js");
const REDIS_URL = process.env.CONCLAVE_TEST_REDIS ?? "redis://127.0.0.1:6379";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

type Proc = Pick<Started, "out" | "stop">;

/** Starts `args` from the repository root, ready once stdout shows `ready`. */
function run(args: string[], env: Record<string, string>, ready: RegExp): Promise<Started> {
  return startProcess(args, { ...process.env, CONCLAVE_REDIS_URL: "", CONCLAVE_LOG_LEVEL: "", ...env }, ready, ROOT);
}

const database = `conclave_f_ops_${process.pid}_${randomBytes(3).toString("hex")}`;
const dbUrl = (() => {
  const u = new URL(PG_URL);
  u.pathname = `/${database}`;
  return u.toString();
})();

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe.skipIf(!POSTGRES_AVAILABLE)("npm run main on PostgreSQL", () => {
  const procs: Proc[] = [];
  const kek = randomBytes(32).toString("base64url");
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await admin((c) => c.query(`drop database if exists "${database}" with (force)`));
  });

  it("keeps rate-limit buckets in the database, logs at --log-level with secrets redacted, serves /metrics on its own port", async () => {
    await admin((c) => c.query(`create database "${database}"`));
    const [port, metricsPort] = [await freePort(), await freePort()];
    const env = { CONCLAVE_PG: dbUrl, CONCLAVE_PORT: String(port), CONCLAVE_METRICS_PORT: String(metricsPort), CONCLAVE_KEK: kek };
    const p = await run(["--import", "tsx", MAIN, "--log-level", "info"], env, /listening on/);
    procs.push(p);
    const base = `http://127.0.0.1:${port}`;
    const secret = "Bearer not-a-real-token-but-secret-all-the-same";
    expect((await fetch(`${base}/v1/health`)).status).toBe(200);
    expect((await fetch(`${base}/v1/queue`, { headers: { authorization: secret } })).status).toBe(401);

    const rows = await admin((c) => c.query<{ key: string }>("select key from rate_limit_buckets"), dbUrl);
    expect(rows.rows.map((r) => r.key)).toContain("ip:127.0.0.1");

    const logged = p.out.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg?: string; req?: { url?: string; headers?: Record<string, string> } });
    const withAuth = logged.filter((l) => l.req?.url === "/v1/queue");
    expect(withAuth.length).toBe(1);
    expect(withAuth[0]!.req!.headers!.authorization).toBe("[redacted]");
    expect(p.out.join("\n")).not.toContain("not-a-real-token");

    expect((await fetch(`${base}/metrics`)).status).toBe(404); // not on the API port without a token
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/conclave_http_requests_total\{method="GET",route="\/v1\/health",status="200"\} 1/);
    await p.stop();
  });

  it("is quiet by default: no line per request", async () => {
    const port = await freePort();
    const p = await run(["--import", "tsx", MAIN], { CONCLAVE_PG: dbUrl, CONCLAVE_PORT: String(port), CONCLAVE_KEK: kek }, /listening on/);
    procs.push(p);
    const before = p.out.length;
    for (let i = 0; i < 3; i++) expect((await fetch(`http://127.0.0.1:${port}/v1/health`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.out.slice(before)).toEqual([]);
    await p.stop();
  });
});

describe("conclave serve with CONCLAVE_REDIS_URL", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-ops-"));
  const prefix = `conclave:test:serve:${process.pid}:${randomBytes(3).toString("hex")}:`;
  let p: Proc | undefined;
  afterAll(async () => {
    await p?.stop();
    rmSync(dir, { recursive: true, force: true });
    const r = new Redis(REDIS_URL);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length > 0) await r.del(...keys);
    r.disconnect();
  });

  it("keeps its rate-limit buckets in Redis", async () => {
    p = await run([CLI, "serve", "--db", join(dir, "ds.sqlite"), "--port", "0", "--log-level", "warn"], { CONCLAVE_REDIS_URL: REDIS_URL, CONCLAVE_REDIS_PREFIX: prefix }, /listening on/);
    const url = /listening on (http:\/\/\S+)\/v1/.exec(p.out.join("\n"))![1]!;
    // A bucket's key lives until the bucket is full again (20 ms per token at the default 50/s):
    // spend 100 tokens at once, so it is still there to be seen.
    const statuses = await Promise.all(Array.from({ length: 100 }, () => fetch(`${url}/v1/health`).then((r) => r.status)));
    expect(statuses.every((x) => x === 200)).toBe(true);
    const r = new Redis(REDIS_URL);
    try {
      expect(await r.keys(`${prefix}*`)).toEqual([`${prefix}ip:127.0.0.1`]);
      expect(Number(await r.hget(`${prefix}ip:127.0.0.1`, "tokens"))).toBeLessThan(300 - 50);
    } finally {
      r.disconnect();
    }
  });
});
