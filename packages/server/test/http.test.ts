import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROUTES, API_ERROR_STATUS, DS_STREAM_PATH, type ErrorBody, type HealthResponse } from "@conclave/api";
import { credentialCodec, decode, MlsError } from "@conclave/mls";
import { TokenBucketLimiter } from "../src/http/rateLimit.js";
import { ENGINES, SQLITE } from "./support/engines.js";
import { errorCode, invite, registerDevice, startServer, type RunningServer } from "./support/server.js";

/** Test-only routes: exercise the message/mls parser and the error mapping. */
function testRoutes(app: import("fastify").FastifyInstance): void {
  app.post("/v1/test/mls-echo", async (req, reply) => {
    const body = req.body as Uint8Array;
    expect(body).toBeInstanceOf(Uint8Array);
    return reply.type("message/mls").send(Buffer.from(body.slice().reverse()));
  });
  app.post("/v1/test/decode-credential", async (req) => {
    const c = decode(credentialCodec, req.body as Uint8Array);
    return { type: c.credentialType };
  });
  app.get("/v1/test/crash", async () => {
    throw new Error("secret internal detail");
  });
  app.get("/v1/test/mls-error", async () => {
    throw new MlsError("CRYPTO_INVALID_SIGNATURE", "bad signature");
  });
}

