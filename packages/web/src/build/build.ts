/**
 * Builds EmojisOnly into packages/web/dist (app.js, index.html, styles.css)
 * with esbuild, measures the app and the SDK's browser entry minified and
 * gzipped, prints both, and fails when either is over its budget (stated in
 * the README's "Web app" section). It also fails when a Node-only module
 * (node:*, the node crypto provider, the file store, ws) reaches the browser
 * graph. Run: `npm run build -w packages/web` (or `npx tsx packages/web/src/build/build.ts [outDir]`).
 *
 * `npm run main` and `conclave serve` run it themselves when dist is missing
 * or stale (server http/static.ts): every build leaves `dist/.build.json`,
 * `{ builtAt, inputs }`, the time the build started and every file it read
 * (repo-relative), so the server can tell a current build from a stale one
 * with a few stat calls. Each output is written to a temporary name and
 * renamed, so two builds at once, or a server reading meanwhile, never see
 * half a file.
 */
import { build, type BuildOptions, type Metafile } from "esbuild";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const repoRoot = resolve(webDir, "../..");

/** Gzipped bytes, minified, as the README states them. */
export const BUDGET = { appGzipBytes: 125 * 1024, sdkGzipBytes: 120 * 1024 } as const;

export interface BundleSize {
  readonly bytes: number;
  readonly gzipBytes: number;
}

export interface WebBuild {
  readonly outDir: string;
  readonly app: BundleSize;
  readonly sdk: BundleSize;
}

/** Same settings for the app and the SDK measurement: the browser conditions, from source. */
const common: BuildOptions = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome111", "firefox115", "safari16.4"],
  conditions: ["@conclave/source"],
  // Input paths in the metafile are repo-relative whatever the caller's cwd (dist/.build.json lists them).
  absWorkingDir: repoRoot,
  metafile: true,
  legalComments: "none",
  logLevel: "silent",
};

const NODE_ONLY = [/^node:/, /crypto\/node\//, /client\/src\/fileStore\.ts$/, /client\/src\/platform\.ts$/, /node_modules\/ws\//];

/** Throws naming every Node-only input that reached a browser bundle. */
export function assertBrowserGraph(meta: Metafile, what: string): void {
  const bad = Object.keys(meta.inputs).filter((p) => NODE_ONLY.some((re) => re.test(p)));
  if (bad.length > 0) throw new Error(`${what}: Node-only modules in the browser bundle: ${bad.join(", ")}`);
}

const sizeOf = (code: Uint8Array): BundleSize => ({ bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length });

/** What dist/.build.json holds (read by the server's http/static.ts). */
export interface BuildStamp {
  /** Date.now() when the build started: a source modified after it makes the build stale. */
  readonly builtAt: number;
  /** Every file the build read, relative to the repo root. */
  readonly inputs: readonly string[];
}

export const STAMP_FILE = ".build.json";

/** Writes `data` to `path` through a temporary file and a rename (atomic on one file system). */
function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export async function buildWebApp(outDir: string = join(webDir, "dist")): Promise<WebBuild> {
  const builtAt = Date.now();
  mkdirSync(outDir, { recursive: true });
  const app = await build({ ...common, entryPoints: [join(webDir, "src/app/main.ts")], write: false, outfile: join(outDir, "app.js") });
  assertBrowserGraph(app.metafile!, "app");
  const sdk = await build({ ...common, entryPoints: [join(repoRoot, "packages/client/src/browser/index.ts")], write: false, outfile: join(outDir, "sdk.js") });
  assertBrowserGraph(sdk.metafile!, "SDK");
  const appCode = app.outputFiles[0]!.contents;
  writeAtomic(join(outDir, "app.js"), appCode);
  const statics = readdirSync(join(webDir, "public"));
  for (const f of statics) writeAtomic(join(outDir, f), readFileSync(join(webDir, "public", f)));
  // Last: a stamp is only there once every output it vouches for is.
  const read = [...Object.keys(app.metafile!.inputs), ...Object.keys(sdk.metafile!.inputs)].filter((p) => existsSync(join(repoRoot, p)));
  const own = [fileURLToPath(import.meta.url), ...statics.map((f) => join(webDir, "public", f))].map((p) => relative(repoRoot, p));
  const stamp: BuildStamp = { builtAt, inputs: [...new Set([...read, ...own])].sort() };
  writeAtomic(join(outDir, STAMP_FILE), JSON.stringify(stamp));
  return { outDir, app: sizeOf(appCode), sdk: sizeOf(sdk.outputFiles[0]!.contents) };
}

/** The budget lines and whether both hold. */
export function report(b: WebBuild): { lines: string[]; ok: boolean } {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const row = (name: string, s: BundleSize, budget: number) =>
    `${name.padEnd(22)} ${kb(s.bytes).padStart(10)} min ${kb(s.gzipBytes).padStart(9)} gzip  (budget ${kb(budget)} gzip)${s.gzipBytes > budget ? "  OVER BUDGET" : ""}`;
  const lines = [row("EmojisOnly app.js", b.app, BUDGET.appGzipBytes), row("SDK (client, browser)", b.sdk, BUDGET.sdkGzipBytes)];
  return { lines, ok: b.app.gzipBytes <= BUDGET.appGzipBytes && b.sdk.gzipBytes <= BUDGET.sdkGzipBytes };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const b = await buildWebApp(process.argv[2]);
  const r = report(b);
  console.log(`EmojisOnly built into ${b.outDir}`);
  for (const l of r.lines) console.log(l);
  if (!r.ok) {
    console.error("web build: over the bundle budget (README, Web app)");
    process.exit(1);
  }
}
