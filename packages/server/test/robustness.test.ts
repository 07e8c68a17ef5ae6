import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { ROUTES, type ErrorBody, type LeavesResponse, type SignedTreeHeadJson } from "@conclave/api";
import { createSqliteStore } from "../src/storage/index.js";
import { createConclaveServer } from "../src/index.js";
import { SQLITE } from "./support/engines.js";
import { registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";

/** Bad input never crashes the server: random bodies, params and queries on every route give typed 4xx (or 2xx), never 5xx. */
describe("robustness against arbitrary input", () => {
  let s: RunningServer;
  let d: Device;
  beforeAll(async () => {
    s = await startServer(SQLITE, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
    d = await registerDevice(s, "fuzzer", "dev");
    await s.request("POST", "/v1/as/credentials", { json: { type: "basic" }, token: d.token });
  });
  afterAll(async () => {
    await s?.close();
  });

  const pathSegment = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("fuzzer", "dev", "AAAA", "..", "%00", "a".repeat(300)));
  const queryValue = fc.oneof(fc.string({ maxLength: 12 }), fc.nat().map(String), fc.constantFrom("-1", "1e3", "99999999999999999999", "0x10", ""));

  it("answers every route with 2xx or a JSON 4xx for random input", async () => {
    const routes = Object.values(ROUTES).filter((r) => r.path !== ROUTES.logout.path); // logout would end the fuzzer's session
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.dictionary(fc.constantFrom("user", "device", "credentialId"), pathSegment),
        fc.dictionary(fc.constantFrom("treeSize", "start", "end", "leafIndex", "first", "second", "x"), queryValue),
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({ type: fc.constantFrom("basic", "x509", "other") }),
          fc.record({ user: fc.string(), device: fc.string(), cipherSuite: fc.integer(), signatureKey: fc.string(), accountSecret: fc.string(), nonce: fc.string(), signature: fc.string() }),
        ),
        fc.boolean(),
        async (route, params, query, json, authenticated) => {
          const path = route.path.replace(/:([A-Za-z]+)/g, (_, k: string) => encodeURIComponent(params[k] ?? "x"));
          const qs = new URLSearchParams(query).toString();
          const method: string = route.method;
          const r = await s.request(method, path + (qs ? `?${qs}` : ""), {
            ...(method === "GET" || method === "DELETE" ? {} : { json }),
            ...(authenticated ? { token: d.token } : {}),
          });
          expect(r.status, `${route.method} ${path}?${qs} ${JSON.stringify(json)} -> ${JSON.stringify(r.body)}`).toBeLessThan(500);
          if (r.status >= 400) expect(typeof (r.body as ErrorBody).error.code).toBe("string");
        },
      ),
      { numRuns: 300 },
    );
    // and the state is still coherent: the log's head covers exactly its leaves
    const head = (await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body;
    const leaves = (await s.request<LeavesResponse>("GET", `/v1/transparency/leaves?start=0&end=${head.treeSize + 10}`)).body;
    expect(leaves.leaves.length).toBe(head.treeSize);
    expect((await s.request("GET", "/v1/health")).status).toBe(200);
  });

  it("survives raw garbage bodies and headers", async () => {
    const bodies: [string, BodyInit][] = [
      ["application/json", new Uint8Array([0xff, 0xfe, 0x00, 0x7b])],
      ["application/json", '{"user":"a","__proto__":{"x":1}}'],
      ["application/json", "[".repeat(5000)],
      ["message/mls", new Uint8Array(100).fill(0xff)],
      ["multipart/form-data; boundary=x", "--x--"],
    ];
    for (const [type, body] of bodies) {
      const r = await s.request("POST", "/v1/accounts", { body, headers: { "content-type": type } });
      expect(r.status, type).toBeGreaterThanOrEqual(400);
      expect(r.status, type).toBeLessThan(500);
    }
    const r = await s.request("GET", "/v1/clients/self", { headers: { authorization: "Bearer " + "a".repeat(5000) } });
    expect(r.status).toBe(401);
  });
});

describe("storage outage", () => {
  it("reports 503 from health when the store is gone", async () => {
    const store = await createSqliteStore();
    const app = await createConclaveServer({ store, limits: { rateLimitPerIp: false } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (app.server.address() as { port: number }).port;
      expect((await fetch(`http://127.0.0.1:${port}/v1/health`)).status).toBe(200);
      await store.close();
      const r = await fetch(`http://127.0.0.1:${port}/v1/health`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as ErrorBody).error.code).toBe("SERVICE_UNAVAILABLE");
      const other = await fetch(`http://127.0.0.1:${port}/v1/transparency/tree-head`);
      expect(other.status).toBeGreaterThanOrEqual(500);
      expect(((await other.json()) as ErrorBody).error.code).toMatch(/^(INTERNAL|SERVICE_UNAVAILABLE)$/);
    } finally {
      await app.close();
    }
  });
});
