/**
 * A test harness bundled for the browser (esbuild, the browser conditions,
 * no Node-only module allowed) and loaded into a Chromium page on a loopback
 * origin: a secure context, so crypto.subtle, IndexedDB and Web Locks behave
 * as on a real site. The page never leaves playwright's router.
 */
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { assertBrowserGraph } from "../../src/build/build.js";

const ORIGIN = "http://localhost:7399";

/** Opens a page running `entry`; resolves once the entry has set `globalThis[ready]`. */
export async function openHarness(browser: Browser, entry: string, ready: string): Promise<Page> {
  const bundle = await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "browser", conditions: ["@conclave/source"], write: false, metafile: true, logLevel: "silent" });
  assertBrowserGraph(bundle.metafile, entry);
  const js = bundle.outputFiles[0]!.text;
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`[harness page] ${e.message}`));
  await page.route(`${ORIGIN}/**`, (route) => {
    if (new URL(route.request().url()).pathname === "/harness.js") return route.fulfill({ contentType: "text/javascript", body: js });
    return route.fulfill({ contentType: "text/html", body: '<!doctype html><meta charset="utf-8"><script type="module" src="/harness.js"></script>' });
  });
  await page.goto(`${ORIGIN}/`);
  await page.waitForFunction((name) => name in globalThis, ready);
  if (!(await page.evaluate(() => window.isSecureContext))) throw new Error("the harness page is not a secure context");
  return page;
}
