/**
 * EmojisOnly end to end in Debian's Chromium: alice and bob in two browser
 * contexts (separate IndexedDB, separate keys), carol on the `conclave` CLI
 * (one process per command), and `conclave serve` serving the built app. Registration, a group, adding by user
 * name, emojis both ways live, the emoji rule on both ends, equal safety
 * numbers, a reload that keeps the group, alice's second device, a leave and
 * a removal. User names come with invite tokens; alice's tablet is linked
 * by her laptop's approval. Each step leaves a screenshot in test-artifacts/e2e/.
 */
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { browserSuite, launchChromium } from "./support/chromium.js";
import { CliUser, conclaveServe, type ServedApp } from "./support/cli.js";

const artifacts = resolve(dirname(fileURLToPath(import.meta.url)), "../../../test-artifacts/e2e");
const PASS = "correct horse battery";
const WAIT = { timeout: 30_000 };

let server: ServedApp;
let carol: CliUser | undefined;
let browser: Browser;
const contexts: BrowserContext[] = [];
let shot = 0;

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${String(++shot).padStart(2, "0")}-${name}.png`) });
}

/** Frames each page's DS stream WebSockets received: push, not only polling, must reach the browser. */
const streamFrames = new Map<Page, number>();

async function openPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  contexts.push(ctx);
  const page = await ctx.newPage();
  streamFrames.set(page, 0);
  page.on("websocket", (ws) => {
    if (new URL(ws.url()).pathname !== "/v1/stream") return;
    ws.on("framereceived", () => streamFrames.set(page, (streamFrames.get(page) ?? 0) + 1));
  });
  page.on("dialog", (d) => void d.accept()); // "Leave this group?"
  // The page's own errors go to the test log: a failing step then says why.
  page.on("pageerror", (e) => console.error(`[page ${contexts.length}] ${e.message}`));
  // (Refused requests the app expects, e.g. polling a device link before its approval, are left out.)
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && console.error(`[page ${contexts.length} console] ${m.text()}`));
  await page.goto(server.url);
  return page;
}

async function register(page: Page, user: string, device: string, invite: string): Promise<void> {
  await page.getByTestId("user").fill(user);
  await page.getByTestId("device").fill(device);
  await page.getByTestId("passphrase").fill(PASS);
  await page.getByTestId("invite").fill(invite);
  await page.getByTestId("register").click();
  await registered(page, user, device);
}

async function registered(page: Page, user: string, device: string): Promise<void> {
  try {
    await page.getByTestId("me").waitFor(WAIT);
  } catch (e) {
    const why = await page
      .getByTestId("onboarding-error")
      .or(page.getByTestId("link-status"))
      .textContent()
      .catch(() => "?");
    throw new Error(`registration of ${user} (${device}) did not finish: ${why}`, { cause: e });
  }
}

async function sendEmojis(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
}

/** The conversation shows a message `text` from `sender` (user name). */
async function sees(page: Page, sender: string, text: string): Promise<void> {
  await page.locator(`[data-testid=message][data-sender="${sender}"] .bubble`, { hasText: text }).first().waitFor(WAIT);
}

/** Runs in the page: every record of the app's IndexedDB stores, checked for the sealed format and for plaintext. */
async function rawRecords(): Promise<{ records: number; notSealed: string[]; plaintextHits: string[] }> {
  const needles = ["🎉", "🌮", "alice@", "bob@", "example.com"].map((t) => new TextEncoder().encode(t));
  const has = (hay: Uint8Array, n: Uint8Array) => hay.some((_, i) => n.every((b, j) => hay[i + j] === b));
  const out = { records: 0, notSealed: [] as string[], plaintextHits: [] as string[] };
  for (const name of ["conclave:device", "conclave:history"]) {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const all = await new Promise<unknown[]>((resolve, reject) => {
      const r = db.transaction("records").objectStore("records").getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
    for (const v of all) {
      out.records++;
      if (!(v instanceof Uint8Array) || new TextDecoder().decode(v.subarray(0, 4)) !== "CCS1") out.notSealed.push(`${name}: ${String(v).slice(0, 40)}`);
      else for (const n of needles) if (has(v, n)) out.plaintextHits.push(`${name}: ${new TextDecoder().decode(n)}`);
    }
  }
  return out;
}

browserSuite("EmojisOnly in Chromium (alice, bob in browsers; carol on the CLI; conclave serve)", () => {
  beforeAll(async () => {
    rmSync(artifacts, { recursive: true, force: true }); // this run's screenshots only
    mkdirSync(artifacts, { recursive: true });
    server = await conclaveServe();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
    carol?.dispose();
  });

  it("register, group, add by name, emojis both ways, reload, second device, leave, removal", async ({ onTestFailed }) => {
    // A failing step leaves every open page's screen and its last message as artifacts too.
    onTestFailed(async () => {
      for (const [i, ctx] of contexts.entries()) {
        for (const [j, page] of ctx.pages().entries()) {
          const said = await page
            .getByTestId("toast")
            .or(page.getByTestId("onboarding-error"))
            .first()
            .textContent({ timeout: 1000 })
            .catch(() => "");
          console.error(`[failure] context ${i + 1} page ${j + 1}: ${said ?? ""}`);
          await page.screenshot({ path: join(artifacts, `failure-context${i + 1}-page${j + 1}.png`) }).catch(() => undefined);
        }
      }
    });
    // 1. Registration: alice and bob in their own browser contexts, carol on the CLI.
    const alice = await openPage();
    await screenshot(alice, "register-form");
    await register(alice, "alice", "laptop", await server.invite());
    const recoveryCode = (await alice.getByTestId("recovery-code-value").textContent())!.trim();
    expect(recoveryCode.length).toBeGreaterThan(10);
    await screenshot(alice, "alice-registered");
    const bob = await openPage();
    await register(bob, "bob", "browser", await server.invite());
    const cli = new CliUser(server.url);
    carol = cli;
    expect(await cli.run("register", "carol", "cli", "--server", server.url, `--invite=${await server.invite()}`)).toMatch(/^registered carol@/m);

    // 2. alice creates a group and adds bob and carol by user name.
    await alice.getByTestId("new-group").click();
    await alice.getByTestId("safety-number").waitFor(WAIT);
    for (const user of ["bob", "carol"]) {
      await alice.getByTestId("add-user-input").fill(user);
      await alice.getByTestId("add-user").click();
      await alice.locator(`[data-testid=member][data-user=${user}]`).waitFor(WAIT);
    }
    await screenshot(alice, "alice-group-with-bob-and-carol");

    // bob's app joins by itself (Welcome pushed over the DS stream), carol's CLI when it listens.
    await bob.getByTestId("group-item").waitFor(WAIT);
    await bob.getByTestId("messages").getByText("You joined").waitFor(WAIT);
    const joined = await cli.listenUntil((ls) => ls.some((l) => / joined at epoch /.test(l)));
    const groupId = joined.find((l) => / joined at epoch /.test(l))!.split(" ")[0]!;
    await screenshot(bob, "bob-joined");

    // 3. Emojis both ways, live.
    await alice.getByTestId("palette").getByText("🎉").click();
    await alice.getByTestId("send").click();
    await sees(bob, "alice", "🎉");
    // The browser's own WebSocket (token in the query, CSP connect-src 'self') carried DS pushes.
    await expect.poll(() => streamFrames.get(bob), WAIT).toBeGreaterThan(0);
    await sendEmojis(bob, "👍🏽 🔥");
    await sees(alice, "bob", "👍🏽 🔥");
    const carolGot = await cli.listenUntil((ls) => ls.filter((l) => l.startsWith(`${groupId} `) && l.includes(": ")).length >= 2);
    expect(
      carolGot
        .filter((l) => l.includes(": "))
        .map((l) => l.slice(l.indexOf(": ") + 2))
        .sort(),
    ).toEqual(["👍🏽 🔥", "🎉"].sort());
    expect(await cli.run("send", groupId, "🌮")).toMatch(/sent/);
    await sees(alice, "carol", "🌮");
    await sees(bob, "carol", "🌮");
    await screenshot(alice, "alice-conversation");

    // 4. The rule: the composer refuses text; a non-emoji message from another client is dropped and reported.
    await bob.getByTestId("composer").fill("hello 👋");
    expect(await bob.getByTestId("send").isDisabled()).toBe(true);
    expect(await bob.getByTestId("composer-hint").textContent()).toContain("Only emojis");
    await screenshot(bob, "composer-refuses-text");
    await bob.getByTestId("composer").fill("");
    // The CLI does not know the app's rule: the receiving apps enforce it.
    await cli.run("send", groupId, "plain text, not emojis");
    await alice.getByTestId("dropped").waitFor(WAIT);
    await bob.getByTestId("dropped").waitFor(WAIT);
    expect(await alice.getByText("plain text, not emojis").count()).toBe(0);
    await screenshot(alice, "non-emoji-dropped");

    // 5. One safety number for everyone in the epoch.
    const n = (await cli.run("safety", groupId)).trim();
    expect(n).toMatch(/^\d{5}( \d{5}){5}$/);
    await expect.poll(() => alice.getByTestId("safety-number").textContent(), WAIT).toBe(n);
    await expect.poll(() => bob.getByTestId("safety-number").textContent(), WAIT).toBe(n);

    // 6. bob reloads: the passphrase unlocks the same device, its group and its history.
    await bob.reload();
    await bob.getByTestId("unlock").waitFor(WAIT);
    await screenshot(bob, "bob-unlock-after-reload");
    // Sent while bob's device is locked: the DS queue keeps it for him.
    await sendEmojis(alice, "📬");
    await bob.getByTestId("passphrase").fill("wrong passphrase");
    await bob.getByTestId("unlock").click();
    await expect.poll(() => bob.getByTestId("onboarding-error").textContent(), WAIT).toContain("STORE_UNREADABLE");
    await bob.getByTestId("passphrase").fill(PASS);
    await bob.getByTestId("unlock").click();
    await bob.getByTestId("group-item").waitFor(WAIT);
    await sees(bob, "alice", "🎉");
    await sees(bob, "alice", "📬");
    expect(await bob.getByTestId("safety-number").textContent()).toBe(n);
    await sendEmojis(alice, "🔁");
    await sees(bob, "alice", "🔁");
    await screenshot(bob, "bob-after-reload");
    // A second tab of the same browser may not open the same device (two clients would consume one queue).
    const bobTab2 = await bob.context().newPage();
    await bobTab2.goto(server.url);
    await bobTab2.getByTestId("passphrase").fill(PASS);
    await bobTab2.getByTestId("unlock").click();
    await expect.poll(() => bobTab2.getByTestId("onboarding-error").textContent(), WAIT).toContain("DEVICE_OPEN_ELSEWHERE");
    await screenshot(bobTab2, "bob-second-tab-refused");
    await bobTab2.close();
    // What the browser keeps at rest is ciphertext: no emoji, no identity, no key in the clear.
    const atRest = await bob.evaluate(rawRecords);
    expect(atRest.records).toBeGreaterThan(3);
    expect(atRest.notSealed).toEqual([]);
    expect(atRest.plaintextHits).toEqual([]);

    // 7. alice's second device: it asks to be linked, her laptop approves (both show one code) and brings it into the group.
    const alice2 = await openPage();
    await alice2.getByTestId("tab-link").click();
    await alice2.getByTestId("user").fill("alice");
    await alice2.getByTestId("device").fill("tablet");
    await alice2.getByTestId("passphrase").fill(PASS);
    await alice2.getByTestId("register").click();
    const payload = await alice2.getByTestId("link-payload").inputValue();
    const code = (await alice2.getByTestId("link-code").textContent())!;
    await screenshot(alice2, "tablet-asks-to-link");
    await alice.getByTestId("approve-device").click();
    await alice.getByTestId("approve-payload").fill(payload);
    await alice.getByTestId("approve-submit").click();
    await expect.poll(() => alice.getByTestId("approve-code").textContent(), WAIT).toBe(code);
    await screenshot(alice, "laptop-approved-tablet");
    await registered(alice2, "alice", "tablet");
    await alice2.getByTestId("group-item").waitFor(WAIT);
    await sendEmojis(bob, "🐙");
    await sees(alice2, "bob", "🐙");
    await sees(alice, "bob", "🐙");
    await expect.poll(() => alice.locator("[data-testid=member][data-user=alice] small").textContent(), WAIT).toBe("laptop, tablet");
    await screenshot(alice2, "alice-second-device");

    // 8. bob leaves: his SelfRemove is committed by another member's app, and the group leaves his list.
    await bob.getByTestId("leave").click();
    await expect.poll(() => bob.getByTestId("group-item").count(), WAIT).toBe(0);
    await expect.poll(() => alice.locator("[data-testid=member][data-user=bob]").count(), WAIT).toBe(0);
    await screenshot(bob, "bob-left");

    // 9. alice removes carol; carol's CLI learns it and can no longer post; alice and her tablet talk on.
    await alice.locator("[data-testid=member][data-user=carol] [data-testid=remove-member]").click();
    await expect.poll(() => alice.locator("[data-testid=member][data-user=carol]").count(), WAIT).toBe(0);
    await cli.listenUntil((ls) => ls.some((l) => l.endsWith("(removed me)")));
    await expect(cli.run("send", groupId, "👻")).rejects.toThrow(/NOT_GROUP_MEMBER|GROUP_NOT_FOUND/);
    await sendEmojis(alice2, "✅");
    await sees(alice, "alice", "✅");
    await screenshot(alice, "after-removal");
    // A second group, made on the tablet with alice's own devices: its message shows as unread on the laptop.
    await alice2.getByTestId("new-group").click();
    await expect.poll(() => alice2.getByTestId("group-item").count(), WAIT).toBe(2);
    await alice2.getByTestId("add-user-input").fill("alice");
    await alice2.getByTestId("add-user").click();
    await alice2.getByTestId("messages").getByText("You added alice (laptop)").waitFor(WAIT);
    await expect.poll(() => alice.getByTestId("group-item").count(), WAIT).toBe(2);
    await sendEmojis(alice2, "🎈");
    await expect.poll(() => alice.getByTestId("unread").textContent(), WAIT).toBe("1");
    await expect.poll(() => alice.title(), WAIT).toBe("(1) EmojisOnly");
    await screenshot(alice, "unread-in-second-group");
    await alice.locator("[data-testid=group-item]:has([data-testid=unread])").click();
    await sees(alice, "alice", "🎈");
    expect(await alice.getByTestId("unread").count()).toBe(0);
    await alice2.setViewportSize({ width: 390, height: 800 });
    await screenshot(alice2, "narrow-screen");

    // 10. Recovery: a new browser rejoins alice's account with the recovery code (a wrong code is refused).
    const alice3 = await openPage();
    await alice3.getByTestId("tab-recover").click();
    await alice3.getByTestId("user").fill("alice");
    await alice3.getByTestId("device").fill("phone");
    await alice3.getByTestId("passphrase").fill(PASS);
    await alice3.getByTestId("recovery-code").fill("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH");
    await alice3.getByTestId("register").click();
    await expect.poll(() => alice3.getByTestId("onboarding-error").textContent(), WAIT).toContain("RECOVERY_CODE_INVALID");
    await alice3.getByTestId("recovery-code").fill(recoveryCode);
    await alice3.getByTestId("register").click();
    await registered(alice3, "alice", "phone");
    await screenshot(alice3, "alice-recovered-on-phone");
  }, 240_000);
});
