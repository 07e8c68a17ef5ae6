/**
 * The official mlswg vectors (crypto-basics, key-schedule, message-protection,
 * welcome) inside Debian's Chromium with the web crypto provider, both its
 * WebCrypto paths ("web") and its pure-JS fallbacks ("web-js"). The harness
 * (browser/vectorHarness.ts) is bundled for the browser platform by esbuild,
 * served from a loopback origin (a secure context, so crypto.subtle exists),
 * and handed each file from the repo's test-vectors/. A missing file fails.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { browserSuite, launchChromium } from "./support/chromium.js";
import { openHarness } from "./support/harnessPage.js";
import type { FileResult } from "./browser/vectorHarness.js";

const here = dirname(fileURLToPath(import.meta.url));
const vectorDir = resolve(here, "../../../test-vectors");
const FILES = ["crypto-basics", "key-schedule", "message-protection", "welcome"] as const;
const PROVIDERS = ["web", "web-js"] as const;

function loadVectors(name: string): unknown[] {
  const path = join(vectorDir, `${name}.json`);
  if (!existsSync(path)) throw new Error(`MLS test vector file missing: ${path} (the vectors live in the repo's test-vectors/)`);
  return JSON.parse(readFileSync(path, "utf8")) as unknown[];
}

let browser: Browser;
let page: Page;

browserSuite("mlswg vectors in Chromium with the web provider", () => {
  beforeAll(async () => {
    browser = await launchChromium();
    page = await openHarness(browser, join(here, "browser/vectorHarness.ts"), "runVectorFile");
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("the harness catches a wrong byte: a corrupted crypto-basics case fails by name", async () => {
    const cases = loadVectors("crypto-basics") as { expand_with_label: { out: string } }[];
    const bad = structuredClone(cases.slice(0, 1));
    const out = bad[0]!.expand_with_label.out;
    bad[0]!.expand_with_label.out = (out[0] === "0" ? "1" : "0") + out.slice(1);
    const r = await page.evaluate(
      ([c]) => (globalThis as unknown as { runVectorFile: (f: string, p: string, c: unknown[]) => Promise<FileResult> }).runVectorFile("crypto-basics", "web", c),
      [bad] as const,
    );
    expect(r.passed).toBe(0);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatch(/expand_with_label/);
  });

  for (const file of FILES) {
    for (const provider of PROVIDERS) {
      it(`${file}.json [${provider}]: every case, every cipher suite, byte for byte`, async () => {
        const cases = loadVectors(file);
        const r = await page.evaluate(([f, p, c]) => (globalThis as unknown as { runVectorFile: (f: string, p: string, c: unknown[]) => Promise<FileResult> }).runVectorFile(f, p, c), [
          file,
          provider,
          cases,
        ] as const);
        expect(r.failures).toEqual([]);
        expect(r.cases).toBe(cases.length);
        expect(r.passed).toBe(cases.length);
        expect(new Set(r.suites)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7]));
        expect(r.userAgent).toContain("Chrome/");
      }, 120_000);
    }
  }
});
