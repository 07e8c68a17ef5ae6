/**
 * Builds EmojisOnly into packages/web/dist (app.js, index.html, styles.css)
 * with esbuild, measures the app and the SDK's browser entry minified and
 * gzipped, prints both, and fails when either is over its budget (stated in
 * the README's "Web app" section). It also fails when a Node-only module
 * (node:*, the node crypto provider, the file store, ws) reaches the browser
 * graph. Run: `npx tsx packages/web/src/build/build.ts`.
 */
import { build, type BuildOptions, type Metafile } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
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

export async function buildWebApp(outDir: string = join(webDir, "dist")): Promise<WebBuild> {
  mkdirSync(outDir, { recursive: true });
  const app = await build({ ...common, entryPoints: [join(webDir, "src/app/main.ts")], write: false, outfile: join(outDir, "app.js") });
  assertBrowserGraph(app.metafile!, "app");
  const sdk = await build({ ...common, entryPoints: [join(repoRoot, "packages/client/src/browser/index.ts")], write: false, outfile: join(outDir, "sdk.js") });
  assertBrowserGraph(sdk.metafile!, "SDK");
  const appCode = app.outputFiles[0]!.contents;
  writeFileSync(join(outDir, "app.js"), appCode);
  for (const f of readdirSync(join(webDir, "public"))) copyFileSync(join(webDir, "public", f), join(outDir, f));
  return { outDir, app: sizeOf(appCode), sdk: sizeOf(sdk.outputFiles[0]!.contents) };
}

/** The budget lines and whether both hold. */
export function report(b: WebBuild): { lines: string[]; ok: boolean } {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const row = (name: string, s: BundleSize, budget: number) => `${name.padEnd(22)} ${kb(s.bytes).padStart(10)} min ${kb(s.gzipBytes).padStart(9)} gzip  (budget ${kb(budget)} gzip)${s.gzipBytes > budget ? "  OVER BUDGET" : ""}`;
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
