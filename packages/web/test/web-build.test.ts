/**
 * The web build and how the server serves it: sizes within the budget the
 * README states, no Node-only module in the browser graph, the page at `/`
 * with its security headers, the API's JSON errors untouched, a clear 503
 * when the app is not built, and the server building a checkout's missing or
 * stale bundle itself (once, however many servers start together).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConclaveServer } from "@conclave/server";
// The checkout-only build step of the server (not part of its public API).
import { ensureCheckoutWebBuild, webBuildState } from "../../server/src/http/webBuild.js";
import { assertBrowserGraph, BUDGET, type BuildStamp, buildWebApp, report, STAMP_FILE, type WebBuild } from "../src/build/build.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
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
    // The build's stamp (dist/.build.json, source paths) is in the directory but not served.
    expect(existsSync(join(built.outDir, STAMP_FILE))).toBe(true);
    expect((await app.inject({ method: "GET", url: `/${STAMP_FILE}` })).statusCode).toBe(404);
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

describe("the checkout's bundle: built by the server when missing or stale (http/webBuild.ts)", () => {
  const stampOf = (dist: string) => JSON.parse(readFileSync(join(dist, STAMP_FILE), "utf8")) as BuildStamp;

  it("the build's stamp lists what it read; current until an input changes, goes or the outputs do", () => {
    const dist = built.outDir;
    const stamp = stampOf(dist);
    for (const p of ["packages/web/src/app/main.ts", "packages/client/src/browser/index.ts", "packages/web/public/index.html", "packages/web/src/build/build.ts"])
      expect(stamp.inputs).toContain(p);
    expect(stamp.inputs.some((p) => p.startsWith("packages/mls/src/"))).toBe(true);
    expect(webBuildState(dist, repoRoot)).toBe("current");
    // An input modified after the build started (here: the build dated before it).
    const newest = Math.max(...stamp.inputs.map((p) => statSync(join(repoRoot, p)).mtimeMs));
    const write = (s: BuildStamp) => writeFileSync(join(dist, STAMP_FILE), JSON.stringify(s));
    write({ ...stamp, builtAt: newest - 1 });
    expect(webBuildState(dist, repoRoot)).toBe("stale");
    write({ ...stamp, inputs: [...stamp.inputs, "packages/web/src/app/gone.ts"] });
    expect(webBuildState(dist, repoRoot)).toBe("stale");
    write({ builtAt: stamp.builtAt, inputs: [] } as BuildStamp);
    expect(webBuildState(dist, repoRoot)).toBe("stale");
    rmSync(join(dist, STAMP_FILE));
    expect(webBuildState(dist, repoRoot)).toBe("stale");
    write(stamp);
    expect(webBuildState(dist, repoRoot)).toBe("current");
    expect(webBuildState(join(dir, "nowhere"), repoRoot)).toBe("missing");
  });

  /** A checkout of its own (tmp/packages/web) whose build script counts its runs and takes a moment. */
  function fakeCheckout(script: string): { web: string; runs: () => number } {
    const root = mkdtempSync(join(dir, "checkout-"));
    const web = join(root, "packages/web");
    mkdirSync(join(web, "src/build"), { recursive: true });
    writeFileSync(join(root, "package.json"), '{ "type": "module" }');
    writeFileSync(join(web, "src/app.txt"), "source");
    writeFileSync(join(web, "src/build/build.ts"), script);
    return { web, runs: () => (existsSync(join(root, "runs")) ? readFileSync(join(root, "runs"), "utf8").length : 0) };
  }
  const GOOD_BUILD = `import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
const builtAt = Date.now();
appendFileSync("runs", "x");
await new Promise((r) => setTimeout(r, 400));
mkdirSync("packages/web/dist", { recursive: true });
for (const f of ["index.html", "app.js"]) writeFileSync("packages/web/dist/" + f, f);
writeFileSync("packages/web/dist/.build.json", JSON.stringify({ builtAt, inputs: ["packages/web/src/app.txt", "packages/web/src/build/build.ts"] }));
console.log("built");
`;
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg?: string) => warnings.push(msg ?? String(_o)) } as unknown as FastifyBaseLogger;

  it("builds a missing bundle once for three servers starting together, not again while current, again when stale", async () => {
    const { web, runs } = fakeCheckout(GOOD_BUILD);
    await Promise.all([1, 2, 3].map(() => ensureCheckoutWebBuild(web, log)));
    expect(runs()).toBe(1);
    expect(webBuildState(join(web, "dist"), resolve(web, "../.."))).toBe("current");
    expect(existsSync(join(web, "dist/.building"))).toBe(false); // the lock is released
    await ensureCheckoutWebBuild(web, log);
    expect(runs()).toBe(1);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(web, "src/app.txt"), later, later);
    await ensureCheckoutWebBuild(web, log);
    expect(runs()).toBe(2);
    expect(warnings).toEqual([]);
  }, 60_000);

  it("a failing build does not stop the server: it warns, once for servers starting together, and leaves no lock", async () => {
    const { web, runs } = fakeCheckout(
      `import { appendFileSync } from "node:fs";\nappendFileSync("runs", "x");\nawait new Promise((r) => setTimeout(r, 400));\nthrow new Error("syntax error in the app");\n`,
    );
    warnings.length = 0;
    await Promise.all([1, 2].map(() => ensureCheckoutWebBuild(web, log)));
    expect(runs()).toBe(1);
    expect(warnings).toHaveLength(2);
    expect(warnings.every((w) => w.includes("answers 503"))).toBe(true);
    expect(existsSync(join(web, "dist/.building"))).toBe(false);
  }, 60_000);

  it("clears a lock left by a killed build and builds", async () => {
    const { web, runs } = fakeCheckout(GOOD_BUILD);
    mkdirSync(join(web, "dist/.building"), { recursive: true });
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(web, "dist/.building"), old, old);
    await ensureCheckoutWebBuild(web, log);
    expect(runs()).toBe(1);
    expect(webBuildState(join(web, "dist"), resolve(web, "../.."))).toBe("current");
  }, 60_000);
});

