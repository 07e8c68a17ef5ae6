/**
 * The web app (EmojisOnly, packages/web) served at `/` beside the API, so
 * `conclave serve` gives a browser everything from one origin: the page, the
 * SDK it bundles, and /v1 + /v1/stream for the AS and DS. The server knows
 * nothing of the app but a directory of built files (ConclaveServerOptions
 * .webAppRoot); without one nothing is registered and the API is unchanged.
 *
 * In a source checkout the directory is packages/web/dist, and the server
 * (re)builds it when it is missing or older than its sources (webBuild.ts),
 * so `npm ci && npm run main` on a fresh clone serves a working app at `/`.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { checkoutWebDir, ensureCheckoutWebBuild } from "./webBuild.js";

/**
 * The page talks only to its own origin and runs only its own script: no
 * inline code, no third-party anything, and it cannot be framed.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

const NOT_BUILT_PAGE = `<!doctype html><meta charset="utf-8"><title>EmojisOnly is not built</title>
<p>The web app has not been built. Run <code>npm run build -w packages/web</code> in the checkout, then restart the server.</p>`;

/** Where a source checkout's build of packages/web lands (undefined outside a checkout). */
export function defaultWebAppRoot(): string | undefined {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../web/dist");
  return existsSync(dirname(root)) ? root : undefined;
}

/**
 * Serves the files under `root` at `/` (index.html for `/`). A root without
 * index.html (the app not built yet) answers `/` with 503 and how to build it,
 * so a fresh checkout says what is missing instead of a bare 404. The
 * checkout's own packages/web/dist is built first when missing or stale.
 */
export async function registerWebApp(app: FastifyInstance, root: string): Promise<void> {
  const web = checkoutWebDir();
  if (web !== undefined && resolve(root) === join(web, "dist")) await ensureCheckoutWebBuild(web, app.log);
  if (!existsSync(join(root, "index.html"))) {
    app.get("/", async (_req, reply) => reply.code(503).type("text/html; charset=utf-8").headers(SECURITY_HEADERS).send(NOT_BUILT_PAGE));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    // Only the files present now get routes: any other path keeps the API's JSON 404.
    wildcard: false,
    // dist/.build.json (the build's stamp) is not part of the app.
    serveDotFiles: false,
    dotfiles: "ignore",
    index: ["index.html"],
    cacheControl: true,
    maxAge: 0,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    },
  });
}
