/**
 * packages/mls must run unchanged in a browser: bundle its main entry point for
 * the browser platform and fail on any Node built-in that sneaks in.
 */
import { build } from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const entry = resolve(dirname(fileURLToPath(import.meta.url)), "../src/index.ts");

describe("browser build", () => {
  it("bundles @conclave/mls for the browser with no node: imports", async () => {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes("crypto/node/"))).toBe(false);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s+["']node:/);
    expect(code).not.toMatch(/require\(["']node:/);
    expect(code.length).toBeGreaterThan(10_000);
  });
});
