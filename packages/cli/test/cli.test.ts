/** The `conclave` bin run as real child processes (no build step: tsx loads the sources). */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { execNode } from "./support/exec.js";

const BIN = resolve(import.meta.dirname, "../bin/conclave.js");

const run = (args: string[], env: Record<string, string> = {}) => execNode([BIN, ...args], { env });

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGTERM");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("conclave CLI", () => {
  it("`conclave demo --federated` runs a group across two domains to the end", async () => {
    const r = await run(["demo", "--federated"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/alice added bob@b\.demo#phone/);
    expect(r.stdout).toMatch(/bob received "hello from a\.demo" from alice@a\.demo#laptop/);
    expect(r.stdout).toMatch(/alice received "hello from b\.demo" from bob@b\.demo#phone/);
    expect(r.stdout).toMatch(/both at epoch 2/);
    expect(r.stdout.trimEnd().endsWith("federated demo complete")).toBe(true);
  });

  it("`conclave demo` walks through RFC 9750 §3 to the end", async () => {
    const r = await run(["demo"]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/bob joined from a Welcome at epoch 1/);
    expect(out).toMatch(/charlie joined from a Welcome at epoch 2/);
    expect(out).toMatch(/bob received from alice: "Hello Bob and Charlie!"/);
    expect(out).toMatch(/charlie processed a commit by alice -> epoch 3 removed charlie \(that is me/);
    expect(out).toMatch(/alice processed a commit by bob -> epoch 4/);
    expect(out).toMatch(/epochs: alice@4 bob@4; charlie is no longer a member/);
    expect(out).toMatch(/safety numbers match/);
    expect(out.trimEnd().endsWith("demo complete")).toBe(true);
  });

  it("rejects bad input with a usage error and exit code 2", async () => {
    const bad = await run(["group", "add", "only-one-arg"], { CONCLAVE_PASSPHRASE: "x", CONCLAVE_HOME: join(tmpdir(), "conclave-never-used") });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected group add <groupId> <user>/);
    const unknown = await run(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const flag = await run(["demo", "--nope"]);
    expect(flag.code).toBe(2);
  });

  it("serve + client commands in separate processes: register, group create/add, send, listen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-cli-"));
    dirs.push(dir);
    const server = spawn(process.execPath, [BIN, "serve", "--db", join(dir, "ds.sqlite"), "--port", "0", "--domain", "cli.example", "--open-registration"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(server);
    const url = await new Promise<string>((res, rej) => {
      let buf = "";
      server.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /listening on (http:\/\/\S+)\/v1/.exec(buf);
        if (m) res(m[1]!);
      });
      server.on("close", (c) => rej(new Error(`serve exited ${c}`)));
    });
    const as = (who: string) => ({ CONCLAVE_HOME: join(dir, who), CONCLAVE_PASSPHRASE: `pw-${who}` });
    const u = Math.random().toString(36).slice(2, 7);
    const ok = async (args: string[], who: string) => {
      const r = await run(args, as(who));
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      return r.stdout.trim();
    };
    expect(await ok(["register", `alice${u}`, "laptop", "--server", url], "alice")).toMatch(new RegExp(`registered alice${u}@cli.example#laptop`));
    await ok(["register", `bob${u}`, "phone", "--server", url], "bob");
    const g = await ok(["group", "create"], "alice");
    expect(await ok(["group", "add", g, `bob${u}`], "alice")).toMatch(/added bob.*epoch 1/);
    expect(await ok(["listen", "--once"], "bob")).toMatch(/joined at epoch 1/);
    await ok(["send", g, "hello over processes"], "alice");
    expect(await ok(["listen", "--once"], "bob")).toBe(`${g} alice${u}@cli.example#laptop: hello over processes`);
    expect(await ok(["safety", g], "bob")).toBe(await ok(["safety", g], "alice"));
    const wrong = await run(["group", "list"], { ...as("bob"), CONCLAVE_PASSPHRASE: "wrong" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot decrypt/);
  }, 120_000);
});
