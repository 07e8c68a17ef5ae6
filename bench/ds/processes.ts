/**
 * The DS bench's processes: the server, the bare-fastify ceiling and the load
 * generators each run in a process of their own (node + tsx, from source), so
 * the load never competes with the server inside one event loop.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startProcess } from "../../packages/server/test/support/process.js";

/** The bench server's /metrics token (BENCH_METRICS=1). */
export const BENCH_METRICS_TOKEN = "bench-metrics-token-0123456789";

const NODE_ARGS = ["--conditions=@conclave/source", "--import", "tsx"];

export interface Listening {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** Starts bench/ds/<name> and resolves when it prints "LISTENING <url>". */
export async function startListening(name: string, env: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<Listening> {
  const p = await startProcess([...nodeArgs, ...NODE_ARGS, script(name)], { ...process.env, ...env }, /LISTENING (\S+)/);
  return { url: p.match[1]!, pid: p.pid, stop: p.stop };
}

/** Runs bench/ds/<name> with `input` as JSON on stdin; resolves with the JSON it prints. */
export function runJson<I, O>(name: string, input: I): Promise<O> {
  const p = spawn(process.execPath, [...NODE_ARGS, script(name)], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stdin.end(JSON.stringify(input));
  return new Promise((resolve, reject) => {
    p.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${name} exited with ${code}`));
      try {
        resolve(JSON.parse(out) as O);
      } catch {
        reject(new Error(`${name} printed no JSON: ${out.slice(0, 200)}`));
      }
    });
  });
}

/** Reads all of stdin as JSON (the child side of runJson). */
export async function readInput<I>(): Promise<I> {
  let s = "";
  for await (const chunk of process.stdin) s += String(chunk);
  return JSON.parse(s) as I;
}

/** Closes the child's listener on SIGTERM (the parent's stop()). */
export function stopOnSignal(close: () => Promise<void>): void {
  process.once("SIGTERM", () => void close().then(() => process.exit(0)));
}
