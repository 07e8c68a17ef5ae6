/**
 * `conclave leave` / `conclave recover`, progress on stderr, and one-line
 * errors with codes: in-process through main(), against a server from serve().
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serving } from "../src/index.js";
import { Progress } from "../src/progress.js";
import { cliIn, recordingSink } from "./support/inProcess.js";

let dir: string;
let server: Serving;
let cli: ReturnType<typeof cliIn>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-life-"));
  server = await serve({ db: join(dir, "ds.sqlite"), host: "127.0.0.1", port: 0, domain: "life.example", rateLimits: false, openRegistration: true });
  cli = cliIn(dir);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ok = async (who: string, ...argv: string[]) => {
  const r = await cli(who, argv);
  expect(r.code, r.err.join("\n")).toBe(0);
  return r.out;
};

/** Alice's group with bob and carol in it; returns its id. */
async function threeMembers(tag: string): Promise<string> {
  for (const [who, dev] of [
    ["alice", "laptop"],
    ["bob", "phone"],
    ["carol", "pc"],
  ] as const)
    await ok(`${who}${tag}`, "register", `${who}${tag}`, dev, "--server", server.url);
  const [g] = await ok(`alice${tag}`, "group", "create");
  await ok(`alice${tag}`, "group", "add", g!, `bob${tag}`);
  await ok(`alice${tag}`, "group", "add", g!, `carol${tag}`);
  await ok(`bob${tag}`, "listen", "--once");
  await ok(`carol${tag}`, "listen", "--once");
  return g!;
}

describe("conclave leave and recover", () => {
  it("leave: the proposal is committed by another member's next sync, and the leaver learns it was removed", async () => {
    const g = await threeMembers("l");
    expect((await ok("caroll", "leave", g))[0]).toMatch(/^leaving .*another member's client commits the removal/);
    // Alice's listen syncs: her client commits Carol's SelfRemove.
    expect(await ok("alicel", "listen", "--once")).toEqual([`${g} epoch 3 by alicel@life.example#laptop: +[] -[caroll@life.example#pc]`]);
    expect(await ok("caroll", "listen", "--once")).toEqual([`${g} epoch 3 by alicel@life.example#laptop: +[] -[caroll@life.example#pc] (removed me)`]);
    expect(await ok("caroll", "group", "list")).toEqual([]);
    expect(await ok("bobl", "listen", "--once")).toEqual([`${g} epoch 3 by alicel@life.example#laptop: +[] -[caroll@life.example#pc]`]);
  });

  it("recover: after losing a group's local state, rejoin by external commit and talk again", async () => {
    const g = await threeMembers("r");
    const home = join(dir, "bobr");
    for (const f of readdirSync(home).filter((f) => f.startsWith("group~"))) rmSync(join(home, f));
    expect(await ok("bobr", "group", "list")).toEqual([]);
    const lost = await cli("bobr", ["send", g, "hello?"]);
    expect([lost.code, lost.err]).toEqual([1, [`conclave: GROUP_NOT_FOUND: not a member of group ${g}`]]);

    expect(await ok("bobr", "recover", g)).toEqual([`rejoined ${g} at epoch 3`]);
    expect(await ok("alicer", "listen", "--once")).toEqual([`${g} epoch 3 by external: +[bobr@life.example#phone] -[bobr@life.example#phone]`]);
    await ok("bobr", "send", g, "back after the loss");
    expect((await ok("carolr", "listen", "--once")).at(-1)).toBe(`${g} bobr@life.example#phone: back after the loss`);
    expect(await ok("bobr", "safety", g)).toEqual(await ok("carolr", "safety", g));
  });
});

describe("progress on stderr", () => {
  it("plain lines when stderr is not a terminal; results alone on stdout", async () => {
    const sink = recordingSink(false);
    const r = await cli("pat", ["register", "pat", "laptop", "--server", server.url], sink);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe("registered pat@life.example#laptop");
    expect(sink.text()).toMatch(/^registering pat\/laptop with the AS and publishing KeyPackages… done \(\d+ ms\)\n$/);
    const sink2 = recordingSink(false);
    const g = await cli("pat", ["group", "create"], sink2);
    expect(g.out).toEqual([expect.stringMatching(/^[A-Za-z0-9_-]{43}$/)]);
    expect(sink2.text()).toMatch(/^creating a group… done \(\d+ ms\)\n$/);
    const quiet = recordingSink(false);
    expect((await cli("pat", ["update", g.out[0]!, "--quiet"], quiet)).code).toBe(0);
    expect(quiet.text()).toBe("");
  });

  it("a failed step says so, and the error is one line with its code", async () => {
    const sink = recordingSink(false);
    await ok("quinn", "register", "quinn", "pc", "--server", server.url);
    const [g] = await ok("quinn", "group", "create");
    const r = await cli("quinn", ["group", "add", g!, "nobody-at-all"], sink);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([expect.stringMatching(/^conclave: ACCOUNT_NOT_FOUND: .*nobody-at-all/)]);
    expect(sink.text()).toMatch(/adding every device of nobody-at-all… failed \(\d+ ms\)\n$/);
    expect(r.out).toEqual([]);
  });

  it("on a terminal: a spinner redrawn in place, replaced by the outcome", async () => {
    const sink = recordingSink(true);
    let t = 0;
    const p = new Progress(sink, () => t);
    let release!: () => void;
    const running = p.step("working", () => new Promise<void>((res) => (release = res)));
    // Let the spinner tick a few frames.
    await expect.poll(() => sink.text().split("\r\x1b[2K").length, { timeout: 5000, interval: 20 }).toBeGreaterThan(2);
    t = 1234;
    release();
    await running;
    const text = sink.text();
    expect(text.startsWith("⠋ working…")).toBe(true);
    expect(text).toMatch(/\r\x1b\[2K⠙ working…/);
    expect(text.endsWith("\r\x1b[2Kworking… done (1234 ms)\n")).toBe(true);
  });
});

describe("bad input", () => {
  it("missing arguments, unknown group, unknown user, unregistered device: non-zero exit, one line with a code", async () => {
    await ok("rita", "register", "rita", "pc", "--server", server.url);
    const cases: [string, string[], number, RegExp][] = [
      ["rita", ["leave"], 2, /^conclave: USAGE: expected leave <groupId> \(conclave --help/],
      ["rita", ["recover", "a", "b"], 2, /^conclave: USAGE: expected recover <groupId>/],
      ["rita", ["group", "add", "only-one"], 2, /^conclave: USAGE: expected group add <groupId> <user>/],
      ["rita", ["send", "no-such-group", "hi"], 1, /^conclave: GROUP_NOT_FOUND: not a member of group no-such-group$/],
      ["rita", ["leave", "no-such-group"], 1, /^conclave: GROUP_NOT_FOUND: /],
      ["rita", ["group", "add", "no-such-group", "rita"], 1, /^conclave: GROUP_NOT_FOUND: /],
      ["rita", ["recover", "bm8tc3VjaC1ncm91cA"], 1, /^conclave: (GROUP_NOT_FOUND|NOT_GROUP_MEMBER): /],
      ["nemo", ["group", "create", "--server", server.url], 1, /^conclave: AUTH_REQUIRED: this device is not registered/],
    ];
    for (const [who, argv, code, re] of cases) {
      const r = await cli(who, argv);
      expect([argv.join(" "), r.code, r.err.length], r.err.join("\n")).toEqual([argv.join(" "), code, 1]);
      expect(r.err[0]).toMatch(re);
      expect(r.out).toEqual([]);
    }
  });
});
