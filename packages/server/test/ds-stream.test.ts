import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import WebSocket from "ws";
import { toBase64Url, type StreamServerFrame } from "@conclave/api";
import { bytesEqual } from "@conclave/mls";
import { createConclaveServer } from "../src/index.js";
import { createPostgresStore, type Store } from "../src/storage/index.js";
import { dropSchema, ENGINES, freshSchemaName, PG_URL, POSTGRES } from "./support/engines.js";
import { CHILD_ADMIN_TOKEN } from "./support/child.js";
import { registerDevice, startServer, TEST_ACCOUNTS, type Device, type RunningServer } from "./support/server.js";
import { applicationMessage, NO_RATE_LIMITS, unb64 } from "./ds-support.js";
import { groupOf } from "./support/mlsGroup.js";

/** A stream client that records every frame. */
class StreamClient {
  readonly frames: StreamServerFrame[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()) as StreamServerFrame);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(baseUrl: string, token: string): Promise<StreamClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new StreamClient(ws)));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }
  messages() {
    return this.frames.flatMap((f) => (f.type === "message" ? [f.entry] : []));
  }
  /** The latest position frame's cursor. */
  cursor() {
    const p = this.frames.filter((f) => f.type === "position").at(-1);
    if (p?.type !== "position") throw new Error("no position frame yet");
    return p.cursor;
  }
  async waitFor(pred: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  close() {
    this.ws.close();
  }
}

async function req<T>(base: string, method: string, path: string, token: string, opts: { json?: unknown; mls?: Uint8Array } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.mls !== undefined) {
    headers["content-type"] = "message/mls";
    body = Buffer.from(opts.mls);
  }
  const r = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: r.status, body: (await r.json().catch(() => undefined)) as T };
}

/** alice creates a real MLS group and adds bob (his Welcome waits in his queue). */
async function twoMemberGroup(s: RunningServer, a: Device, b: Device): Promise<Uint8Array> {
  const [alice] = await groupOf(s, a, [b]);
  return alice!.group.groupId;
}

describe.each(ENGINES)("DS /v1/stream [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, NO_RATE_LIMITS);
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("pushes queued entries on connect, then new ones as they arrive, and takes acks", async () => {
      const a = await registerDevice(s, `st-a-${engine.name}`, "d");
      const b = await registerDevice(s, `st-b-${engine.name}`, "d");
      const g = await twoMemberGroup(s, a, b);
      const stream = await StreamClient.open(s.url, b.token);
      await stream.waitFor(() => stream.messages().length === 1);
      expect(stream.messages()[0]!.kind).toBe("welcome");
      const app = applicationMessage(g, 1n, new Uint8Array([7, 7, 7]));
      expect((await req(s.url, "POST", `/v1/groups/${toBase64Url(g)}/messages`, a.token, { mls: app })).status).toBe(202);
      await stream.waitFor(() => stream.messages().length === 2);
      const got = stream.messages()[1]!;
      expect(got.kind).toBe("application");
      expect(bytesEqual(unb64(got.message), app)).toBe(true);
      expect(got.source).toBe("group");
      // The last position covers the group message; the Welcome's position came in the first one.
      await stream.waitFor(() => stream.frames.filter((f) => f.type === "position").length === 2);
      const first = stream.frames.find((f) => f.type === "position");
      expect(first?.type === "position" ? first.cursor.direct : -1).toBe(stream.messages()[0]!.seq);
      stream.ws.send(JSON.stringify({ type: "ack", cursor: { ...stream.cursor(), direct: stream.messages()[0]!.seq } }));
      await stream.waitFor(() => stream.frames.some((f) => f.type === "acked"));
      expect(stream.frames.find((f) => f.type === "acked")).toEqual({ type: "acked", acknowledged: 2 });
      stream.close();
      // Reconnecting after the ack replays nothing.
      const again = await StreamClient.open(s.url, b.token);
      expect((await req(s.url, "POST", `/v1/groups/${toBase64Url(g)}/messages`, a.token, { mls: applicationMessage(g, 1n, new Uint8Array([8])) })).status).toBe(202);
      await again.waitFor(() => again.messages().length === 1);
      expect(again.messages().map((e) => [e.source, e.seq])).toEqual([["group", got.seq + 1]]);
      again.close();
    });

    it("refuses an upgrade without a valid token or on another path", async () => {
      await expect(StreamClient.open(s.url, "bogus")).rejects.toThrow(/401/);
      const ws = new WebSocket(`${s.url.replace(/^http/, "ws")}/v1/nope`);
      const code = await new Promise<number>((resolve) => ws.once("unexpected-response", (_r, res) => resolve(res.statusCode ?? 0)));
      expect(code).toBe(404);
    });
  });
});

/** The status and error code of a refused upgrade. */
function refusedUpgrade(baseUrl: string, token: string): Promise<{ status: number; code: string | undefined }> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.close();
      reject(new Error("the upgrade was accepted"));
    });
    ws.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code?: string } }).error?.code }));
    });
    ws.once("error", () => undefined);
  });
}