describe.each(ENGINES)("HTTP skeleton [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: { jsonBodyBytes: 2048, mlsBodyBytes: 4096 } }, testRoutes);
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("answers health with the storage engine", async () => {
      const r = await s.request<HealthResponse>("GET", "/v1/health");
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: "ok", storage: engine.name, time: s.clock.now });
    });

    it("answers unknown routes and methods with a JSON 404", async () => {
      for (const [method, path] of [
        ["GET", "/v1/nope"],
        ["GET", "/"],
        ["PUT", "/v1/health"],
        ["DELETE", "/v1/accounts"],
      ] as const) {
        const r = await s.request<ErrorBody>(method, path);
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.headers.get("content-type")).toMatch(/^application\/json/);
        expect(errorCode(r)).toBe("NOT_FOUND");
      }
    });

    it("maps malformed JSON, schema violations and wrong media types to stable codes", async () => {
      const bad = await s.request("POST", "/v1/accounts", { body: "{not json", headers: { "content-type": "application/json" } });
      expect([bad.status, errorCode(bad)]).toEqual([400, "MALFORMED_JSON"]);
      const empty = await s.request("POST", "/v1/accounts", { body: "", headers: { "content-type": "application/json" } });
      expect([empty.status, errorCode(empty)]).toEqual([400, "MALFORMED_JSON"]);
      for (const json of [{}, { user: 5 }, { user: "Alice" }, { user: "alice", extra: 1 }, [], "alice", null]) {
        const r = await s.request("POST", "/v1/accounts", { json });
        expect([r.status, errorCode(r)], JSON.stringify(json)).toEqual([400, "BAD_REQUEST"]);
      }
      const text = await s.request("POST", "/v1/accounts", { body: "user=alice", headers: { "content-type": "text/plain" } });
      expect([text.status, errorCode(text)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
      const q = await s.request("GET", "/v1/transparency/inclusion?leafIndex=-1&treeSize=1");
      expect([q.status, errorCode(q)]).toEqual([400, "BAD_REQUEST"]);
      // nothing was created by any of these
      const ok = await s.request("POST", "/v1/accounts", { json: { user: "alice", proof: { kind: "invite", token: await invite(s) } } });
      expect(ok.status).toBe(201);
    });

    it("enforces body size limits with 413 for JSON and message/mls", async () => {
      const big = await s.request("POST", "/v1/accounts", { json: { user: "x".repeat(3000) } });
      expect([big.status, errorCode(big)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      const mlsOk = await s.request("POST", "/v1/test/mls-echo", { body: new Uint8Array([1, 2, 3]), headers: { "content-type": "message/mls" } });
      expect(mlsOk.status).toBe(200);
      expect(mlsOk.headers.get("content-type")).toBe("message/mls");
      const mlsBig = await s.request("POST", "/v1/test/mls-echo", { body: new Uint8Array(4097), headers: { "content-type": "message/mls" } });
      expect([mlsBig.status, errorCode(mlsBig)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      const mlsFits = await s.request("POST", "/v1/test/mls-echo", { body: new Uint8Array(4096), headers: { "content-type": "message/mls" } });
      expect(mlsFits.status).toBe(200);
    });

    it("parses message/mls bodies to bytes and passes MlsError codes through as 400", async () => {
      const res = await fetch(`${s.url}/v1/test/mls-echo`, { method: "POST", body: new Uint8Array([1, 2, 3]), headers: { "content-type": "message/mls" } });
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([3, 2, 1]));
      const ok = await s.request("POST", "/v1/test/decode-credential", { body: new Uint8Array([0, 1, 1, 0x61]), headers: { "content-type": "message/mls" } });
      expect(ok.body).toEqual({ type: 1 });
      const trailing = await s.request("POST", "/v1/test/decode-credential", { body: new Uint8Array([0, 1, 1, 0x61, 0]), headers: { "content-type": "message/mls" } });
      expect([trailing.status, errorCode(trailing)]).toEqual([400, "DECODE_TRAILING_BYTES"]);
      const unknown = await s.request("POST", "/v1/test/decode-credential", { body: new Uint8Array([0, 9]), headers: { "content-type": "message/mls" } });
      expect([unknown.status, errorCode(unknown)]).toEqual([400, "DECODE_UNKNOWN_VALUE"]);
      const thrown = await s.request("GET", "/v1/test/mls-error");
      expect([thrown.status, errorCode(thrown)]).toEqual([400, "CRYPTO_INVALID_SIGNATURE"]);
    });

    it("hides internal errors behind a 500 INTERNAL", async () => {
      const r = await s.request<ErrorBody>("GET", "/v1/test/crash");
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: { code: "INTERNAL", message: "internal server error" } });
      expect(JSON.stringify(r.body)).not.toContain("secret");
    });

    it("rejects missing, malformed, unknown and expired bearer tokens with 401", async () => {
      const none = await s.request("GET", "/v1/clients/self");
      expect([none.status, errorCode(none)]).toEqual([401, "AUTH_REQUIRED"]);
      const basic = await s.request("GET", "/v1/clients/self", { headers: { authorization: "Basic YWxpY2U6eA==" } });
      expect([basic.status, errorCode(basic)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      const unknown = await s.request("GET", "/v1/clients/self", { token: "A".repeat(43) });
      expect([unknown.status, errorCode(unknown)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      const junk = await s.request("GET", "/v1/clients/self", { token: "abc" });
      expect([junk.status, errorCode(junk)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      const d = await registerDevice(s, "tokenuser", "phone");
      expect((await s.request("GET", "/v1/clients/self", { token: d.token })).status).toBe(200);
      s.clock.advance(24 * 3600_000);
      const expired = await s.request("GET", "/v1/clients/self", { token: d.token });
      expect([expired.status, errorCode(expired)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      s.clock.advance(-24 * 3600_000);
    });

    it("serves an OpenAPI 3.1 document listing exactly the registered routes", async () => {
      const r = await s.request<{
        openapi: string;
        paths: Record<string, Record<string, { operationId: string; security: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }>>;
        components: Record<string, unknown>;
      }>("GET", "/v1/openapi.json");
      expect(r.status).toBe(200);
      expect(r.body.openapi).toBe("3.1.0");
      const documented = Object.entries(r.body.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
      // Every registered route, and the WebSocket upgrade (not a fastify route) documented by hand.
      const expected = [...Object.values(ROUTES).map((x) => `${x.method} ${x.path.replace(/:([A-Za-z]+)/g, "{$1}")}`), `GET ${DS_STREAM_PATH}`];
      expect(documented.sort()).toEqual(expected.sort());
      const stream = r.body.paths[DS_STREAM_PATH]!["get"]! as unknown as { responses: Record<string, unknown>; security: unknown[]; "x-websocket-frames": { client: unknown } };
      expect(Object.keys(stream.responses).sort()).toEqual(["101", "426", "default"]);
      expect(stream.security).toEqual([{ bearer: [] }]);
      expect(stream["x-websocket-frames"].client).toMatchObject({ properties: { type: { const: "ack" } } });
      const issue = r.body.paths["/v1/as/credentials"]!["post"]!;
      expect(issue.operationId).toBe("issueCredential");
      expect(issue.security).toEqual([{ bearer: [] }]);
      expect(issue.requestBody).toMatchObject({ content: { "application/json": { schema: { properties: { type: { enum: ["basic", "x509"] } } } } } });
      expect(Object.keys(issue.responses).sort()).toEqual(["200", "201", "400", "401", "403", "409", "413", "415", "429", "default"]);
      expect(r.body.paths["/v1/health"]!["get"]!.responses).toMatchObject({ "429": { description: expect.stringContaining("RATE_LIMITED") } });
      expect(Object.keys(r.body.paths["/v1/users/{user}/clients"]!["get"]!.responses)).toEqual(expect.arrayContaining(["404", "414"]));
      expect((r.body as unknown as { servers: unknown }).servers).toEqual([{ url: "/", description: "this server" }]);
      expect(r.body.paths["/v1/health"]!["get"]!.security).toEqual([]);
      expect(r.body.paths["/v1/users/{user}/clients"]!["get"]).toMatchObject({ parameters: [{ name: "user", in: "path", required: true }] });
      expect(r.body.components).toMatchObject({ securitySchemes: { bearer: { type: "http", scheme: "bearer" } } });
      expect((r.body as unknown as { "x-error-codes": unknown })["x-error-codes"]).toEqual(API_ERROR_STATUS);
    });
  });
});

describe("rate limiting", () => {
  let s: RunningServer;
  afterAll(async () => {
    await s?.close();
  });

  it("answers 429 with Retry-After once an IP's bucket is empty, and recovers as it refills", async () => {
    s = await startServer(SQLITE, { limits: { rateLimitPerIp: { capacity: 3, refillPerSecond: 0.5 }, rateLimitPerClient: false } });
    for (let i = 0; i < 3; i++) expect((await s.request("GET", "/v1/health")).status).toBe(200);
    const limited = await s.request("GET", "/v1/health");
    expect([limited.status, errorCode(limited)]).toEqual([429, "RATE_LIMITED"]);
    expect(limited.headers.get("retry-after")).toBe("2");
    s.clock.advance(1000);
    expect((await s.request("GET", "/v1/health")).status).toBe(429);
    s.clock.advance(1000);
    expect((await s.request("GET", "/v1/health")).status).toBe(200);
    expect((await s.request("GET", "/v1/nope")).status).toBe(429); // unknown routes count too
    await s.close();
  });

  it("limits each authenticated client separately", async () => {
    s = await startServer(SQLITE, { limits: { rateLimitPerIp: false, rateLimitPerClient: { capacity: 2, refillPerSecond: 1 } } });
    const a = await registerDevice(s, "alice", "phone");
    const b = await registerDevice(s, "bob", "phone");
    expect((await s.request("GET", "/v1/clients/self", { token: a.token })).status).toBe(200);
    expect((await s.request("GET", "/v1/clients/self", { token: a.token })).status).toBe(200);
    const limited = await s.request("GET", "/v1/clients/self", { token: a.token });
    expect([limited.status, errorCode(limited)]).toEqual([429, "RATE_LIMITED"]);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect((await s.request("GET", "/v1/clients/self", { token: b.token })).status).toBe(200);
    s.clock.advance(1000);
    expect((await s.request("GET", "/v1/clients/self", { token: a.token })).status).toBe(200);
  });
});

describe("TokenBucketLimiter", () => {
  it("refills continuously up to capacity and computes the wait", () => {
    let now = 0;
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 4 }, () => now);
    expect(l.take("k")).toEqual({ ok: true });
    expect(l.take("k")).toEqual({ ok: true });
    expect(l.take("k")).toEqual({ ok: false, retryAfterMs: 250 });
    now += 100;
    expect(l.take("k")).toEqual({ ok: false, retryAfterMs: 150 });
    now += 150;
    expect(l.take("k")).toEqual({ ok: true });
    now += 10_000;
    expect(l.take("k")).toEqual({ ok: true });
    expect(l.take("k")).toEqual({ ok: true });
    expect(l.take("k").ok).toBe(false);
    expect(l.take("other").ok).toBe(true);
  });

  it("forgets idle keys when it reaches its bound", () => {
    let now = 0;
    const l = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 1 }, () => now, 3);
    for (const k of ["a", "b", "c"]) l.take(k);
    expect(l.size).toBe(3);
    now += 5000; // all refilled: idle
    l.take("d");
    expect(l.size).toBe(1);
    expect(() => new TokenBucketLimiter({ capacity: 0, refillPerSecond: 1 }, () => 0)).toThrow(RangeError);
  });
});
