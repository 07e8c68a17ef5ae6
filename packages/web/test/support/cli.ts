/**
 * The real `conclave` command as separate processes: `conclave serve` (the
 * DS+AS serving EmojisOnly at /, as a person runs it: it builds
 * packages/web/dist itself when missing or stale) and a CLI user's commands,
 * each one process on its own encrypted --home.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CreateInviteResponse } from "@conclave/api";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const BIN = join(repoRoot, "packages/cli/bin/conclave.js");
/** The repo runs from its TypeScript sources (the bin loads tsx itself under this condition). */
const NODE_ARGS = ["--conditions=@conclave/source", BIN];
const ADMIN_TOKEN = "emojisonly-e2e-admin";

export interface ServedApp {
  readonly url: string;
  /** What serve printed before it listened (the web build's lines when it built). */
  readonly startup: string;
  /** A single-use invite token from the admin route (the server gives user names against invites). */
  invite(): Promise<string>;
  close(): Promise<void>;
}

/** Starts `conclave serve` on a free port, with no build step before it: the server builds the app when it must. */
export async function conclaveServe(): Promise<ServedApp> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-web-e2e-"));
  const child = spawn(process.execPath, [...NODE_ARGS, "serve", "--db", join(dir, "ds.sqlite"), "--host", "127.0.0.1", "--port", "0", "--no-rate-limit", "--admin-token", ADMIN_TOKEN], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let startup = "";
  const url = await new Promise<string>((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`conclave serve did not start: ${out}`)), 100_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s/]+)\/v1/.exec(out);
      if (m !== null) {
        startup = out;
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => fail(new Error(`conclave serve exited (${code}): ${out}`)));
  });
  return {
    url,
    startup,
    async invite() {
      const res = await fetch(`${url}/v1/admin/invites`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (res.status !== 201) throw new Error(`invite: HTTP ${res.status} ${await res.text()}`);
      return ((await res.json()) as CreateInviteResponse).token;
    },
    async close() {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

/** One CLI user: every call is a fresh `conclave` process on the same --home. */
export class CliUser {
  readonly home = mkdtempSync(join(tmpdir(), "conclave-cli-user-"));

  constructor(readonly server: string) {}

  /** Runs `conclave <args>`; resolves with stdout, or rejects with the one-line error and the exit code. */
  run(...args: string[]): Promise<string> {
    return new Promise((ok, fail) => {
      execFile(
        process.execPath,
        [...NODE_ARGS, ...args, "--home", this.home, "--quiet"],
        { env: { ...process.env, CONCLAVE_PASSPHRASE: "cli user passphrase" }, timeout: 60_000 },
        (err, stdout, stderr) => (err === null ? ok(stdout) : fail(Object.assign(new Error(`conclave ${args[0]}: ${stderr.trim() || err.message}`), { exitCode: err.code }))),
      );
    });
  }

  /** `listen --once` until `pred` holds for all lines seen so far. */
  async listenUntil(pred: (lines: string[]) => boolean, tries = 40): Promise<string[]> {
    const seen: string[] = [];
    for (let i = 0; i < tries; i++) {
      seen.push(...(await this.run("listen", "--once")).split("\n").filter((l) => l !== ""));
      if (pred(seen)) return seen;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`conclave listen never showed what was expected; saw:\n${seen.join("\n")}`);
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
