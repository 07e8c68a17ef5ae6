/**
 * In a source checkout, the EmojisOnly bundle the server serves at `/`
 * (packages/web/dist) is built by the server itself when it is missing or
 * stale, so `npm run main` and `conclave serve` need no separate build step.
 *
 * Current means: dist/.build.json (written last by packages/web's build, see
 * packages/web/src/build/build.ts) lists every file the build read, and none
 * is missing or modified after the build started. Otherwise the build script
 * runs in a child process (node --import tsx, as in the repo's scripts),
 * one process at a time per checkout (a lock directory in dist), so N test
 * servers starting together build once. A failed build never stops the
 * server: it serves the previous build, or the not-built page, and says why.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyBaseLogger } from "fastify";

const BUILD_SCRIPT = "src/build/build.ts";
const STAMP_FILE = ".build.json";
const LOCK_DIR = ".building";
/** A build takes seconds; a lock older than this was left by a killed process. */
const LOCK_STALE_MS = 180_000;
const BUILD_TIMEOUT_MS = 180_000;
const POLL_MS = 200;

/** packages/web of the checkout this server runs from (undefined when installed without one). */
export function checkoutWebDir(): string | undefined {
  const web = resolve(dirname(fileURLToPath(import.meta.url)), "../../../web");
  return existsSync(join(web, BUILD_SCRIPT)) ? web : undefined;
}

export type WebBuildState = "current" | "missing" | "stale";

/** Whether `dist` holds a build of the current sources (its stamp's inputs, relative to `repoRoot`). */
export function webBuildState(dist: string, repoRoot: string): WebBuildState {
  if (!existsSync(join(dist, "index.html")) || !existsSync(join(dist, "app.js"))) return "missing";
  let stamp: { builtAt?: unknown; inputs?: unknown };
  try {
    stamp = JSON.parse(readFileSync(join(dist, STAMP_FILE), "utf8")) as typeof stamp;
  } catch {
    return "stale"; // a build from before stamps, or a damaged one
  }
  const { builtAt, inputs } = stamp;
  if (typeof builtAt !== "number" || !Array.isArray(inputs) || inputs.length === 0) return "stale";
  for (const p of inputs) {
    if (typeof p !== "string") return "stale";
    const mtime = statSync(join(repoRoot, p), { throwIfNoEntry: false })?.mtimeMs;
    if (mtime === undefined || mtime > builtAt) return "stale";
  }
  return "current";
}

/**
 * Takes the checkout's build lock (a directory: mkdir is atomic): "busy" when
 * another process holds it, "cleared" when it was left by a dead one (now removed).
 */
function tryLock(lock: string): "locked" | "busy" | "cleared" {
  try {
    mkdirSync(lock);
    return "locked";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age <= LOCK_STALE_MS) return "busy";
    unlock(lock);
    return "cleared";
  }
}

function unlock(lock: string): void {
  try {
    rmdirSync(lock);
  } catch {
    // already gone: another process cleared a stale lock
  }
}

function runBuild(web: string): Promise<{ ok: boolean; output: string }> {
  // Under the repo's test runner NODE_OPTIONS already loads tsx (the CLI's bin does the same check).
  const tsx = (process.env.NODE_OPTIONS ?? "").includes("tsx") ? [] : ["--import", "tsx"];
  return new Promise((done) => {
    execFile(process.execPath, [...tsx, join(web, BUILD_SCRIPT)], { cwd: resolve(web, "../.."), timeout: BUILD_TIMEOUT_MS }, (err, stdout, stderr) => {
      done({ ok: err === null, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/**
 * Builds the checkout's packages/web/dist unless it is current. Progress and
 * the build's size lines go to stderr (a person is waiting for the server);
 * a failure is logged as a warning and the server carries on.
 */
export async function ensureCheckoutWebBuild(web: string, log: FastifyBaseLogger): Promise<void> {
  const dist = join(web, "dist");
  const lock = join(dist, LOCK_DIR);
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  mkdirSync(dist, { recursive: true });
  let waited = false;
  for (;;) {
    const state = webBuildState(dist, resolve(web, "../.."));
    if (state === "current") return;
    const got = tryLock(lock);
    if (got === "cleared") continue;
    if (got === "locked") {
      try {
        // Another process just built and it did not take: one failed build per start is enough.
        if (waited) return notBuilt(log, web, "the build by another server process failed");
        process.stderr.write(`conclave: the web app's build (${dist}) is ${state}: building it…\n`);
        const r = await runBuild(web);
        if (r.ok) process.stderr.write(`${r.output}\n`);
        else notBuilt(log, web, r.output);
        return;
      } finally {
        unlock(lock);
      }
    }
    // Another server process of this checkout is building: wait for it, then look again.
    if (Date.now() > deadline) return notBuilt(log, web, "the build by another server process did not finish");
    waited = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A failed build: the server still starts, and says what `/` will show. */
function notBuilt(log: FastifyBaseLogger, web: string, why: string): void {
  const serves = existsSync(join(web, "dist/index.html")) ? "serves the build already in packages/web/dist" : "answers 503 (not built)";
  log.warn({ why }, `the web app did not build: / ${serves}; npm run build -w packages/web shows the error`);
}
