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
  server = await serve({ db: join(dir, "ds.sqlite"), host: "127.0.0.1", port: 0, domain: "cmd.example", rateLimits: false });
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
    const secret = /account secret .*: (\S+)/.exec(bobReg!.join("\n"))![1]!;
    const [g] = await ok("alice", "group", "create");
    expect(await ok("alice", "group", "add", g!, "bob")).toEqual([`added bob@cmd.example#phone (epoch 1)`]);
    expect(await ok("alice", "group", "add", g!, "carol")).toEqual([`added carol@cmd.example#pc (epoch 2)`]);
    await ok("alice", "send", g!, "hello");
    expect(await ok("bob-phone", "listen", "--once")).toEqual([
      `${g} joined at epoch 1: alice@cmd.example#laptop, bob@cmd.example#phone`,
      `${g} epoch 2 by alice@cmd.example#laptop: +[carol@cmd.example#pc] -[]`,
      `${g} alice@cmd.example#laptop: hello`,
    ]);
    // A second device of bob, brought in by his phone.
    await ok("bob-laptop", "register", "bob", "laptop", "--server", server.url, `--account-secret=${secret}`); // "=" form: a base64url secret may start with "-"
    expect(await ok("bob-phone", "devices", "add")).toEqual([`${g}: added bob@cmd.example#laptop`]);
    expect((await ok("bob-laptop", "listen", "--once"))[0]).toMatch(/joined at epoch 3/);
    expect(await ok("alice", "group", "remove", g!, "carol")).toEqual([`removed carol@cmd.example#pc (epoch 4)`]);
    expect((await ok("alice", "group", "list"))[0]).toBe(`${g} epoch 4 members alice@cmd.example#laptop, bob@cmd.example#phone, bob@cmd.example#laptop`);

    const dup = await run("dave", "register", "alice", "x", "--server", server.url);
    expect([dup.code, dup.err.join("")]).toEqual([1, expect.stringMatching(/ACCOUNT_EXISTS/)]);
    const nobody = await run("alice", "group", "remove", g!, "zed");
    expect([nobody.code, nobody.err.join("")]).toEqual([1, expect.stringMatching(/INVALID_ROSTER_CHANGE: zed is not in group/)]);
    const noServer = await run("erin", "group", "create");
    expect([noServer.code, noServer.err.join("")]).toEqual([2, expect.stringMatching(/no server known/)]);
  });
});
