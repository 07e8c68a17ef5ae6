/** Runs a node process to its end (the conclave bin, a server entry point): exit code and output. */
import { spawn } from "node:child_process";

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function execNode(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Exited> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", rej);
    p.on("close", (code) => res({ code, stdout, stderr }));
    p.stdin.end(opts.stdin ?? "");
  });
}
