/**
 * The MLS benchmark's report: per (suite, N), every library's figure for each
 * operation, Conclave's ratio to the best peer and to the crypto floor, and
 * the targets met or missed; then memory, add linearity, and one
 * Markdown table for docs/benchmarks.md.
 */
import { floorOf } from "./cryptoFloor.js";
import { ROUNDS, type Figures, type Metric } from "./scenario.js";
import type { TreeDelivery } from "./mlsImpl.js";

export type Library = "conclave" | "conclave-1t" | "core-crypto" | "ts-mls-2" | "ts-mls";
const PEERS: readonly Library[] = ["core-crypto", "ts-mls-2", "ts-mls"];
const COLUMNS: readonly { lib: Library; title: string }[] = [
  { lib: "conclave", title: "Conclave" },
  { lib: "conclave-1t", title: "Conclave 1 thread" },
  { lib: "core-crypto", title: "core-crypto 10.3" },
  { lib: "ts-mls-2", title: "ts-mls 2.0" },
  { lib: "ts-mls", title: "ts-mls 1.6.4" },
];

/** What one child process reports. */
export interface ScenarioResult {
  name: string;
  figures: Figures;
  /** Conclave: the heap a restored, used state holds, and its serialized size. */
  memory?: { heapBytes: number; serializedBytes: number };
  /** Conclave: whether the signature worker thread was in use. */
  worker?: boolean;
}

export interface Row {
  suite: number;
  n: number;
  results: Map<Library, ScenarioResult>;
  notes: string[];
}

type Unit = "ms" | "/s";
const METRICS: readonly { key: Metric; label: string; unit: Unit }[] = [
  { key: "add", label: "add N-1 members (1 commit)", unit: "ms" },
  { key: "join", label: "join from Welcome", unit: "ms" },
  { key: "commitBlank", label: "path commit, blank tree", unit: "ms" },
  { key: "processBlank", label: "process it (leaf 1)", unit: "ms" },
  { key: "commitFull", label: "path commit, filled tree", unit: "ms" },
  { key: "processFull", label: "process it (leaf 1)", unit: "ms" },
  { key: "messagesPerSecond", label: "1 KiB msgs, 1 at a time", unit: "/s" },
  { key: "messagesInFlightPerSecond", label: "1 KiB msgs, 64 in flight", unit: "/s" },
];
const isRate = (m: Metric): boolean => m === "messagesPerSecond" || m === "messagesInFlightPerSecond";

/** >1: Conclave better (peer time / Conclave time; Conclave msgs / peer msgs). */
function advantage(key: Metric, conclave: number, peer: number): number {
  return isRate(key) ? conclave / peer : peer / conclave;
}

