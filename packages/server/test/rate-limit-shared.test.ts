/**
 * Rate limits shared by several server processes (issue 18: "many processes,
 * one service"): the token buckets live in PostgreSQL or Redis, so N processes
 * enforce one limit, not N. Played against the real stores and real child
 * server processes over loopback HTTP; a control run with per-process memory
 * buckets shows the same test tells the difference. And the documented
 * fail-safe: while Redis is down or silent, every process keeps limiting on its
 * own (no 5xx, no unlimited window), and goes back to the shared buckets when
 * Redis answers again.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, Socket, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConclaveServer, PostgresBucketStore, RedisBucketStore, type BucketStore, type TokenBucketConfig } from "../src/index.js";
import { dropSchema, freshSchemaName, PG_URL, POSTGRES_AVAILABLE, SQLITE } from "./support/engines.js";
import { remote } from "./support/child.js";
import { startProcess } from "./support/process.js";
import { registerDevice } from "./support/server.js";

const REDIS_URL = process.env.CONCLAVE_TEST_REDIS ?? "redis://127.0.0.1:6379";
const CHILD = fileURLToPath(new URL("./rate-limit-child-server.ts", import.meta.url));
const SLOW: TokenBucketConfig = { capacity: 12, refillPerSecond: 0.001 }; // no refill within a test

async function redisReachable(): Promise<boolean> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
const REDIS_AVAILABLE = await redisReachable();
if (!REDIS_AVAILABLE && process.env.CI === "true") throw new Error(`CI=true but Redis is not reachable at ${REDIS_URL}`);
if (!REDIS_AVAILABLE) console.warn(`\n!!!!! Redis not reachable at ${REDIS_URL}: Redis rate-limit tests SKIPPED !!!!!\n`);

const prefix = () => `conclave:test:${process.pid}:${randomBytes(4).toString("hex")}:`;

async function deleteKeys(keyPrefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${keyPrefix}*`);
    if (keys.length > 0) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}

const redisPrefix = prefix();
const storeSchema = freshSchemaName();
afterAll(async () => {
  if (REDIS_AVAILABLE) await deleteKeys(redisPrefix);
  if (POSTGRES_AVAILABLE) await dropSchema(storeSchema);
});

/** The shared stores' common contract, each store opened twice as two processes would. */
const SHARED_STORES = [
  { name: "RedisBucketStore", available: REDIS_AVAILABLE, open: (): BucketStore => RedisBucketStore.open({ url: REDIS_URL, keyPrefix: redisPrefix }) },
  {
    name: "PostgresBucketStore",
    available: POSTGRES_AVAILABLE,
    open: (): BucketStore => PostgresBucketStore.open({ connectionString: PG_URL, schema: storeSchema, maxConnections: 4, sweepEveryMs: 0 }),
  },
];

describe.each(SHARED_STORES)("$name", ({ available, open }) => {
  it.skipIf(!available)("two instances spend one bucket: of 200 concurrent takes exactly `capacity` are granted", async () => {
    const [a, b] = [open(), open()];
    try {
      const config = { capacity: 25, refillPerSecond: 0.001 };
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).take("k1", config)));
      expect(results.filter((r) => r.ok).length).toBe(25);
      for (const r of results) if (!r.ok) expect(r.retryAfterMs).toBeGreaterThan(900_000); // ~1 token / 1000 s
      // Another key is another bucket.
      expect((await b.take("k2", config)).ok).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it.skipIf(!available)("refills at the configured rate and tells how long until the next token", async () => {
    const s = open();
    try {
      const config = { capacity: 1, refillPerSecond: 1 };
      expect(await s.take("refill", config)).toEqual({ ok: true });
      const refused = await s.take("refill", config);
      if (refused.ok) throw new Error("a second take within a second was granted");
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1000);
      await new Promise((r) => setTimeout(r, refused.retryAfterMs + 50));
      expect(await s.take("refill", config)).toEqual({ ok: true });
    } finally {
      await s.close();
    }
  });
});

