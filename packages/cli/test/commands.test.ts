/** Client commands run in-process through main(), against a server started by serve(). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serving } from "../src/index.js";
import { cliIn } from "./support/inProcess.js";

let dir: string;
let server: Serving;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-cmd-"));
  server = await serve({ db: join(dir, "ds.sqlite"), host: "127.0.0.1", port: 0, domain: "cmd.example", rateLimits: false, openRegistration: true });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = (who: string, ...argv: string[]) => cliIn(dir)(who, argv);

describe("conclave client commands", () => {
  it("register, group create/add/remove, send, listen, devices add, with typed errors", async () => {
    const ok = async (who: string, ...argv: string[]) => {
      const r = await run(who, ...argv);
      expect(r.code, r.err.join("\n")).toBe(0);
      return r.out;
    };
    await ok("alice", "register", "alice", "laptop", "--server", server.url);
    const [bobReg] = await Promise.all([ok("bob-phone", "register", "bob", "phone", "--server", server.url), ok("carol", "register", "carol", "pc", "--server", server.url)]);
    expect(bobReg!.join("\n")).toMatch(/recovery code .*: (\S+)/);
    const [g] = await ok("alice", "group", "create");
    expect(await ok("alice", "group", "add", g!, "bob")).toEqual([`added bob@cmd.example#phone (epoch 1)`]);
    expect(await ok("alice", "group", "add", g!, "carol")).toEqual([`added carol@cmd.example#pc (epoch 2)`]);
    await ok("alice", "send", g!, "hello");
    expect(await ok("bob-phone", "listen", "--once")).toEqual([
      `${g} joined at epoch 1: alice@cmd.example#laptop, bob@cmd.example#phone`,
      `${g} epoch 2 by alice@cmd.example#laptop: +[carol@cmd.example#pc] -[]`,
      `${g} alice@cmd.example#laptop: hello`,
    ]);
    // A second device of bob, linked (approved by his phone), then brought into his groups by it.
    const [request, code] = await ok("bob-laptop", "devices", "link", "bob", "laptop", "--server", server.url);
    const payload = /^link request: (\S+)$/.exec(request!)![1]!;
    expect(await ok("bob-phone", "devices", "approve", payload)).toEqual([`approved laptop: check that it shows ${code!.replace("code: ", "code ")}`]);
    expect(await ok("bob-laptop", "devices", "complete")).toEqual(["registered bob@cmd.example#laptop"]);
    expect((await ok("bob-phone", "devices", "changes")).map((l) => l.split(" at ")[0])).toEqual(["added phone by recovery", "added laptop by device:phone"]);
    expect(await ok("bob-phone", "devices", "add")).toEqual([`${g}: added bob@cmd.example#laptop`]);
    expect((await ok("bob-laptop", "listen", "--once"))[0]).toMatch(/joined at epoch 3/);
    expect(await ok("alice", "group", "remove", g!, "carol")).toEqual([`removed carol@cmd.example#pc (epoch 4)`]);
    expect((await ok("alice", "group", "list"))[0]).toBe(`${g} epoch 4 members alice@cmd.example#laptop, bob@cmd.example#phone, bob@cmd.example#laptop`);

    const dup = await run("dave", "register", "alice", "x", "--server", server.url);
    expect([dup.code, dup.err.join("")]).toEqual([1, expect.stringMatching(/ACCOUNT_EXISTS/)]);
    const nobody = await run("alice", "group", "remove", g!, "zed");
    expect([nobody.code, nobody.err.join("")]).toEqual([1, expect.stringMatching(/INVALID_ROSTER_CHANGE: zed is not in group/)]);
    const noServer = await run("erin", "register", "erin", "pc");
    expect([noServer.code, noServer.err.join("")]).toEqual([2, expect.stringMatching(/no server known/)]);
  });
});
