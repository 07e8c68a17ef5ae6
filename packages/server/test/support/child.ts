/**
 * Servers in their own processes (ds-child-server.ts), for the tests that kill
 * them or run several on one database, and a RunningServer-shaped client for
 * talking to them over HTTP.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "./server.js";

const CHILD = fileURLToPath(new URL("../ds-child-server.ts", import.meta.url));

/** The admin token of child servers: tests take invite tokens from their admin route. */
export const CHILD_ADMIN_TOKEN = "child-server-admin-token";

/** `store` is "sqlite:<file>" or "postgres:<schema>". */
export function startChild(store: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD], { env: { ...process.env, CONCLAVE_STORE: store }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m !== null) resolve({ child, url: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`child exited early: ${code}`)));
  });
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** The minimum of RunningServer the helpers use: url and request. */
export function remote(url: string): RunningServer {
  return {
    url,
    async request(method: string, path: string, opts: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; token?: string } = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      let body = opts.body;
      if (opts.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(opts.json);
      }
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text !== "" && (res.headers.get("content-type") ?? "").startsWith("application/json") ? JSON.parse(text) : text };
    },
  } as unknown as RunningServer;
}
