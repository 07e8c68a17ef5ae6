/**
 * The SDK's browser store (IndexedDbStore) on Chromium's own IndexedDB and
 * WebCrypto: reopen after a "reload", passphrase check, big and failed
 * batches, concurrent writes, and a database deleted under an open handle.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { browserSuite, launchChromium } from "./support/chromium.js";
import { openHarness } from "./support/harnessPage.js";

const here = dirname(fileURLToPath(import.meta.url));
let browser: Browser;
let page: Page;

type Harness = Record<string, () => Promise<unknown>>;
const run = (name: string) => page.evaluate((n) => (globalThis as unknown as { storeHarness: Harness }).storeHarness[n]!(), name);

browserSuite("IndexedDbStore in Chromium", () => {
  beforeAll(async () => {
    browser = await launchChromium();
    page = await openHarness(browser, join(here, "browser/storeHarness.ts"), "storeHarness");
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("keeps records across a new handle (a reload), deletes, lists keys", async () => {
    expect(await run("roundTrip")).toEqual({ values: ["A", null, "9"], keys: ["cursor", "group:a"] });
  });

  it("refuses a wrong passphrase with STORE_UNREADABLE", async () => {
    expect(await run("wrongPassphrase")).toBe("STORE_UNREADABLE");
  });

  it("lands a 60-record, 1 MB batch whole (sealed before its one transaction opens)", async () => {
    expect(await run("bigBatch")).toEqual({ written: 60, read: 60, allEqual: true });
  });

  it("leaves every record as it was when a write of the batch fails", async () => {
    expect(await run("failedBatch")).toEqual({ error: "disk full (injected)", a: "a1", b: "b1" });
  });

  it("resolves and lands 25 writes issued at once", async () => {
    expect(await run("concurrentWrites")).toBe(25);
  });

  it("lets the database be deleted under an open handle, which then fails instead of hanging", async () => {
    const r = (await run("destroyWhileOpen")) as { destroyed: boolean; afterwards: string };
    expect(r.destroyed).toBe(true);
    expect(r.afterwards).not.toBe("worked");
  });
});
