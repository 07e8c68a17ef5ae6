/**
 * The public API is curated and documented (issue 20 item 2): every name a
 * package entry point exports, and every public member of an exported class,
 * carries TSDoc (`@internal` marks a member that is public only to the
 * library's own modules); a public function or method
 * that throws says so (`@throws` with the ApiError/MlsError codes, or
 * "throws"/"rejects" in its text); and entry points list their names
 * explicitly, never `export *`, so nothing becomes public by accident.
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
  "packages/client/src/browser/index.ts",
  "packages/server/src/index.ts",
  "packages/cli/src/index.ts",
];

function load(): { checker: ts.TypeChecker; exports: Map<string, ts.Symbol[]> } {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (config === undefined) throw new Error("tsconfig.json does not parse");
  const program = ts.createProgram(
    ENTRIES.map((e) => join(ROOT, e)),
    { ...config.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const exports = new Map<string, ts.Symbol[]>();
  for (const entry of ENTRIES) {
    const sf = program.getSourceFile(join(ROOT, entry));
    const moduleSymbol = sf === undefined ? undefined : checker.getSymbolAtLocation(sf);
    if (moduleSymbol === undefined) throw new Error(`${entry} is not a module`);
    exports.set(entry, checker.getExportsOfModule(moduleSymbol));
  }
  return { checker, exports };
}

const { checker, exports } = load();
const resolved = (e: ts.Symbol): ts.Symbol => (e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e);
const docText = (s: ts.Symbol): string =>
  [ts.displayPartsToString(s.getDocumentationComment(checker)), ...s.getJsDocTags(checker).map((t) => `@${t.name} ${ts.displayPartsToString(t.text)}`)].join(" ");

/** A `throw` in the body itself (not in a nested function, which may never run). */
function throwsDirectly(fn: ts.SignatureDeclaration): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (ts.isThrowStatement(n)) found = true;
    else if (!ts.isFunctionLike(n)) ts.forEachChild(n, visit);
  };
  if ("body" in fn && fn.body !== undefined) ts.forEachChild(fn.body, visit);
  return found;
}

function isPrivate(m: ts.Symbol): boolean {
  const d = m.valueDeclaration ?? m.declarations?.[0];
  if (d === undefined) return true;
  if (m.name.startsWith("__#") || (ts.isClassElement(d) && d.name !== undefined && ts.isPrivateIdentifier(d.name))) return true;
  return (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;
}

/** The exported symbol and, for a class, its public members (static ones and the constructor included). */
function withMembers(name: string, s: ts.Symbol): [string, ts.Symbol][] {
  const out: [string, ts.Symbol][] = [[name, s]];
  if (s.flags & ts.SymbolFlags.Class) {
    for (const [k, m] of [...(s.members ?? new Map()), ...(s.exports ?? new Map())] as [string, ts.Symbol][]) {
      if (k !== "prototype" && !isPrivate(m)) out.push([`${name}.${k}`, m]);
    }
  }
  return out;
}

describe("TSDoc on public exports", () => {
  it("documents every exported name, and every public member of an exported class", () => {
    const undocumented = [...exports].flatMap(([entry, names]) =>
      names.flatMap((e) =>
        withMembers(e.name, resolved(e))
          .filter(([, s]) => docText(s).trim() === "")
          .map(([name]) => `${entry}: ${name}`),
      ),
    );
    expect(undocumented, "add TSDoc (with @throws for the ApiError/MlsError codes it throws) to these exports").toEqual([]);
  });

  it("says what each public function or method throws", () => {
    const silent: string[] = [];
    for (const [entry, names] of exports) {
      for (const e of names) {
        for (const [name, s] of withMembers(e.name, resolved(e))) {
          const throwing = (s.declarations ?? []).some((d) => {
            const fn = ts.isVariableDeclaration(d) ? d.initializer : d;
            return fn !== undefined && ts.isFunctionLike(fn) && throwsDirectly(fn);
          });
          if (throwing && !/throw|reject/i.test(docText(s))) silent.push(`${entry}: ${name}`);
        }
      }
    }
    expect(silent, "document the errors these throw (@throws ApiError `CODE` ...)").toEqual([]);
  });

  it("lists every entry point's names explicitly (no export *)", () => {
    const star = ENTRIES.filter((e) => /^\s*export\s+(type\s+)?\*/m.test(readFileSync(join(ROOT, e), "utf8")));
    expect(star).toEqual([]);
  });
});
