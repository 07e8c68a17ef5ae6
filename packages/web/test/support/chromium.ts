/**
 * Debian's Chromium driven by playwright-core. CI installs it (.ci/run:
 * apt-get install -y chromium); there a missing browser FAILS the suite. On a
 * developer machine without it the suite is skipped, saying why.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { describe } from "vitest";

export const CHROMIUM_PATH = process.env.CONCLAVE_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const missing = !existsSync(CHROMIUM_PATH);
const inCi = process.env.CI === "true" || process.env.CI === "1";

/** describe(), or describe.skip() with the reason when Chromium is absent outside CI. */
export function browserSuite(name: string, fn: () => void): void {
  if (missing && !inCi) describe.skip(`${name} (skipped: no Chromium at ${CHROMIUM_PATH}; apt-get install -y chromium)`, fn);
  else describe(name, fn);
}

export async function launchChromium(): Promise<Browser> {
  if (missing) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with 'apt-get install -y chromium' (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS, headless: true });
}
