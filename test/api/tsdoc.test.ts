/**
 * Every name a package entry point exports carries TSDoc (issue 20 item 2),
 * the error codes it throws included where it throws. Names documented
 * before this check existed are listed in undocumented.json: that list may
 * only shrink. A new export without TSDoc fails here.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const ENTRIES = [
  "packages/mls/src/index.ts",
  "packages/mls/src/node.ts",
  "packages/api/src/index.ts",
  "packages/client/src/index.ts",
  "packages/server/src/index.ts",
  "packages/cli/src/index.ts",
];
const BASELINE = JSON.parse(readFileSync(join(import.meta.dirname, "undocumented.json"), "utf8")) as Record<string, string[]>;

function undocumented(): Record<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (config === undefined) throw new Error("tsconfig.json does not parse");
  const program = ts.createProgram(
    ENTRIES.map((e) => join(ROOT, e)),
    { ...config.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const entry of ENTRIES) {
    const sf = program.getSourceFile(join(ROOT, entry));
    const moduleSymbol = sf === undefined ? undefined : checker.getSymbolAtLocation(sf);
    if (moduleSymbol === undefined) throw new Error(`${entry} is not a module`);
    out[entry] = checker
      .getExportsOfModule(moduleSymbol)
      .filter((e) => {
        const s = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
        return ts.displayPartsToString(s.getDocumentationComment(checker)).trim() === "";
      })
      .map((e) => e.name)
      .sort();
  }
  return out;
}

describe("TSDoc on public exports", () => {
  it("documents every exported name not in test/api/undocumented.json", () => {
    const now = undocumented();
    const fresh = Object.entries(now).flatMap(([entry, names]) => names.filter((n) => !(BASELINE[entry] ?? []).includes(n)).map((n) => `${entry}: ${n}`));
    expect(fresh, "add TSDoc (with @throws for the ApiError/MlsError codes it throws) to these exports").toEqual([]);
  });
});
