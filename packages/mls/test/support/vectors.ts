/**
 * Loads the official mlswg test vectors from the repo's own copy
 * (test-vectors/ at the repo root; source and version in its README.md).
 * Nothing outside the checkout is read: a clean clone tests the same cases
 * everywhere. A missing or unreadable vector file throws, so the suite that
 * asked for it FAILS at collection; a vector suite never skips.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromHex } from "../../src/codec/bytes.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** The repo's copy of github.com/mlswg/mls-implementations/test-vectors. */
export const vectorDir: string = resolve(repoRoot, "test-vectors");

/** Every vector file the suites read; test-vectors/SHA256SUMS pins their bytes. */
export const vectorFiles = [
  "crypto-basics",
  "deserialization",
  "key-schedule",
  "message-protection",
  "messages",
  "passive-client-handling-commit",
  "passive-client-random",
  "passive-client-welcome",
  "psk_secret",
  "secret-tree",
  "transcript-hashes",
  "tree-math",
  "tree-operations",
  "tree-validation",
  "treekem",
  "welcome",
] as const;

/**
 * Always true: the vectors are part of the repo. Kept (as the literal `true`)
 * so suites written as `describe.skipIf(!haveVectors)` can never skip.
 */
export const haveVectors = true as const;

/** Reads `<dir>/<name>.json`; throws naming the file when it is missing or not JSON. */
export function loadVectors<T>(name: string, dir: string = vectorDir): T {
  const path = resolve(dir, `${name}.json`);
  if (!existsSync(path)) {
    throw new Error(`MLS test vector file missing: ${path} (the vectors live in the repo's test-vectors/; restore it from git)`);
  }
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    throw new Error(`MLS test vector file unreadable: ${path}: ${(e as Error).message}`);
  }
}

export const hex = fromHex;

/**
 * Where each suite's tally goes when `npm test` asks for one
 * (CONCLAVE_VECTOR_TALLY = a JSON-lines file), so the closing line can count
 * every vector case across the worker processes.
 */
const tallyFile = process.env.CONCLAVE_VECTOR_TALLY;

/**
 * Counts vector cases so every suite prints how many ran and which were
 * skipped (by name, with the reason). Call `report()` in afterAll.
 */
export class VectorTally {
  passed = 0;
  readonly skipped: string[] = [];
  constructor(readonly file: string) {}
  pass(): void {
    this.passed++;
  }
  skip(name: string, why: string): void {
    this.skipped.push(`${name} (${why})`);
  }
  report(): void {
    const names = this.skipped.length > 0 ? `: ${this.skipped.join("; ")}` : "";
    console.log(`[vectors] ${this.file}: ${this.passed} cases passed, ${this.skipped.length} skipped${names}`);
    if (tallyFile !== undefined && tallyFile !== "") {
      appendFileSync(tallyFile, `${JSON.stringify({ file: this.file, passed: this.passed, skipped: this.skipped.length })}\n`);
    }
  }
}