export function fmt(v: number, unit: Unit | "B"): string {
  if (unit === "B") return v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : v >= 1e4 ? `${(v / 1e3).toFixed(1)} kB` : `${v} B`;
  if (unit === "/s") return v >= 10000 ? `${(v / 1000).toFixed(1)}k/s` : `${Math.round(v)}/s`;
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

interface Cell {
  metric: (typeof METRICS)[number];
  values: Map<Library, number>;
  bestPeer?: { lib: Library; value: number; ratio: number };
  floor?: { value: number; what: string; ratio: number };
  marks: string[];
}

/** The targets for one figure of Conclave's; pushes misses onto `missed`. */
function judge(row: Row, cell: Cell, missed: string[], met: { n: number }): void {
  const { key } = cell.metric;
  const name = `suite ${row.suite} N=${row.n} ${cell.metric.label}`;
  const check = (ok: boolean, text: string, detail: string) => {
    cell.marks.push(`${text} ${ok ? "met" : "MISSED"}`);
    if (ok) met.n++;
    else missed.push(`${name}: ${detail} vs ${text}`);
  };
  const targeted = row.n === 16 || row.n === 128 || row.n === 1024;
  if (!targeted) return;
  if (cell.bestPeer !== undefined) check(cell.bestPeer.ratio > 1, ">best peer", `${cell.bestPeer.ratio.toFixed(2)}x ${cell.bestPeer.lib}`);
  if (cell.floor !== undefined) {
    if (isRate(key)) check(cell.floor.ratio >= 0.8, ">=80% floor", `${(100 * cell.floor.ratio).toFixed(0)}%`);
    else if (key === "add" || key === "join" || key === "commitBlank" || key === "commitFull") check(cell.floor.ratio <= 1.5, "<=1.5x floor", `${cell.floor.ratio.toFixed(2)}x`);
  }
  if (row.n === 1024 && cell.bestPeer !== undefined && (key === "add" || key === "join" || key === "processBlank" || key === "processFull")) {
    check(cell.bestPeer.ratio >= 3, ">=3x best peer", `${cell.bestPeer.ratio.toFixed(2)}x`);
  }
}

function cellsOf(row: Row, cores: number): Cell[] {
  const conclave = row.results.get("conclave");
  const cells: Cell[] = [];
  for (const metric of METRICS) {
    const values = new Map<Library, number>();
    for (const { lib } of COLUMNS) {
      const v = row.results.get(lib)?.figures[metric.key];
      if (typeof v === "number") values.set(lib, v);
    }
    const cell: Cell = { metric, values, marks: [] };
    const cv = values.get("conclave");
    if (cv !== undefined) {
      for (const lib of PEERS) {
        const pv = values.get(lib);
        if (pv === undefined) continue;
        const ratio = advantage(metric.key, cv, pv);
        if (cell.bestPeer === undefined || ratio < cell.bestPeer.ratio) cell.bestPeer = { lib, value: pv, ratio };
      }
      // Priced just before the step of this figure (Conclave runs).
      const figures = conclave?.figures;
      const prices = figures?.prices?.[metric.key];
      if (figures !== undefined && prices !== undefined) {
        const f = floorOf(metric.key, row.n, prices, figures, cores);
        if (f !== undefined) cell.floor = { ...f, ratio: cv / f.value };
      }
    }
    cells.push(cell);
  }
  return cells;
}

function table(header: readonly string[], rows: readonly string[][], numeric: (i: number) => boolean): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)];
}

