/**
 * Observability against a real server over loopback: the Prometheus endpoint
 * is scraped after real traffic (registrations, a group, commit bundles,
 * messages, queue reads, refused requests, a WebSocket stream) and its
 * counters must have moved by exactly what the answers said; the endpoint is
 * closed to requests without its token and can live on a port of its own; and
 * the structured logs carry no bearer token, no `?token=` and no message body.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { toBase64Url, type AcceptedResponse, type QueueResponse } from "@conclave/api";
import { createConclaveServer } from "../src/index.js";
import { REDACTED, redactUrl } from "../src/observability/logging.js";
import { ENGINES, SQLITE } from "./support/engines.js";
import { registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { applicationMessage } from "./ds-support.js";
import { addDevicesWithReply, createGroup } from "./support/mlsGroup.js";

const TOKEN = "metrics-token-0123456789abcdef";
const MLS = { "content-type": "message/mls" };

/** One sample's value from the exposition text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(s: RunningServer): Promise<string> {
  const r = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/plain");
  return r.text();
}

describe.each(ENGINES)("metrics after real traffic [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) {
      s = await startServer(engine, {
        limits: { rateLimitPerIp: false, rateLimitPerClient: { capacity: 1000, refillPerSecond: 0.001 } },
        metrics: { token: TOKEN, processMetrics: false },
      });
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it.skipIf(!engine.available)("counts requests, errors, fan-out, deliveries, fetches and stream connections by what the answers said", async () => {
    const before = await scrape(s);
    const [a, b, c, outsider] = await Promise.all(["a", "b", "c", "x"].map((x) => registerDevice(s, `obs${x}-${engine.name}`, "d")));
    const members = [a!, b!, c!];
    // A real group: a adds b and c in one commit bundle (its Welcome goes to both).
    const creator = await createGroup(s, a!);
    const g = creator.group.groupId;
    const gp = `/v1/groups/${toBase64Url(g)}`;
    const accepted: number[] = [];
    const bundle = (await addDevicesWithReply(s, creator, [b!, c!])).reply;
    expect(bundle.body.epoch).toBe(1);
    accepted.push(bundle.body.delivered);

    // A stream open while messages flow.
    const ws = new WebSocket(`${s.url.replace("http", "ws")}/v1/stream`, { headers: { authorization: `Bearer ${c!.token}` } });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const mid = await scrape(s);
    expect(sample(mid, "conclave_ds_stream_connections")).toBe(1);

    for (let i = 0; i < 7; i++) {
      const sender = members[i % 3]!;
      const r = await s.request<AcceptedResponse>("POST", `${gp}/messages`, { token: sender.token, headers: MLS, body: Buffer.from(applicationMessage(g, 1n, new Uint8Array(64).fill(i))) });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      accepted.push(r.body.delivered);
    }
    // Refused: not a member (403), a stale epoch, an unknown route, a bad token.
    const refused = await s.request("POST", `${gp}/messages`, { token: outsider!.token, headers: MLS, body: Buffer.from(applicationMessage(g, 1n, new Uint8Array(8))) });
    expect(refused.status).toBe(403);
    const refusedCode = (refused.body as { error: { code: string } }).error.code;
    expect((await s.request("GET", "/v1/nowhere")).status).toBe(404);
    expect((await s.request("GET", "/v1/queue", { token: "not-a-token" })).status).toBe(401);

    let fetched = 0;
    const cursors: [Device, unknown][] = [];
    for (const d of members) {
      const q = await s.request<QueueResponse>("GET", "/v1/queue", { token: d.token });
      expect(q.status).toBe(200);
      fetched += q.body.messages.length;
      cursors.push([d, q.body.cursor]);
    }
    expect(fetched).toBeGreaterThan(0);
    ws.close();
    await new Promise((resolve) => ws.once("close", resolve));

    const after = await scrape(s);
    const delta = (name: string, labels: Record<string, string> = {}) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    const deliveries = accepted.reduce((x, y) => x + y, 0);
    expect(deliveries).toBeGreaterThanOrEqual(2 + 7 * 2); // the Welcome to two, then each message to the two others
    expect(delta("conclave_ds_messages_accepted_total", { route: "/v1/groups/:groupId/messages" })).toBe(7);
    expect(delta("conclave_ds_messages_accepted_total", { route: "/v1/groups/:groupId/commits" })).toBe(1);
    expect(delta("conclave_ds_fanout_recipients_count")).toBe(8);
    expect(delta("conclave_ds_fanout_recipients_sum")).toBe(deliveries);
    expect(delta("conclave_ds_deliveries_total")).toBe(deliveries);
    expect(delta("conclave_ds_entries_fetched_total")).toBe(fetched);
    expect(delta("conclave_http_requests_total", { method: "POST", route: "/v1/groups/:groupId/messages", status: "202" })).toBe(7);
    expect(delta("conclave_http_requests_total", { method: "POST", route: "/v1/groups/:groupId/messages", status: "403" })).toBe(1);
    expect(delta("conclave_http_request_duration_seconds_count", { method: "POST", route: "/v1/groups/:groupId/messages", status: "202" })).toBe(7);
    expect(delta("conclave_http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBe(1);
    expect(delta("conclave_http_errors_total", { code: refusedCode, status: "403" })).toBe(1);
    expect(delta("conclave_http_errors_total", { code: "NOT_FOUND", status: "404" })).toBe(1);
    expect(delta("conclave_http_errors_total", { code: "AUTH_TOKEN_INVALID", status: "401" })).toBe(1);
    // The scrapes themselves are not requests of the API.
    expect(after).not.toContain('route="/metrics"');
    expect(sample(after, "conclave_ds_stream_connections")).toBe(0);
    // Unread deliveries come from the store (QueueDepthSource); acknowledging everything empties them.
    expect(sample(after, "conclave_ds_unread_deliveries")).toBeGreaterThanOrEqual(deliveries);
    for (const [d, cursor] of cursors) expect((await s.request("POST", "/v1/queue/ack", { token: d.token, json: cursor })).status).toBe(200);
    expect(sample(await scrape(s), "conclave_ds_unread_deliveries")).toBe(0);
  });

  it.skipIf(!engine.available)("counts rate-limit rejections by limiter", async () => {
    const d: Device = await registerDevice(s, `obs-rl-${engine.name}`, "d");
    const before = await scrape(s);
    // A fresh client's bucket holds 1000: spend it in one go on a cheap route, then be refused.
    const statuses = await Promise.all(Array.from({ length: 1010 }, () => s.request("GET", "/v1/key-packages/count", { token: d.token }).then((r) => r.status)));
    const refused = statuses.filter((x) => x === 429).length;
    expect(refused).toBe(10);
    const after = await scrape(s);
    expect((sample(after, "conclave_rate_limit_rejections_total", { limiter: "client" }) ?? 0) - (sample(before, "conclave_rate_limit_rejections_total", { limiter: "client" }) ?? 0)).toBe(
      refused,
    );
    expect(sample(after, "conclave_http_errors_total", { code: "RATE_LIMITED", status: "429" })).toBeGreaterThanOrEqual(refused);
  });
});

describe("the metrics endpoint is not public", () => {
  let s: RunningServer;
  afterAll(async () => {
    await s?.close();
  });

  it("answers 401 without the token or with a wrong one, and is not in the OpenAPI document", async () => {
    s = await startServer(SQLITE, { metrics: { token: TOKEN, processMetrics: true } });
    const none = await fetch(`${s.url}/metrics`);
    expect([none.status, ((await none.json()) as { error: { code: string } }).error.code]).toEqual([401, "AUTH_REQUIRED"]);
    const wrong = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
    expect([wrong.status, ((await wrong.json()) as { error: { code: string } }).error.code]).toEqual([401, "AUTH_TOKEN_INVALID"]);
    const text = await scrape(s);
    expect(text).toContain("conclave_process_cpu_user_seconds_total");
    const doc = await s.request<{ paths: Record<string, unknown> }>("GET", "/v1/openapi.json");
    expect(Object.keys(doc.body.paths)).not.toContain("/metrics");
  });

  it("serves on a listener of its own, and not on the API port, when given `listen`", async () => {
    const t = await SQLITE.open();
    const app = await createConclaveServer({ store: t.store, metrics: { listen: { host: "127.0.0.1", port: 0 }, processMetrics: false } });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const api = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      expect((await fetch(`${api}/v1/health`)).status).toBe(200);
      expect((await fetch(`${api}/metrics`)).status).toBe(404);
      const at = app.conclaveObservability?.listenerAddress();
      if (at === undefined) throw new Error("no metrics listener");
      const r = await fetch(`http://127.0.0.1:${at.port}/metrics`);
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(sample(text, "conclave_http_requests_total", { method: "GET", route: "/v1/health", status: "200" })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${at.port}/other`)).status).toBe(404);
    } finally {
      await app.close();
      await t.dispose();
    }
  });

  it("refuses a configuration that would publish it without a token", async () => {
    const t = await SQLITE.open();
    try {
      await expect(createConclaveServer({ store: t.store, metrics: {} })).rejects.toThrow(/token .* or a listen address/);
      await expect(createConclaveServer({ store: t.store, metrics: { token: "short" } })).rejects.toThrow(/at least 16/);
    } finally {
      await t.dispose();
    }
  });
});

describe("structured logs never carry secrets", () => {
  it("redacts the Authorization header and ?token=, and logs no body", async () => {
    const lines: string[] = [];
    const s = await startServer(SQLITE, { log: { level: "info", stream: { write: (l: string) => void lines.push(l) } } });
    try {
      const d = await registerDevice(s, "logged", "d");
      lines.length = 0; // registration bodies aside, the requests below
      const body = "very-secret-message-body-0123456789";
      expect((await s.request("GET", "/v1/key-packages/count", { token: d.token })).status).toBe(200);
      await s.request("POST", "/v1/groups/AAAA/messages", { token: d.token, headers: MLS, body });
      await fetch(`${s.url}/v1/stream?token=${encodeURIComponent(d.token)}&after=0`); // a plain GET, not an upgrade: fastify logs it
      const text = lines.join("");
      expect(lines.length).toBeGreaterThan(3);
      expect(text).not.toContain(d.token);
      expect(text).not.toContain(body);
      const incoming = lines.map((l) => JSON.parse(l) as { req?: { url: string; headers?: Record<string, string> } }).filter((l) => l.req?.headers !== undefined);
      expect(incoming.length).toBeGreaterThanOrEqual(3);
      const authed = incoming.filter((l) => l.req!.headers!.authorization !== undefined);
      expect(authed.length).toBeGreaterThanOrEqual(2);
      for (const l of authed) expect(l.req!.headers!.authorization).toBe(REDACTED);
      expect(incoming.some((l) => l.req!.url.startsWith("/v1/stream?token=%5Bredacted%5D&after=0"))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("redactUrl replaces token parameters wherever they are", () => {
    expect(redactUrl("/v1/stream?token=abc")).toBe("/v1/stream?token=%5Bredacted%5D");
    expect(redactUrl("/v1/stream?after=3&TOKEN=abc&x=1")).toBe("/v1/stream?after=3&TOKEN=%5Bredacted%5D&x=1");
    expect(redactUrl("/v1/stream?access_token=abc#f")).toBe("/v1/stream?access_token=%5Bredacted%5D#f");
    expect(redactUrl("/v1/tokens?tokenish=1")).toBe("/v1/tokens?tokenish=1");
  });
});
