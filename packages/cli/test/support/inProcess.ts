/** Runs `conclave` command lines in-process through main(), each device with its own --home and passphrase. */
import { join } from "node:path";
import { main } from "../../src/index.js";
import type { ProgressSink } from "../../src/progress.js";

export interface Run {
  code: number;
  out: string[];
  err: string[];
}

export function cliIn(dir: string) {
  return async function cli(who: string, argv: string[], progress?: ProgressSink): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const prev = process.env.CONCLAVE_PASSPHRASE;
    process.env.CONCLAVE_PASSPHRASE = `pass-${who}`;
    try {
      const code = await main([...argv, "--home", join(dir, who)], { log: (s) => out.push(s), err: (s) => err.push(s), ...(progress !== undefined ? { progress } : {}) });
      return { code, out, err };
    } finally {
      if (prev === undefined) delete process.env.CONCLAVE_PASSPHRASE;
      else process.env.CONCLAVE_PASSPHRASE = prev;
    }
  };
}

/** A progress sink that records what was written. */
export function recordingSink(isTTY: boolean): ProgressSink & { text(): string } {
  const chunks: string[] = [];
  return { isTTY, write: (s) => void chunks.push(s), text: () => chunks.join("") };
}