describe("DS /v1/stream limits and bad frames [sqlite]", () => {
  const engine = ENGINES[0]!;
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(engine, {
      limits: { rateLimitPerIp: { capacity: 60, refillPerSecond: 0.001 }, rateLimitPerClient: { capacity: 12, refillPerSecond: 0.001 }, maxStreamsPerClient: 2 },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("answers an unusable frame with an error frame and keeps serving the connection", async () => {
    const b = await registerDevice(s, "stl-b", "d");
    const stream = await StreamClient.open(s.url, b.token);
    stream.ws.send("not json");
    stream.ws.send(JSON.stringify({ type: "hello" }));
    stream.ws.send(JSON.stringify({ type: "ack", cursor: { direct: 0, groups: [] } }));
    await stream.waitFor(() => stream.frames.length === 3);
    expect(stream.frames.map((f) => (f.type === "error" ? f.error.code : f.type))).toEqual(["MALFORMED_JSON", "BAD_REQUEST", "acked"]);
    stream.close();
  });

  it("caps open streams per client (429 RATE_LIMITED) and frees a slot on close", async () => {
    const c = await registerDevice(s, "stl-c", "d");
    const one = await StreamClient.open(s.url, c.token);
    const two = await StreamClient.open(s.url, c.token);
    expect(await refusedUpgrade(s.url, c.token)).toEqual({ status: 429, code: "RATE_LIMITED" });
    two.close();
    const deadline = Date.now() + 10_000;
    let three: StreamClient | undefined;
    while (three === undefined) {
      three = await StreamClient.open(s.url, c.token).catch(() => undefined);
      if (three === undefined && Date.now() > deadline) throw new Error("the closed stream's slot was never freed");
    }
    one.close();
    three.close();
  });

  it("counts every client frame against the client's bucket: a flood of acks gets RATE_LIMITED frames", async () => {
    const d = await registerDevice(s, "stl-d", "d");
    const stream = await StreamClient.open(s.url, d.token);
    for (let i = 0; i < 30; i++) stream.ws.send(JSON.stringify({ type: "ack", cursor: { direct: 0, groups: [] } }));
    await stream.waitFor(() => stream.frames.length === 30);
    const acked = stream.frames.filter((f) => f.type === "acked").length;
    const limited = stream.frames.filter((f) => f.type === "error" && f.error.code === "RATE_LIMITED").length;
    expect(acked + limited).toBe(30);
    expect(acked).toBeLessThanOrEqual(12);
    expect(limited).toBeGreaterThanOrEqual(18);
    stream.close();
  });

  it("counts upgrade attempts against the IP's bucket, before authenticating them", async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 80 && !seen.has(429); i++) seen.add((await refusedUpgrade(s.url, "bogus")).status);
    expect(seen.has(429)).toBe(true);
  });
});

describe.skipIf(!POSTGRES.available)("DS cross-process fan-out through PostgreSQL LISTEN/NOTIFY", () => {
  const schema = freshSchemaName();
  const apps: FastifyInstance[] = [];
  const stores: Store[] = [];
  const urls: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const store = await createPostgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
      const app = await createConclaveServer({
        store,
        domain: "example.com",
        limits: NO_RATE_LIMITS.limits,
        ds: { postgresNotify: { connectionString: PG_URL, channel: schema } },
        accounts: { ...TEST_ACCOUNTS, adminToken: CHILD_ADMIN_TOKEN },
      });
      await app.listen({ host: "127.0.0.1", port: 0 });
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no address");
      stores.push(store);
      apps.push(app);
      urls.push(`http://127.0.0.1:${addr.port}`);
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const st of stores) await st.close();
    await dropSchema(schema);
  });

  it("delivers a message accepted by one process to a client streaming from the other", async () => {
    // registerDevice needs a RunningServer-shaped object: talk to process A.
    const sA = {
      url: urls[0]!,
      request: (method: string, path: string, opts: { json?: unknown; token?: string } = {}) =>
        req(urls[0]!, method, path, opts.token ?? "", opts.json !== undefined ? { json: opts.json } : {}),
    } as unknown as RunningServer;
    const a = await registerDevice(sA, "xp-alice", "d");
    const b = await registerDevice(sA, "xp-bob", "d");
    const g = await twoMemberGroup(sA, a, b);
    const streamB = await StreamClient.open(urls[1]!, b.token);
    await streamB.waitFor(() => streamB.messages().length === 1);
    for (let i = 0; i < 5; i++) {
      expect((await req(urls[0]!, "POST", `/v1/groups/${toBase64Url(g)}/messages`, a.token, { mls: applicationMessage(g, 1n, new Uint8Array([i])) })).status).toBe(202);
    }
    await streamB.waitFor(() => streamB.messages().length === 6, 5000);
    expect(
      streamB
        .messages()
        .slice(1)
        .map((e) => unb64(e.message).at(-1)),
    ).toEqual([0, 1, 2, 3, 4]);

    // The LISTEN connections die (failover, idle kill): the notifiers reconnect and
    // wake their streams, so a message accepted meanwhile still arrives.
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const killed = await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where query = $1 or query = $2", [`listen ${schema}`, "select pg_notify($1, $2)"]);
      expect(killed.rowCount).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.end();
    }
    expect((await req(urls[0]!, "POST", `/v1/groups/${toBase64Url(g)}/messages`, a.token, { mls: applicationMessage(g, 1n, new Uint8Array([5])) })).status).toBe(202);
    await streamB.waitFor(() => streamB.messages().length === 7, 10_000);
    expect(unb64(streamB.messages()[6]!.message).at(-1)).toBe(5);
    streamB.close();
  });
});
