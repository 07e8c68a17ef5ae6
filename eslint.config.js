// ESLint (flat config) with typescript-eslint's type-checked rules, kept for the ones that
// find bugs: promises never awaited or handed to a caller that ignores them, `await` on a
// non-promise, `any` flowing into typed code, objects stringified as "[object Object]".
// Biome (biome.json) runs its own correctness rules beside it. Rules that are style, or
// that TypeScript already enforces, are off so the tree does not churn.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const TS = ["packages/*/src/**/*.ts", "packages/*/test/**/*.ts", "bench/**/*.ts", "test/**/*.ts", "vitest.config.ts"];
const TESTS = ["packages/*/test/**/*.ts", "bench/**/*.ts", "test/**/*.ts"];

export default tseslint.config(
  // The .gitignore entries that can hold code (build output, test leftovers), and the vectors.
  { ignores: [".agents/**", "**/dist/**", "**/node_modules/**", ".pack-*/**", "test-artifacts/**", "coverage/**", "test-vectors/**", "packages/native-crypto/build/**"] },
  {
    files: TS,
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // The bugs this config is for.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-base-to-string": "error",
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      "@typescript-eslint/only-throw-error": ["error", { allowThrowingUnknown: true }],
      "prefer-const": ["error", { destructuring: "all" }],
      // TypeScript checks these (noUnused* is left to Biome's correctness rules).
      "no-undef": "off",
      "no-unused-vars": "off",
      "@typescript-eslint/no-unused-vars": "off",
      // Style, or noise for this code base: async functions that implement an async
      // interface synchronously; method references taken from interfaces whose methods
      // never use `this` (e.g. `suite.hash`); casts TypeScript already infers; a union
      // of two library types that happen to be the same type today.
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/unbound-method": "off",
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      "@typescript-eslint/no-duplicate-type-constituents": "off",
      "no-control-regex": "off",
    },
  },
  {
    // Tests, test harnesses and benchmarks poke at untyped data (JSON vectors, page.evaluate,
    // fetch mocks): the `any` and stringification checks stay for library code only. The
    // promise rules above stay on: an un-awaited `expect(...).rejects` is a test that checks nothing.
    files: TESTS,
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/prefer-promise-reject-errors": "off",
      "@typescript-eslint/only-throw-error": "off",
      "preserve-caught-error": "off",
    },
  },
  {
    // Kysely's store class takes its repositories' methods by declaration merging (a mixin).
    files: ["packages/server/src/storage/kyselyStore.ts"],
    rules: { "@typescript-eslint/no-unsafe-declaration-merging": "off", "@typescript-eslint/no-empty-object-type": "off" },
  },
  {
    // `ws` hands a text frame over as a Buffer (binaryType "nodebuffer"), which String() decodes as UTF-8.
    files: ["packages/client/src/platform.ts", "packages/server/src/ds/stream.ts"],
    rules: { "@typescript-eslint/no-base-to-string": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