export function printReport(rows: readonly Row[], opts: { cores: number; tree: TreeDelivery }): void {
  const missed: string[] = [];
  const met = { n: 0 };
  const markdown: string[][] = [];
  console.log(
    `\nMLS operations, same run, best of ${ROUNDS} rounds (medians within each); the ratchet tree ${opts.tree === "welcome" ? "inside the Welcome" : "passed out of band"}; ${opts.cores} cores`,
  );
  console.log("Conclave: signatures shared with its worker thread; Conclave 1 thread: CONCLAVE_SIGNATURE_WORKER=0. Peers run on one thread (core-crypto: WASM).");
  console.log("in flight: 64 messages encrypted while the previous 64 are decrypted (concurrent calls in Conclave; one after another in the peers, whose calls on a member cannot overlap)");
  console.log(
    "vs best peer > 1: Conclave better. vs floor: Conclave / floor (time) or Conclave / floor (rate); the floor is the crypto RFC 9420 requires (public-key, AEAD, KDF, MAC, hash) priced with Conclave's provider, single thread (in flight: spread over every core, at what the cores verify together, measured)",
  );
  for (const row of rows) {
    const cells = cellsOf(row, opts.cores);
    const present = COLUMNS.filter((c) => row.results.has(c.lib));
    const header = ["operation", ...present.map((c) => c.title), "vs best peer", "crypto floor", "floor is", "vs floor", "targets"];
    const body = cells.map((cell) => {
      judge(row, cell, missed, met);
      const r = [
        cell.metric.label,
        ...present.map((c) => {
          const v = cell.values.get(c.lib);
          return v === undefined ? "-" : fmt(v, cell.metric.unit);
        }),
        cell.bestPeer === undefined ? "-" : `${cell.bestPeer.ratio.toFixed(2)}x ${cell.bestPeer.lib}`,
        cell.floor === undefined ? "-" : fmt(cell.floor.value, cell.metric.unit),
        cell.floor?.what ?? "",
        cell.floor === undefined ? "-" : isRate(cell.metric.key) ? `${(100 * cell.floor.ratio).toFixed(0)}%` : `${cell.floor.ratio.toFixed(2)}x`,
        cell.marks.join("; "),
      ];
      const cv = cell.values.get("conclave");
      const peer = (lib: Library) => {
        const v = cell.values.get(lib);
        return v === undefined ? "-" : fmt(v, cell.metric.unit);
      };
      markdown.push([
        `${cell.metric.label}`,
        String(row.n),
        cv === undefined ? "-" : fmt(cv, cell.metric.unit),
        peer("core-crypto"),
        peer("ts-mls-2"),
        peer("ts-mls"),
        cell.bestPeer === undefined ? "-" : `${cell.bestPeer.ratio.toFixed(1)}x`,
        cell.floor === undefined ? "-" : isRate(cell.metric.key) ? `${(100 * cell.floor.ratio).toFixed(0)}%` : `${cell.floor.ratio.toFixed(2)}x`,
      ]);
      return r;
    });
    const c = row.results.get("conclave");
    console.log(
      `\n== suite ${row.suite}, N=${row.n} ==  Welcome ${c === undefined ? "-" : fmt(c.figures.welcomeBytes, "B")}, leaf 0's state ${c?.figures.stateBytes === undefined ? "-" : fmt(c.figures.stateBytes, "B")}`,
    );
    for (const l of table(header, body, (i) => i >= 1 && i <= present.length + 1)) console.log(l);
    for (const n of row.notes) console.log(`note: ${n}`);
  }
  extraTargets(rows, missed, met);
  console.log(`\ntargets: ${met.n} met, ${missed.length} missed`);
  for (const m of missed) console.log(`  MISSED ${m}`);
  console.log("\nMarkdown (docs/benchmarks.md, README):\n");
  console.log("| operation | N | Conclave | core-crypto 10.3 | ts-mls 2.0 | ts-mls 1.6.4 | vs best peer | vs crypto floor |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of markdown) console.log(`| ${r.join(" | ")} |`);
}

/** Memory at every N, and add at 10,000 against 10x add at ~1,000 (per new member). */
function extraTargets(rows: readonly Row[], missed: string[], met: { n: number }): void {
  console.log("\nMemory: leaf 0's state restored from its bytes and used (one path commit, one message), V8 heap + array buffers after a full GC");
  for (const row of rows) {
    const m = row.results.get("conclave")?.memory;
    if (m === undefined) continue;
    const ratio = m.heapBytes / m.serializedBytes;
    let mark = "";
    if (row.n >= 10000) {
      const ok = ratio <= 4;
      mark = ` (<=4x ${ok ? "met" : "MISSED"})`;
      if (ok) met.n++;
      else missed.push(`suite ${row.suite} N=${row.n} memory: ${ratio.toFixed(1)}x vs <=4x serialized`);
    }
    console.log(`  suite ${row.suite} N=${row.n}: ${fmt(m.heapBytes, "B")} of heap for ${fmt(m.serializedBytes, "B")} serialized: ${ratio.toFixed(2)}x${mark}`);
  }
  for (const suite of new Set(rows.map((r) => r.suite))) {
    const add = (n: number) => rows.find((r) => r.suite === suite && r.n === n)?.results.get("conclave")?.figures.add;
    const small = [1000, 1024].map((n) => [n, add(n)] as const).find(([, v]) => v !== undefined);
    const big = add(10000);
    if (small === undefined || big === undefined || small[1] === undefined) continue;
    const [n0, t0] = small;
    const allowed = (1.5 * 10 * t0 * 9999) / (10 * (n0 - 1));
    const ok = big <= allowed;
    if (ok) met.n++;
    else missed.push(`suite ${suite} add at N=10000: ${fmt(big, "ms")} vs <=${fmt(allowed, "ms")}`);
    console.log(
      `\nLinear add (suite ${suite}): ${fmt(big, "ms")} at N=10000 vs ${fmt(t0, "ms")} at N=${n0}; allowed 1.5 x 10 x (per new member): ${fmt(allowed, "ms")} (${ok ? "met" : "MISSED"})`,
    );
  }
}
