/**
 * The CLI behaviours issue 20 asked for, each against a real server:
 * --server saved only by setup commands, with or without /v1; one unreadable
 * group record isolated (named, recoverable); a missing salt reported, never
 * regenerated; --port validated; --version; message bodies from a file or
 * stdin; the KEK from CONCLAVE_KEK for `conclave serve`, and a wrong one
 * reported in one line by both entry points; GET /v1/stream without an
 * upgrade answers 426.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serving } from "../src/index.js";
import { HomeError, normalizeServerUrl } from "../src/clientHome.js";
import { parsePort, UsageError, version } from "../src/main.js";
import { execNode } from "./support/exec.js";
import { cliIn } from "./support/inProcess.js";

const BIN = resolve(import.meta.dirname, "../bin/conclave.js");
const SERVER_MAIN = resolve(import.meta.dirname, "../../server/src/main.ts");

let dir: string;
let server: Serving;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-fixes-"));
  server = await serve({ db: join(dir, "ds.sqlite"), host: "127.0.0.1", port: 0, domain: "fix.example", rateLimits: false, openRegistration: true });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const run = (who: string, ...argv: string[]) => cliIn(dir)(who, argv);
async function ok(who: string, ...argv: string[]): Promise<string[]> {
  const r = await run(who, ...argv);
  expect(r.code, r.err.join("\n")).toBe(0);
  return r.out;
}

describe("argument checks", () => {
  it("normalizes the server URL with or without /v1 and refuses what is not an http(s) URL", () => {
    expect(normalizeServerUrl("http://127.0.0.1:7300/v1")).toBe("http://127.0.0.1:7300");
    expect(normalizeServerUrl("http://127.0.0.1:7300/v1/")).toBe("http://127.0.0.1:7300");
    expect(normalizeServerUrl("http://127.0.0.1:7300/")).toBe("http://127.0.0.1:7300");
    expect(normalizeServerUrl("https://example.org/chat/v1")).toBe("https://example.org/chat");
    expect(normalizeServerUrl("https://example.org/v10")).toBe("https://example.org/v10");
    for (const bad of ["127.0.0.1:7300", "ftp://x/", "http://x/?a=1", ""]) {
      expect(() => normalizeServerUrl(bad), bad).toThrow(HomeError);
    }
  });

  it("--port takes 0..65535 in digits only; an empty value is an error, not a random port", async () => {
    expect([parsePort("0"), parsePort("7300"), parsePort("65535")]).toEqual([0, 7300, 65535]);
    for (const bad of ["", " ", "-1", "65536", "1e3", "0x10", "12a", "7300.0"]) expect(() => parsePort(bad), JSON.stringify(bad)).toThrow(UsageError);
    const r = await run("nobody", "serve", "--port", "", "--db", join(dir, "never.sqlite"));
    expect([r.code, r.err]).toEqual([2, [expect.stringMatching(/^conclave: USAGE: bad --port "": expected a number from 0 to 65535/)]]);
    expect(existsSync(join(dir, "never.sqlite"))).toBe(false);
  });

  it("--version prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, "../package.json"), "utf8")) as { version: string };
    expect(version()).toBe(pkg.version);
    expect(await ok("nobody", "--version")).toEqual([`conclave ${pkg.version}`]);
    const bin = await execNode([BIN, "-V"]);
    expect([bin.code, bin.stdout]).toEqual([0, `conclave ${pkg.version}\n`]);
  });
});

describe("client state", () => {
  it("saves --server only from register, accepts it with /v1, and a typo elsewhere changes nothing", async () => {
    await ok("ann", "register", "ann", "pc", "--server", `${server.url}/v1`);
    const home = join(dir, "ann");
    const before = readdirSync(home).sort();
    const serverRecord = readFileSync(join(home, "server.rec"));
    // A read-only command with a wrong server: nothing on disk changes.
    expect(await ok("ann", "group", "list", "--server", "http://127.0.0.1:1")).toEqual([]);
    expect(readdirSync(home).sort()).toEqual(before);
    expect(readFileSync(join(home, "server.rec")).equals(serverRecord)).toBe(true);
    // A command that talks to the server uses the given one for this run only.
    const typo = await run("ann", "group", "create", "--server", "http://127.0.0.1:1");
    expect(typo.code).toBe(1);
    expect(readFileSync(join(home, "server.rec")).equals(serverRecord)).toBe(true);
    // Later commands still reach the saved server.
    const [g] = await ok("ann", "group", "create");
    expect(g).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("a command other than register on a home with no state creates nothing", async () => {
    for (const argv of [
      ["group", "list"],
      ["listen", "--once", "--server", server.url],
      ["group", "create", "--server", server.url],
    ]) {
      const r = await run("ghost", ...argv);
      expect([r.code, r.out, r.err], argv.join(" ")).toEqual([1, [], [expect.stringMatching(/^conclave: AUTH_REQUIRED: this device is not registered: no client state in .*ghost/)]]);
    }
    expect(existsSync(join(dir, "ghost"))).toBe(false);
  });

  it("one truncated group record is named and skipped; other groups and recover still work", async () => {
    await ok("bea", "register", "bea", "pc", "--server", server.url);
    await ok("fay", "register", "fay", "pc", "--server", server.url);
    const [g1] = await ok("bea", "group", "create");
    const [g2] = await ok("bea", "group", "create");
    // A commit publishes g1's GroupInfo, which an external-commit rejoin needs.
    await ok("bea", "group", "add", g1!, "fay");
    const file = join(dir, "bea", `group~${g1}.rec`);
    expect(existsSync(file)).toBe(true);
    truncateSync(file, 40);

    const list = await run("bea", "group", "list");
    expect(list.code, list.err.join("\n")).toBe(0);
    expect(list.out).toEqual([expect.stringMatching(new RegExp(`^${g2} epoch 0 members bea@fix.example#pc$`))]);
    expect(list.err).toEqual([
      `conclave: warning: STORE_UNREADABLE: ${file} cannot be read (FileStore: cannot decrypt group:${g1} (wrong passphrase or corrupted file)); group ${g1} is skipped: run \`conclave recover ${g1}\` to rejoin it`,
    ]);

    const sent = await run("bea", "send", g2!, "still here");
    expect([sent.code, sent.out]).toEqual([0, ["sent"]]);
    const rec = await run("bea", "recover", g1!);
    expect(rec.code, rec.err.join("\n")).toBe(0);
    expect(rec.out).toEqual([`rejoined ${g1} at epoch 2`]);
    await ok("bea", "send", g1!, "back");
    expect((await ok("fay", "listen", "--once")).slice(-1)).toEqual([`${g1} bea@fix.example#pc: back`]);
    const after = await run("bea", "group", "list");
    expect([after.err, after.out.length]).toEqual([[], 2]);
  });

  it("a missing salt file is an error naming it, and is not regenerated", async () => {
    await ok("cid", "register", "cid", "pc", "--server", server.url);
    const salt = join(dir, "cid", "salt");
    unlinkSync(salt);
    const r = await run("cid", "group", "list");
    expect([r.code, r.out]).toEqual([1, []]);
    expect(r.err).toEqual([expect.stringMatching(/^conclave: STATE_SALT_MISSING: .*cid\/salt is missing, so the records in .* cannot be decrypted: restore that file from a backup/)]);
    expect(existsSync(salt)).toBe(false);
  });

  it("sends a message body from a file and from stdin", async () => {
    await ok("dan", "register", "dan", "pc", "--server", server.url);
    await ok("eve", "register", "eve", "pc", "--server", server.url);
    const [g] = await ok("dan", "group", "create");
    await ok("dan", "group", "add", g!, "eve");
    // Over argv's 128 KiB cap for one argument, with newlines kept.
    const big = `${"a line of text\n".repeat(10_000)}end`;
    const file = join(dir, "body.txt");
    writeFileSync(file, big);
    expect(await ok("dan", "send", g!, "--file", file)).toEqual(["sent"]);
    const fromStdin = await execNode(["--conditions=@conclave/source", BIN, "send", g!, "-", "--home", join(dir, "dan")], {
      env: { CONCLAVE_PASSPHRASE: "pass-dan" },
      stdin: "from stdin ✓",
    });
    expect([fromStdin.code, fromStdin.stdout, fromStdin.stderr]).toEqual([0, "sent\n", expect.any(String)]);
    const heard = await ok("eve", "listen", "--once");
    expect(heard[0]).toMatch(/joined at epoch 1/);
    expect(heard.slice(1)).toEqual([`${g} dan@fix.example#pc: ${big}`, `${g} dan@fix.example#pc: from stdin ✓`]);

    const missing = await run("dan", "send", g!, "--file", join(dir, "nope.txt"));
    expect([missing.code, missing.err]).toEqual([2, [expect.stringMatching(/^conclave: USAGE: cannot read --file .*nope\.txt/)]]);
    writeFileSync(file, Buffer.from([0xff, 0xfe, 0x00]));
    const binary = await run("dan", "send", g!, "--file", file);
    expect([binary.code, binary.err]).toEqual([2, [expect.stringMatching(/is not UTF-8 text/)]]);
  });
});

describe("the key-encryption key and the stream route", () => {
  const KEK_A = Buffer.alloc(32, 7).toString("base64url");
  const KEK_B = Buffer.alloc(32, 9).toString("base64url");

  /** Starts a server process, waits for its listening line, stops it. */
  async function startAndStop(args: string[], env: Record<string, string>): Promise<string> {
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    try {
      return await new Promise<string>((res, rej) => {
        let out = "";
        p.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("listening on")) res(out);
        });
        p.stderr.on("data", (d: Buffer) => (out += d.toString()));
        p.on("exit", (code) => rej(new Error(`exited ${code}: ${out}`)));
      });
    } finally {
      p.kill("SIGTERM");
    }
  }

  it("conclave serve seals with CONCLAVE_KEK; a wrong one is one line from serve and from npm run main", async () => {
    const db = join(dir, "kek", "ds.sqlite");
    await startAndStop([BIN, "serve", "--db", db, "--port", "0"], { CONCLAVE_KEK: KEK_A });
    // The key came from the environment: no key file was made beside the database.
    expect(existsSync(join(dir, "kek", "conclave.kek"))).toBe(false);

    const wrong = await execNode([BIN, "serve", "--db", db, "--port", "0"], { env: { CONCLAVE_KEK: KEK_B } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^conclave: KEY_ENCRYPTION_KEY: server key .* does not open with this key-encryption key/)]);

    const env = { CONCLAVE_DB: db, CONCLAVE_PORT: "0", CONCLAVE_KEK: KEK_B };
    const main = await execNode([SERVER_MAIN], { env });
    expect(main.code).toBe(1);
    expect(main.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^conclave: KEY_ENCRYPTION_KEY: server key .* does not open with this key-encryption key/)]);
    const malformed = await execNode([SERVER_MAIN], { env: { ...env, CONCLAVE_KEK: "short" } });
    expect([malformed.code, malformed.stderr.trim()]).toEqual([1, expect.stringMatching(/^conclave: KEY_ENCRYPTION_KEY: the key-encryption key must be 32 bytes/)]);
    // The right key still opens it.
    expect(await startAndStop([SERVER_MAIN], { ...env, CONCLAVE_KEK: KEK_A })).toMatch(/listening on/);
  });

  it("npm run main validates CONCLAVE_PORT like --port, and prints the port it bound", async () => {
    const env = { CONCLAVE_DB: join(dir, "port", "ds.sqlite"), CONCLAVE_KEK: KEK_A };
    for (const bad of ["", "http", "70000", "-1"]) {
      const r = await execNode([SERVER_MAIN], { env: { ...env, CONCLAVE_PORT: bad } });
      expect([r.code, r.stderr.trim().split("\n")], bad).toEqual([2, [`conclave: USAGE: bad CONCLAVE_PORT ${JSON.stringify(bad)}: expected a number from 0 to 65535`]]);
    }
    // Nothing was opened for a bad port: no database, no key file.
    expect(existsSync(join(dir, "port"))).toBe(false);
    const out = await startAndStop([SERVER_MAIN], { ...env, CONCLAVE_PORT: "0" });
    expect(out).toMatch(/listening on http:\/\/127\.0\.0\.1:(?!0\/)[0-9]+\/v1/);
  });

  it("GET /v1/stream without an upgrade answers 426 UPGRADE_REQUIRED with Upgrade: websocket", async () => {
    const r = await fetch(`${server.url}/v1/stream`);
    expect(r.status).toBe(426);
    expect(r.headers.get("upgrade")).toBe("websocket");
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("UPGRADE_REQUIRED");
  });
});
