// Prints vitest's JSON result as one plain closing line:
// "tests: N passed, N failed, N skipped; vector cases: N passed, N skipped (F files)".
// The vector tally comes from the JSON-lines file the vector suites append to
// (CONCLAVE_VECTOR_TALLY, see packages/mls/test/support/vectors.ts).
import { existsSync, readFileSync } from "node:fs";

const r = JSON.parse(readFileSync(process.argv[2] ?? ".vitest-results.json", "utf8"));
const tallyPath = process.argv[3] ?? ".vitest-vectors.jsonl";
let vectors = "";
if (existsSync(tallyPath)) {
  const rows = readFileSync(tallyPath, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const passed = rows.reduce((n, x) => n + x.passed, 0);
  const skipped = rows.reduce((n, x) => n + x.skipped, 0);
  const files = new Set(rows.map((x) => x.file.replace(/ \[.*\]$/, ""))).size;
  vectors = `; vector cases: ${passed} passed, ${skipped} skipped (${files} files)`;
}
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped${vectors}`);
process.exit(r.success ? 0 : 1);
