/**
 * A child process that is ready once a stdout line matches, with every
 * stdout line kept and a stop() that sends SIGTERM and waits for the exit.
 * For tests (and the DS bench) that run servers as real processes.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface Started {
  /** The ready line's match. */
  readonly match: RegExpExecArray;
  /** Every stdout line so far (it keeps growing). */
  readonly out: string[];
  readonly pid: number;
  stop(): Promise<void>;
}

export function startProcess(args: readonly string[], env: NodeJS.ProcessEnv, ready: RegExp, cwd?: string): Promise<Started> {
  const p: ChildProcess = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"], ...(cwd === undefined ? {} : { cwd }) });
  const out: string[] = [];
  let err = "";
  p.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    if (err.length > 64 * 1024) err = err.slice(-32 * 1024); // only the tail matters for an error message
  });
  const stop = (): Promise<void> =>
    p.exitCode !== null || p.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => {
          p.once("exit", () => resolve());
          p.kill("SIGTERM");
        });
  return new Promise((resolve, reject) => {
    let buf = "";
    let started = false;
    p.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        out.push(l);
        const m = started ? null : ready.exec(l);
        if (m !== null) {
          started = true;
          resolve({ match: m, out, pid: p.pid!, stop });
        }
      }
    });
    p.once("exit", (code, signal) => {
      if (!started) reject(new Error(`${args.join(" ")} exited (${code ?? signal}) before ${ready}: ${err}`));
    });
  });
}
