/**
 * Finds and loads the official mlswg test vectors. They are data kept outside
 * the repo: MLS_TEST_VECTORS, else ../shared/test-vectors beside the checkout.
 * When neither exists the vector suites skip with one loud line.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromHex } from "../../src/codec/bytes.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

export const vectorDir: string | undefined = [process.env.MLS_TEST_VECTORS, resolve(repoRoot, "../shared/test-vectors")].find(
  (d): d is string => d !== undefined && d !== "" && existsSync(d),
);

if (vectorDir === undefined) {
  console.warn(
    "!!! MLS test vectors not found: set MLS_TEST_VECTORS to a checkout of github.com/mlswg/mls-implementations/test-vectors — vector suites are SKIPPED !!!",
  );
}

export const haveVectors = vectorDir !== undefined;

export function loadVectors<T>(name: string): T {
  if (vectorDir === undefined) throw new Error("test vectors not available");
  return JSON.parse(readFileSync(resolve(vectorDir, `${name}.json`), "utf8")) as T;
}

export const hex = fromHex;

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
  }
}