/** A port free right now (npm run main prints the port it was given, so 0 will not do). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => (a !== null && typeof a === "object" ? ok(a.port) : fail(new Error("no port"))));
    });
  });
}

describe("npm run main, the README's first command after npm ci", () => {
  it("serves EmojisOnly at / with no build step before it, and hands out invites with CONCLAVE_ADMIN_TOKEN", async () => {
    const port = await freePort();
    const env = { ...process.env, CONCLAVE_DB: join(dir, "main", "ds.sqlite"), CONCLAVE_PORT: String(port), CONCLAVE_ADMIN_TOKEN: "readme-admin" };
    // Its own process group: npm, its shell and tsx's node all stop together.
    const child = spawn("npm", ["run", "main"], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    try {
      await new Promise<void>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`npm run main did not start: ${out}`)), 100_000);
        const onData = (b: Buffer) => {
          out += b.toString();
          if (out.includes(`listening on http://127.0.0.1:${port}/v1`)) {
            clearTimeout(timer);
            ok();
          }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
        child.once("exit", (code) => fail(new Error(`npm run main exited (${code}): ${out}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script type="module" src="app.js">');
      const js = await fetch(`${base}/app.js`);
      expect(js.status).toBe(200);
      // The bundle served is the checkout's current build (the server rebuilt it if it had to).
      expect(webBuildState(join(repoRoot, "packages/web/dist"), repoRoot)).toBe("current");
      expect((await js.arrayBuffer()).byteLength).toBe(statSync(join(repoRoot, "packages/web/dist/app.js")).size);
      const refused = await fetch(`${base}/v1/admin/invites`, { method: "POST", headers: { authorization: "Bearer wrong" } });
      expect(refused.status).toBe(401);
      const invite = await fetch(`${base}/v1/admin/invites`, { method: "POST", headers: { authorization: "Bearer readme-admin" } });
      expect(invite.status).toBe(201);
      expect(((await invite.json()) as { token: string }).token.length).toBeGreaterThan(10);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    }
  }, 120_000);
});
