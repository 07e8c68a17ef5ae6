/**
 * The official vectors are part of the repo and a missing one is a failure:
 * every pinned file is present with its recorded bytes, the loader throws
 * naming a missing file, and a suite that loads one fails (never skips)
 * when run by vitest itself.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { haveVectors, loadVectors, vectorDir, vectorFiles } from "./support/vectors.js";

const sums = readFileSync(join(vectorDir, "SHA256SUMS"), "utf8")
  .trim()
  .split("\n")
  .map((line) => {
    const [digest, name] = line.split(/\s+/);
    return { digest: digest!, name: name! };
  });

describe("test-vectors/ in the repo", () => {
  it("holds every pinned file with its recorded SHA-256", () => {
    expect(sums.length).toBeGreaterThan(vectorFiles.length);
    for (const { digest, name } of sums) {
      const bytes = readFileSync(join(vectorDir, name));
      expect(createHash("sha256").update(bytes).digest("hex"), name).toBe(digest);
    }
  });

  it("lists exactly the vector files the suites read", () => {
    const pinned = sums.map((s) => s.name).filter((n) => n.endsWith(".json"));
    const onDisk = readdirSync(vectorDir).filter((n) => n.endsWith(".json"));
    expect(pinned.sort()).toEqual(vectorFiles.map((f) => `${f}.json`).sort());
    expect(onDisk.sort()).toEqual(pinned);
    expect(haveVectors).toBe(true);
  });

  it("throws naming the file when one is missing or not JSON", () => {
    const dir = mkdtempSync(join(tmpdir(), "vectors-"));
    try {
      expect(() => loadVectors("tree-math", dir)).toThrow(/MLS test vector file missing: .*tree-math\.json/);
      writeFileSync(join(dir, "tree-math.json"), "[{");
      expect(() => loadVectors("tree-math", dir)).toThrow(/MLS test vector file unreadable: .*tree-math\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a suite whose vector file is missing", () => {
  const dir = mkdtempSync(join(tmpdir(), "vectors-suite-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fails the vitest run instead of skipping", () => {
    const loader = pathToFileURL(resolve(import.meta.dirname, "support/vectors.ts")).href;
    writeFileSync(
      join(dir, "missing.test.ts"),
      [
        `import { describe, it, expect } from "vitest";`,
        `import { loadVectors } from ${JSON.stringify(loader)};`,
        `describe("needs a vector", () => {`,
        `  const cases = loadVectors<unknown[]>("tree-math", ${JSON.stringify(join(dir, "absent"))});`,
        `  it("ran", () => expect(cases.length).toBeGreaterThan(0));`,
        `});`,
      ].join("\n"),
    );
    const vitest = resolve(import.meta.dirname, "../../../node_modules/vitest/vitest.mjs");
    const run = spawnSync(process.execPath, [vitest, "run", "--root", dir, "--reporter=json"], { encoding: "utf8", timeout: 60_000 });
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf("{"))) as {
      success: boolean;
      numFailedTestSuites: number;
      numPendingTests: number;
      testResults: { message: string }[];
    };
    expect(run.status).not.toBe(0);
    expect(report.success).toBe(false);
    expect(report.numFailedTestSuites).toBe(1);
    expect(report.numPendingTests).toBe(0);
    expect(report.testResults[0]?.message).toMatch(/MLS test vector file missing/);
  });
});
