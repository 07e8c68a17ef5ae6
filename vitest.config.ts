import { defineConfig } from "vitest/config";

/**
 * In the repo everything runs from the TypeScript sources, no build step:
 * each package's exports map "@conclave/source" to ./src/*.ts ahead of the
 * built ./dist. Vite resolves with that condition; child processes the tests
 * spawn get it (and tsx, to load .ts) through NODE_OPTIONS.
 */
const SOURCE = "@conclave/source";
const tsx = new URL("./node_modules/tsx/dist/loader.mjs", import.meta.url).href;

export default defineConfig({
  resolve: { conditions: [SOURCE, "module", "browser", "development|production"] },
  ssr: { resolve: { conditions: [SOURCE, "module", "node", "development|production"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --conditions=${SOURCE} --import=${tsx}`.trim() },
  },
});
