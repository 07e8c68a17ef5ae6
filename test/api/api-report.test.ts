/**
 * The public API of every package entry point is checked in (api/*.api.md):
 * a change to it must come with the regenerated report (npm run api:update),
 * so it shows up in review. This fails when the sources and report disagree.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

describe("API report (api/*.api.md)", () => {
  it("matches the public API the sources export", () => {
    const r = spawnSync(process.execPath, ["scripts/api-report.mjs"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