describe("shared stores stay bounded", () => {
  it.skipIf(!REDIS_AVAILABLE)("a Redis bucket's key expires when the bucket would be full again", async () => {
    const s = RedisBucketStore.open({ url: REDIS_URL, keyPrefix: redisPrefix });
    const r = new Redis(REDIS_URL);
    try {
      await s.take("ttl", { capacity: 10, refillPerSecond: 5 }); // one token short: full again in 200 ms
      const ttl = await r.pttl(`${redisPrefix}ttl`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(201);
    } finally {
      r.disconnect();
      await s.close();
    }
  });

  it.skipIf(!POSTGRES_AVAILABLE)("a PostgreSQL take that carries an earlier clock reading never moves the bucket's time back", async () => {
    // Two takes read clock_timestamp() before either locks the row; the later to lock may carry
    // the earlier reading. Played here by moving the stored time 60 s ahead of the next take's.
    const s = PostgresBucketStore.open({ connectionString: PG_URL, schema: storeSchema, table: "rl_clock", sweepEveryMs: 0 });
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    try {
      const config = { capacity: 2, refillPerSecond: 1 };
      expect((await s.take("c", config)).ok).toBe(true);
      await db.query(`update "${storeSchema}".rl_clock set updated_at = updated_at + 60000 where key = 'c'`);
      const ahead = Number((await db.query<{ t: number }>(`select updated_at as t from "${storeSchema}".rl_clock where key = 'c'`)).rows[0]!.t);
      expect((await s.take("c", config)).ok).toBe(true); // the last token; no refill for a negative span
      const after = Number((await db.query<{ t: number }>(`select updated_at as t from "${storeSchema}".rl_clock where key = 'c'`)).rows[0]!.t);
      expect(after).toBe(ahead);
      // Had the time gone back 60 s, this take would refill those 60 s a second time and be granted.
      expect((await s.take("c", config)).ok).toBe(false);
    } finally {
      await db.end();
      await s.close();
    }
  });

  it.skipIf(!POSTGRES_AVAILABLE)("the PostgreSQL sweep deletes only buckets that are full again", async () => {
    const s = PostgresBucketStore.open({ connectionString: PG_URL, schema: storeSchema, table: "rl_sweep", sweepEveryMs: 0 });
    try {
      await s.take("fast", { capacity: 2, refillPerSecond: 20 }); // full again in 50 ms
      await s.take("slow", { capacity: 5, refillPerSecond: 0.001 });
      await new Promise((r) => setTimeout(r, 100));
      expect(await s.sweep()).toBe(1);
      expect(await s.sweep()).toBe(0);
      expect((await s.take("slow", { capacity: 5, refillPerSecond: 0.001 })).ok).toBe(true); // kept: 3 left
    } finally {
      await s.close();
    }
  });
});

// ---- Child server processes ------------------------------------------------------------------

interface Child {
  readonly url: string;
  readonly kind: string;
  stop(): Promise<void>;
}

async function startChild(env: Record<string, string>): Promise<Child> {
  const p = await startProcess(["--import", "tsx", CHILD], { ...process.env, CONCLAVE_REDIS_URL: "", ...env }, /LISTENING (\S+) (\S+)/);
  return { url: p.match[1]!, kind: p.match[2]!, stop: p.stop };
}

/** `n` concurrent GET `path` spread over the servers in turn; the statuses. */
async function hammer(urls: readonly string[], n: number, path = "/v1/health", token?: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const r = await fetch(urls[i % urls.length]! + path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { error?: { code?: string } };
      if (r.status === 429) expect(body.error?.code).toBe("RATE_LIMITED");
      return r.status;
    }),
  );
}
const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe("two server processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-rl-"));
  const children: Child[] = [];
  const schemas: string[] = [];
  const prefixes: string[] = [];
  const start = async (env: Record<string, string>): Promise<Child> => {
    const c = await startChild(env);
    children.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
    await Promise.all(schemas.map(dropSchema));
    await Promise.all(prefixes.map(deleteKeys));
  });

  it("control: with per-process memory buckets (two SQLite processes) each process grants the full limit", async () => {
    const rl = JSON.stringify({ perIp: SLOW });
    const [a, b] = await Promise.all([
      start({ CONCLAVE_STORE: `sqlite:${join(dir, "a.sqlite")}`, CONCLAVE_RL: rl }),
      start({ CONCLAVE_STORE: `sqlite:${join(dir, "b.sqlite")}`, CONCLAVE_RL: rl }),
    ]);
    expect([a.kind, b.kind]).toEqual(["memory", "memory"]);
    const statuses = await hammer([a.url, b.url], 60);
    expect(count(statuses, 200)).toBe(2 * SLOW.capacity);
    await Promise.all([a.stop(), b.stop()]);
  });

  it.skipIf(!POSTGRES_AVAILABLE)("on one PostgreSQL they share the per-IP limit: 60 requests over both, exactly `capacity` granted", async () => {
    const schema = freshSchemaName();
    schemas.push(schema);
    const rl = JSON.stringify({ perIp: SLOW });
    const a = await start({ CONCLAVE_STORE: `postgres:${schema}`, CONCLAVE_RL: rl }); // one at a time: both migrate the schema
    const b = await start({ CONCLAVE_STORE: `postgres:${schema}`, CONCLAVE_RL: rl });
    expect([a.kind, b.kind]).toEqual(["postgres", "postgres"]);
    const statuses = await hammer([a.url, b.url], 60);
    expect(count(statuses, 200)).toBe(SLOW.capacity);
    expect(count(statuses, 429)).toBe(60 - SLOW.capacity);
    await Promise.all([a.stop(), b.stop()]);
  });

  it.skipIf(!POSTGRES_AVAILABLE)("on one PostgreSQL they share each client's limit", async () => {
    const schema = freshSchemaName();
    schemas.push(schema);
    const rl = JSON.stringify({ perClient: { capacity: 5, refillPerSecond: 0.001 } });
    const a = await start({ CONCLAVE_STORE: `postgres:${schema}`, CONCLAVE_RL: rl });
    const b = await start({ CONCLAVE_STORE: `postgres:${schema}`, CONCLAVE_RL: rl });
    const alice = await registerDevice(remote(a.url), "rl-alice", "d");
    const bob = await registerDevice(remote(b.url), "rl-bob", "d");
    const statuses = await hammer([a.url, b.url], 20, "/v1/clients/self", alice.token);
    expect(count(statuses, 200)).toBe(5);
    // Bob's bucket is his own, in either process.
    expect(await hammer([b.url, a.url], 2, "/v1/clients/self", bob.token)).toEqual([200, 200]);
    await Promise.all([a.stop(), b.stop()]);
  });

  it.skipIf(!REDIS_AVAILABLE)("with CONCLAVE_REDIS_URL they share the limit through Redis (two SQLite processes)", async () => {
    const p = prefix();
    prefixes.push(p);
    const rl = JSON.stringify({ perIp: SLOW });
    const env = { CONCLAVE_REDIS_URL: REDIS_URL, CONCLAVE_REDIS_PREFIX: p, CONCLAVE_RL: rl };
    const [a, b] = await Promise.all([start({ ...env, CONCLAVE_STORE: `sqlite:${join(dir, "ra.sqlite")}` }), start({ ...env, CONCLAVE_STORE: `sqlite:${join(dir, "rb.sqlite")}` })]);
    expect([a.kind, b.kind]).toEqual(["redis", "redis"]);
    const statuses = await hammer([a.url, b.url], 60);
    expect(count(statuses, 200)).toBe(SLOW.capacity);
    await Promise.all([a.stop(), b.stop()]);
  });
});

