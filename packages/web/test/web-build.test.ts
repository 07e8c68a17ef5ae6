/**
 * The web build and how the server serves it: sizes within the budget the
 * README states, no Node-only module in the browser graph, the page at `/`
 * with its security headers, the API's JSON errors untouched, and a clear
 * 503 when the app is not built.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConclaveServer } from "@conclave/server";
import { assertBrowserGraph, BUDGET, buildWebApp, report, type WebBuild } from "../src/build/build.js";

const readme = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../../README.md"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "conclave-web-build-"));
let built: WebBuild;
const servers: FastifyInstance[] = [];

async function server(webAppRoot?: string): Promise<FastifyInstance> {
  const app = await createConclaveServer({
    store: { engine: "sqlite", path: join(dir, `ds-${servers.length}.sqlite`) },
    limits: { rateLimitPerIp: false, rateLimitPerClient: false },
    ...(webAppRoot === undefined ? {} : { webAppRoot }),
  });
  servers.push(app);
  return app;
}

beforeAll(async () => {
  built = await buildWebApp(join(dir, "dist"));
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("web build", () => {
  it("keeps the app and the SDK within the budget the README states", () => {
    const r = report(built);
    console.log(r.lines.join("\n")); // the sizes in the test log, as the build prints them
    expect(r.ok, r.lines.join("\n")).toBe(true);
    expect(built.app.gzipBytes).toBeLessThanOrEqual(BUDGET.appGzipBytes);
    expect(built.sdk.gzipBytes).toBeLessThanOrEqual(BUDGET.sdkGzipBytes);
    // The app bundles the SDK: it cannot be smaller than the SDK alone.
    expect(built.app.bytes).toBeGreaterThan(built.sdk.bytes);
    expect(readme).toContain(`| EmojisOnly \`app.js\` (app, SDK and MLS) | ${BUDGET.appGzipBytes / 1024} KB |`);
    expect(readme).toContain(`| SDK browser entry alone | ${BUDGET.sdkGzipBytes / 1024} KB |`);
  });

  it("refuses a browser graph that reaches node: modules, the node provider, the file store or ws", () => {
    const graph = (...paths: string[]): Metafile => ({ inputs: Object.fromEntries(paths.map((p) => [p, { bytes: 1, imports: [] }])), outputs: {} });
    expect(() => assertBrowserGraph(graph("packages/client/src/client.ts"), "ok")).not.toThrow();
    for (const bad of ["node:fs", "packages/mls/src/crypto/node/index.ts", "packages/client/src/fileStore.ts", "packages/client/src/platform.ts", "node_modules/ws/index.js"]) {
      expect(() => assertBrowserGraph(graph("packages/client/src/client.ts", bad), "x"), bad).toThrow(/Node-only/);
    }
  });
});

describe("the server serving the web app (http/static.ts)", () => {
  it("serves index.html at / with a strict CSP, the bundle and the stylesheet, and keeps the API's JSON 404", async () => {
    const app = await server(built.outDir);
    const page = await app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.body).toContain('<script type="module" src="app.js">');
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const js = await app.inject({ method: "GET", url: "/app.js" });
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.rawPayload.length).toBe(built.app.bytes);
    expect((await app.inject({ method: "GET", url: "/styles.css" })).statusCode).toBe(200);
    const missing = await app.inject({ method: "GET", url: "/v1/no-such-route" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: expect.any(String) } });
    expect((await app.inject({ method: "GET", url: "/../package.json" })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/v1/openapi.json" })).statusCode).toBe(200);
  });

  it("answers / with 503 and how to build when the directory holds no built app", async () => {
    const app = await server(join(dir, "empty"));
    const r = await app.inject({ method: "GET", url: "/" });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain("not been built");
  });

  it("registers nothing at / without webAppRoot (the API alone, as before)", async () => {
    const app = await server();
    const r = await app.inject({ method: "GET", url: "/" });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: expect.any(String) } });
  });
});
