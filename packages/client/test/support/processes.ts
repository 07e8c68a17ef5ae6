/**
 * Child processes for the multi-process tests: the `conclave serve` DS+AS and
 * Client drivers (driver.ts), each a real OS process talking over sockets/pipes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

const ROOT = resolve(import.meta.dirname, "../../../..");
const BIN = resolve(ROOT, "packages/cli/bin/conclave.js");
const DRIVER = resolve(import.meta.dirname, "driver.ts");

export class RemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Resolves with the first stdout line matching `re`, rejects if the process exits first or after `ms`. */
function firstLine(p: ChildProcess, re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    let stderr = "";
    p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => rej(new Error(`${what}: no ${re} within ${ms} ms; stderr: ${stderr}`)), ms);
    const rl = createInterface({ input: p.stdout! });
    rl.on("line", (l) => {
      const m = re.exec(l);
      if (m) {
        clearTimeout(t);
        rl.close();
        res(m);
      }
    });
    p.once("exit", (code, sig) => {
      clearTimeout(t);
      rej(new Error(`${what} exited (${code ?? sig}) before ${re}; stderr: ${stderr}`));
    });
  });
}

export interface ServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** `conclave serve` on a fresh SQLite file, port chosen by the OS. */
export async function startServerProcess(db: string): Promise<ServerProcess> {
  const p = spawn(process.execPath, [BIN, "serve", "--db", db, "--port", "0", "--domain", "mp.example", "--no-rate-limit", "--open-registration"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await firstLine(p, /listening on (http:\/\/\S+)\/v1/, 60_000, "conclave serve");
  return { url: m[1]!, stop: () => stop(p, "SIGTERM") };
}

function stop(p: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    p.once("exit", () => res());
    p.kill(sig);
  });
}

/** One Client in its own process; `call` sends a command and awaits its reply. */
export class Driver {
  #p!: ChildProcess;
  #next = 1;
  readonly #waiting = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  #exited: Error | undefined;

  private constructor(
    readonly name: string,
    private readonly serverUrl: string,
    private readonly dir: string,
  ) {}

  static async start(name: string, serverUrl: string, dir: string): Promise<Driver> {
    const d = new Driver(name, serverUrl, dir);
    await d.#spawn();
    return d;
  }

  get pid(): number {
    return this.#p.pid!;
  }

  async #spawn(): Promise<void> {
    this.#exited = undefined;
    const p = spawn(process.execPath, ["--import", "tsx", DRIVER, this.serverUrl, this.dir, `pass-${this.name}`], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.#p = p;
    let stderr = "";
    p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const ready = new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`driver ${this.name} not ready within 60 s; stderr: ${stderr}`)), 60_000);
      createInterface({ input: p.stdout! }).on("line", (l) => {
        const r = JSON.parse(l) as { ready?: boolean; id?: number; ok: boolean; result?: unknown; code?: string; message?: string };
        if (r.ready === true) {
          clearTimeout(t);
          res();
          return;
        }
        const w = r.id === undefined ? undefined : this.#waiting.get(r.id);
        if (w === undefined) return;
        this.#waiting.delete(r.id!);
        if (r.ok) w.res(r.result);
        else w.rej(new RemoteError(r.code ?? "ERROR", r.message ?? ""));
      });
      p.once("exit", (code, sig) => {
        clearTimeout(t);
        this.#exited = new Error(`driver ${this.name} exited (${code ?? sig}); stderr: ${stderr.slice(-2000)}`);
        rej(this.#exited);
        for (const w of this.#waiting.values()) w.rej(this.#exited);
        this.#waiting.clear();
      });
    });
    await ready;
  }

  call<T = unknown>(cmd: string, args: Record<string, string> = {}, ms = 60_000): Promise<T> {
    if (this.#exited !== undefined) return Promise.reject(this.#exited);
    const id = this.#next++;
    return new Promise<T>((res, rej) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        rej(new Error(`driver ${this.name}: ${cmd} got no reply within ${ms} ms`));
      }, ms);
      this.#waiting.set(id, {
        res: (v) => {
          clearTimeout(t);
          res(v as T);
        },
        rej: (e) => {
          clearTimeout(t);
          rej(e);
        },
      });
      this.#p.stdin!.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  /** Waits for the process to die on its own (e.g. a `dieOnWrite` trap), returning its signal. */
  died(): Promise<NodeJS.Signals | number | null> {
    if (this.#p.exitCode !== null || this.#p.signalCode !== null) return Promise.resolve(this.#p.signalCode ?? this.#p.exitCode);
    return new Promise((res) => this.#p.once("exit", (code, sig) => res(sig ?? code)));
  }

  kill(): Promise<void> {
    return stop(this.#p, "SIGKILL");
  }

  /** A new process on the same store directory. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  close(): Promise<void> {
    this.#p.stdin!.end();
    return stop(this.#p, "SIGTERM");
  }
}