// ---- Fail-safe when Redis is down --------------------------------------------------------------

/** A TCP proxy to Redis that the test can cut and restore, or turn into a black hole (accepts, never answers). */
class RedisProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async up(mode: "forward" | "blackhole" = "forward"): Promise<void> {
    const target = new URL(REDIS_URL);
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on("close", () => this.sockets.delete(client));
      client.on("error", () => undefined);
      if (mode === "blackhole") return;
      const upstream = new Socket();
      this.sockets.add(upstream);
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      upstream.connect(Number(target.port || 6379), target.hostname, () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
    this.server = undefined;
  }
}

describe.skipIf(!REDIS_AVAILABLE)("fail-safe: Redis down or silent", () => {
  const limits = { rateLimitPerIp: { capacity: 3, refillPerSecond: 0.001 }, rateLimitPerClient: false } as const;

  async function serverOn(url: string): Promise<{ url: string; close(): Promise<void>; warnings: string[] }> {
    const t = await SQLITE.open();
    const warnings: string[] = [];
    const stream = { write: (line: string) => void warnings.push(String((JSON.parse(line) as { msg: unknown }).msg)) };
    const app = await createConclaveServer({ store: t.store, limits, rateLimitStore: { kind: "redis", url, keyPrefix: p }, logger: { level: "warn", stream } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as { port: number }).port;
    return { url: `http://127.0.0.1:${port}`, warnings, close: async () => (await app.close(), await t.dispose()) };
  }
  const p = prefix();
  afterAll(() => deleteKeys(p));

  it("limits per process while Redis is unreachable, then goes back to the shared bucket when it answers", async () => {
    const proxy = new RedisProxy();
    await proxy.up();
    const s = await serverOn(`redis://127.0.0.1:${proxy.port}`);
    try {
      expect(await hammer([s.url], 5)).toEqual([200, 200, 200, 429, 429]); // the shared bucket
      const r = new Redis(REDIS_URL);
      expect((await r.keys(`${p}*`)).length).toBe(1);

      await proxy.down();
      // Never a 5xx, never unlimited: a fresh per-process bucket of the same size.
      const during = await hammer([s.url], 6);
      expect(count(during, 200)).toBe(3);
      expect(count(during, 429)).toBe(3);
      expect(s.warnings.some((w) => w.includes("limiting per process"))).toBe(true);

      await proxy.up();
      await r.del(...(await r.keys(`${p}*`))); // the shared bucket full again: only Redis would now grant
      r.disconnect();
      let granted = false;
      for (let i = 0; i < 50 && !granted; i++) {
        granted = (await hammer([s.url], 1))[0] === 200;
        if (!granted) await new Promise((res) => setTimeout(res, 200));
      }
      expect(granted).toBe(true);
      expect(s.warnings.some((w) => w.includes("answering again"))).toBe(true);
    } finally {
      await s.close();
      await proxy.down();
    }
  });

  it("a Redis that accepts connections but never answers costs a timeout, not the request", async () => {
    const hole = new RedisProxy();
    await hole.up("blackhole");
    const s = await serverOn(`redis://127.0.0.1:${hole.port}`);
    try {
      const statuses = await hammer([s.url], 5);
      expect(statuses.filter((x) => x === 200).length).toBe(3);
      expect(statuses.filter((x) => x === 429).length).toBe(2);
    } finally {
      await s.close();
      await hole.down();
    }
  });

  it("a server whose Redis is down from the start starts and limits per process", async () => {
    const closed = new RedisProxy();
    await closed.up();
    const port = closed.port;
    await closed.down(); // nothing listens there now
    const s = await serverOn(`redis://127.0.0.1:${port}`);
    try {
      const statuses = await hammer([s.url], 5);
      expect([count(statuses, 200), count(statuses, 429)]).toEqual([3, 2]);
      const limited = await fetch(`${s.url}/v1/health`);
      expect([limited.status, ((await limited.json()) as { error: { code: string } }).error.code]).toEqual([429, "RATE_LIMITED"]);
      expect(limited.headers.get("retry-after")).not.toBeNull();
    } finally {
      await s.close();
    }
  });
});
