// The public API report: every name each package entry point exports, its
// kind and its shape (function signatures, class and interface members), in
// api/<package>.api.md. test/api/api-report.test.ts fails when the sources
// no longer match the checked-in report, so a change to the public API is a
// visible, reviewed diff. Regenerate with `npm run api:update`.
//
//   node scripts/api-report.mjs            print nothing; exit 1 if a report is stale
//   node scripts/api-report.mjs --write    rewrite the reports
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ENTRIES = [
  { pkg: "@conclave/mls", entry: ".", file: "packages/mls/src/index.ts" },
  { pkg: "@conclave/mls", entry: "./node", file: "packages/mls/src/node.ts" },
  { pkg: "@conclave/api", entry: ".", file: "packages/api/src/index.ts" },
  { pkg: "@conclave/client", entry: ".", file: "packages/client/src/index.ts" },
  // The "browser" condition of "." (bundlers targeting browsers resolve it): IndexedDbStore instead of FileStore.
  { pkg: "@conclave/client", entry: "browser", file: "packages/client/src/browser/index.ts" },
  { pkg: "@conclave/server", entry: ".", file: "packages/server/src/index.ts" },
  { pkg: "@conclave/cli", entry: ".", file: "packages/cli/src/index.ts" },
];

const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.WriteArrowStyleSignature;

function kindOf(s) {
  const f = s.flags;
  if (f & ts.SymbolFlags.Class) return "class";
  if (f & ts.SymbolFlags.Function) return "function";
  if (f & ts.SymbolFlags.Enum) return "enum";
  if (f & ts.SymbolFlags.Interface) return "interface";
  if (f & ts.SymbolFlags.TypeAlias) return "type";
  if (f & ts.SymbolFlags.Variable) return "const";
  return "other";
}

/** Type text names types by file path (machine-specific): keep the type names alone. */
function clean(text) {
  return text.replace(/import\("[^"]*"(?:, \{ with: \{[^}]*\} \})?\)\./g, "").replace(/\s+/g, " ");
}

function members(checker, type) {
  return checker
    .getPropertiesOfType(type)
    .filter((p) => !p.name.startsWith("#") && !p.name.startsWith("__"))
    .map((p) => {
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      const t = decl ? checker.getTypeOfSymbolAtLocation(p, decl) : checker.getDeclaredTypeOfSymbol(p);
      const optional = p.flags & ts.SymbolFlags.Optional ? "?" : "";
      return `${p.name}${optional}: ${clean(checker.typeToString(t, undefined, FLAGS))}`;
    })
    .sort();
}

function describe(checker, exported) {
  const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const kind = kindOf(s);
  const decl = s.valueDeclaration ?? s.declarations?.[0];
  const lines = [`### ${exported.name} (${kind})`];
  if (kind === "function" || kind === "const") {
    const t = checker.getTypeOfSymbolAtLocation(s, decl);
    const sigs = t.getCallSignatures();
    if (kind === "function" || sigs.length > 0) for (const sig of sigs) lines.push(`- ${clean(checker.signatureToString(sig, undefined, FLAGS))}`);
    else lines.push(`- ${clean(checker.typeToString(t, undefined, FLAGS))}`);
  } else if (kind === "class") {
    const ctor = checker.getTypeOfSymbolAtLocation(s, decl);
    for (const sig of ctor.getConstructSignatures()) lines.push(`- new ${clean(checker.signatureToString(sig, undefined, FLAGS))}`);
    for (const m of members(checker, ctor).filter((m) => !m.startsWith("prototype"))) lines.push(`- static ${m}`);
    for (const m of members(checker, checker.getDeclaredTypeOfSymbol(s))) lines.push(`- ${m}`);
  } else if (kind === "interface") {
    for (const m of members(checker, checker.getDeclaredTypeOfSymbol(s))) lines.push(`- ${m}`);
  } else if (kind === "type") {
    const t = checker.getDeclaredTypeOfSymbol(s);
    lines.push(`- ${clean(checker.typeToString(t, undefined, FLAGS | ts.TypeFormatFlags.InTypeAlias))}`);
  } else if (kind === "enum") {
    for (const m of members(checker, checker.getTypeOfSymbolAtLocation(s, decl))) lines.push(`- ${m}`);
  }
  return lines.join("\n");
}

/** The reports as they would be written now: file name → text. */
export function buildReports() {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram(
    ENTRIES.map((e) => join(ROOT, e.file)),
    { ...config.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const reports = new Map();
  for (const e of ENTRIES) {
    const sf = program.getSourceFile(join(ROOT, e.file));
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => a.name.localeCompare(b.name));
    const name = `${e.pkg.replace("@conclave/", "")}.api.md`;
    const head = reports.get(name) ?? `# ${e.pkg}: public API report\n\nGenerated by scripts/api-report.mjs (npm run api:update); checked by test/api/api-report.test.ts.\n`;
    const body = exports.map((x) => describe(checker, x)).join("\n\n");
    const suffix = e.entry === "." ? "" : e.entry.startsWith("./") ? e.entry.slice(1) : ` [${e.entry}]`;
    reports.set(name, `${head}\n## ${e.pkg}${suffix} (${exports.length} names)\n\n${body}\n`);
  }
  return reports;
}

export const REPORT_DIR = join(ROOT, "api");

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reports = buildReports();
  const write = process.argv.includes("--write");
  let stale = 0;
  mkdirSync(REPORT_DIR, { recursive: true });
  for (const [name, text] of reports) {
    const path = join(REPORT_DIR, name);
    const old = existsSync(path) ? readFileSync(path, "utf8") : "";
    if (old === text) continue;
    if (write) writeFileSync(path, text);
    else stale++;
    const was = old.split("\n");
    const now = text.split("\n");
    const at = now.findIndex((line, i) => line !== was[i]);
    console.log(
      `${write ? "wrote" : "stale"}: api/${name}${write ? "" : ` (first difference at line ${at + 1}: ${JSON.stringify(now[at] ?? "")} was ${JSON.stringify(was[at] ?? "")}); run npm run api:update and review the diff`}`,
    );
  }
  process.exit(stale > 0 ? 1 : 0);
}
