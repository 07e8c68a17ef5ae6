/**
 * MLS operations: Conclave (packages/mls, node provider) against ts-mls 1.6.4
 * (npm), measured in one run on this machine, with the floor set by the crypto
 * primitives each operation needs and the project's targets.
 *
 *   npm run bench:mls                 suites 1 and 3; N = 16, 128, 1024, 10000
 *   npm run bench:mls -- --quick      N = 16 and 128 only
 *   npm run bench:mls -- --profile    Conclave only, suite 1, N = 1024, with CPU
 *                                     hot spots of join, path commit, processing
 *   options: --sizes 16,1024  --suites 1  --no-ts-mls
 *   TS_MLS_MAX_N (default 1024): largest N ts-mls is run at (it takes too long beyond).
 *
 * What each figure is (see bench/support/scenario.ts for the exact steps):
 *   add N        one commit adding N-1 members (KeyPackages made beforehand, not timed),
 *                Welcome encoded, merged
 *   join         Group.join / joinGroup from the Welcome bytes, ratchet tree supplied as
 *                bytes, full tree validation (both libraries validate it on join)
 *   commit full  empty commit with an UpdatePath by leaf 0 when its copath is populated
 *   commit sparse  the same after every other leaf was removed (parents blank)
 *   process      leaf 1 processing that commit and merging it (worst case: log2 N keys derived)
 *   msgs/s       1 KiB application message encrypted by leaf 0 and decrypted by leaf 1, per second:
 *                timed over 1 s after a 300 ms warm-up, one at a time and with 64 in flight (a batch of 64
 *                encrypted while the previous 64 are decrypted: concurrent calls, as a busy client
 *                sends and receives). ts-mls's calls cannot overlap (each returns the next state),
 *                so its in-flight figure runs the same messages one after another.
 *   state        bytes of leaf 0's serialized state (Group.serialize / encodeGroupState)
 * Each library runs each (suite, N) in a fresh child process of this script (--child), after a
 * small untimed warm-up run: a 10,000-member scenario leaves V8's collector slow for a while
 * after its heap is freed, which used to make whatever ran next in the same process 2-3x slower.
 * Handshakes are PrivateMessages in both (each library's default); no ratchet_tree
 * or external_pub in the GroupInfo.
 *
 * Threads: Conclave's node provider shares signatures that are asked for together (a join's leaf
 * signatures, an add's KeyPackages, messages in flight) with a worker thread
 * (packages/mls/src/crypto/node/signatureWorker.ts), so those use both cores; ts-mls runs on one.
 * The crypto floor is the single-thread sum of the primitives (for messages in flight: spread over
 * every core), so a figure below it means the work was spread over the cores.
 *
 * Fixed (2026-11-23): long runs used to freeze at N=10000 in Node 20's crypto (a KeyObject export
 * from a generateKeyPairSync pair racing the GC); the provider no longer uses generateKeyPairSync,
 * and packages/mls/test/node-keygen-deadlock.test.ts reproduces the old freeze in a child process.
 *
 * ts-mls 1.6.4 API used (read from node_modules/ts-mls/dist/src/*.d.ts); states are immutable values:
 *   getCiphersuiteImpl(getCiphersuiteFromName(name)) -> CiphersuiteImpl (default provider)
 *   generateKeyPackage(credential, defaultCapabilities(), defaultLifetime, [], cs) -> { publicPackage, privatePackage }
 *   createGroup(groupId, publicPackage, privatePackage, extensions, cs) -> ClientState
 *   createCommit({ state, cipherSuite }, { extraProposals, ratchetTreeExtension }) -> { newState, welcome?, commit: MLSMessage, consumed }
 *     (path when the proposals need one: empty commits and removes do, add-only commits do not)
 *   joinGroup(welcome, publicPackage, privatePackage, emptyPskIndex, cs, ratchetTree) -> ClientState (validates the tree)
 *   processMessage(mlsMessage, state, emptyPskIndex, acceptAll, cs) -> { kind: "newState" | "applicationMessage", newState, ... }
 *   createApplicationMessage(state, bytes, cs) -> { newState, privateMessage, consumed }
 *   encodeMlsMessage / decodeMlsMessage(bytes, 0); encodeGroupState(state);
 *   "ts-mls/ratchetTree.js": encodeRatchetTree / decodeRatchetTree(bytes, 0)
 */
import { availableParallelism } from "node:os";
import { spawn } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { nodeCryptoProvider } from "../packages/mls/src/crypto/node/index.js";
import type { CipherSuiteId } from "../packages/mls/src/crypto/cipherSuite.js";
import { conclaveImpl, conclavePathCost } from "./support/conclaveImpl.js";
import { startProfile, stopProfile, summarize, type Profile } from "./support/cpuProfile.js";
import { measurePrimitives, type PrimitiveCosts } from "./support/primitiveCosts.js";
import { runScenario, type Figures, type ScenarioHooks } from "./support/scenario.js";
import type { MlsImpl } from "./support/mlsImpl.js";
import { tsMlsImpl } from "./support/tsMlsImpl.js";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const profileMode = flag("--profile");
const quick = flag("--quick");
const sizes = (option("--sizes")?.split(",").map(Number) ?? (quick ? [16, 128] : profileMode ? [1024] : [16, 128, 1024, 10000])).filter((n) => n >= 2);
const suites = (option("--suites")?.split(",").map(Number) ?? (profileMode ? [1] : [1, 3])) as CipherSuiteId[];
const runTsMls = !flag("--no-ts-mls") && !profileMode;
const TS_MLS_MAX_N = Number(process.env.TS_MLS_MAX_N ?? 1024);
const CORES = availableParallelism();
const startedAt = performance.now();
// A full collection before each measured scenario, so neither library pays for the garbage the
// previous one left (late in a full run the heap holds a gigabyte of 10,000-member groups).
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const progress = (line: string) =>
  process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB] ${line}\n`);

// ---------------------------------------------------------------------------
// Floors and targets

type Metric = "add" | "join" | "commitFull" | "processFull" | "commitSparse" | "processSparse" | "messagesPerSecond" | "messagesInFlightPerSecond" | "stateBytes";
const METRICS: readonly { key: Metric; label: string; unit: "ms" | "/s" | "B" }[] = [
  { key: "add", label: "add N-1 members (1 commit)", unit: "ms" },
  { key: "join", label: "join from Welcome", unit: "ms" },
  { key: "commitFull", label: "path commit, full tree", unit: "ms" },
  { key: "processFull", label: "process it (leaf 1)", unit: "ms" },
  { key: "commitSparse", label: "path commit, sparse tree", unit: "ms" },
  { key: "processSparse", label: "process it (leaf 1)", unit: "ms" },
  { key: "messagesPerSecond", label: "1 KiB msgs enc+dec, 1 at a time", unit: "/s" },
  { key: "messagesInFlightPerSecond", label: "1 KiB msgs enc+dec, 64 in flight", unit: "/s" },
  { key: "stateBytes", label: "serialized state", unit: "B" },
];

/** The least time the primitives an operation needs take (ms; msgs/s for messages), and what they are. */
function floorOf(key: Metric, n: number, p: PrimitiveCosts, f: Figures): { value: number; what: string } | undefined {
  const full = f.fullCost;
  const sparse = f.sparseCost;
  switch (key) {
    case "add":
      // Welcome: one HPKE seal per new member; each KeyPackage: KeyPackage + LeafNode signature checks; commit + GroupInfo signatures.
      return { value: (n - 1) * (p.hpkeSeal + 2 * p.verify) + 2 * p.sign, what: `${n - 1}x(seal+2 verify)+2 sign` };
    case "join":
      // GroupSecrets open, every leaf signature (tree validation), GroupInfo signature. No path secret: the add had no path.
      return { value: p.hpkeOpen + (n + 1) * p.verify, what: `open+${n + 1} verify` };
    case "commitFull":
    case "commitSparse": {
      const c = key === "commitFull" ? full : sparse;
      if (c === undefined) return undefined;
      return { value: (c.pathNodes + 1) * p.deriveKeyPair + c.encryptions * p.hpkeSeal + p.sign, what: `${c.pathNodes + 1} derive+${c.encryptions} seal+sign` };
    }
    case "processFull":
    case "processSparse": {
      const c = key === "processFull" ? full : sparse;
      if (c === undefined) return undefined;
      return { value: p.hpkeOpen + c.pathNodes * p.deriveKeyPair + p.verify, what: `open+${c.pathNodes} derive+verify` };
    }
    case "messagesPerSecond": {
      // Content AEAD (seal+open), sender-data AEAD (seal+open), sign, verify, 3 KDF steps on each side (key, nonce, next secret).
      const ms = p.aead1k + p.aeadSmall + p.sign + p.verify + 6 * p.expandWithLabel;
      return { value: 1000 / ms, what: "2 AEAD+sign+verify+6 KDF" };
    }
    case "messagesInFlightPerSecond": {
      // The same work spread over every core of the machine.
      const ms = p.aead1k + p.aeadSmall + p.sign + p.verify + 6 * p.expandWithLabel;
      return { value: (1000 * CORES) / ms, what: `the same on ${CORES} cores` };
    }
    case "stateBytes":
      return undefined;
  }
}

/** Absolute targets (Conclave), at 1024 members for the group operations. */
function absoluteTarget(key: Metric, n: number): { ok: (v: number) => boolean; text: string } | undefined {
  // The issue's throughput target: both cores at work, as with many messages to send and receive.
  if (key === "messagesInFlightPerSecond") return { ok: (v) => v >= 10000, text: ">=10000/s" };
  if (n !== 1024) return undefined;
  if (key === "commitFull" || key === "commitSparse") return { ok: (v) => v <= 150, text: "<=150ms" };
  if (key === "processFull" || key === "processSparse") return { ok: (v) => v <= 20, text: "<=20ms" };
  if (key === "join") return { ok: (v) => v <= 150, text: "<=150ms" };
  if (key === "add") return { ok: (v) => v <= 500, text: "<=500ms" };
  return undefined;
}

/** Conclave's advantage: >1 means Conclave is better (faster, more messages, smaller state). */
function ratio(key: Metric, conclave: number, ts: number): number {
  return key === "messagesPerSecond" || key === "messagesInFlightPerSecond" ? conclave / ts : ts / conclave;
}

function fmt(v: number, unit: "ms" | "/s" | "B"): string {
  if (unit === "B") return v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : v >= 1e4 ? `${(v / 1e3).toFixed(1)} kB` : `${v} B`;
  if (unit === "/s") return `${Math.round(v)}/s`;
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

// ---------------------------------------------------------------------------
// Run

interface Row {
  suite: number;
  n: number;
  conclave: Figures;
  ts?: Figures;
  tsNote?: string;
  primitives: PrimitiveCosts;
}

type Library = "conclave" | "ts-mls";

/** The result of one scenario: the figures, and (from Conclave's run) the primitives priced just before it. */
interface ScenarioResult {
  figures: Figures;
  primitives?: PrimitiveCosts;
}

/**
 * One library at one size in this process: a small untimed run first (JIT
 * warm-up), the primitives priced (Conclave's run), a full GC, the scenario.
 */
async function scenarioHere(lib: Library, suiteId: CipherSuiteId, n: number, extra: Pick<ScenarioHooks<unknown>, "commitIterations" | "phase"> = {}): Promise<ScenarioResult> {
  const impl = lib === "conclave" ? conclaveImpl(suiteId) : await tsMlsImpl(suiteId);
  await runScenario(impl as MlsImpl<unknown, unknown>, 8, { commitIterations: 2 });
  let primitives: PrimitiveCosts | undefined;
  if (lib === "conclave") {
    primitives = await measurePrimitives(nodeCryptoProvider.suite(suiteId));
    progress(
      `suite ${suiteId} primitives (ms): derive ${primitives.deriveKeyPair.toFixed(4)}, seal ${primitives.hpkeSeal.toFixed(4)}, open ${primitives.hpkeOpen.toFixed(4)}, sign ${primitives.sign.toFixed(4)}, verify ${primitives.verify.toFixed(4)}, aead1k ${primitives.aead1k.toFixed(4)}`,
    );
  }
  collectGarbage();
  const figures =
    lib === "conclave"
      ? await runScenario(impl as ReturnType<typeof conclaveImpl>, n, { pathCost: conclavePathCost, log: progress, ...extra })
      : await runScenario(impl as MlsImpl<unknown, unknown>, n, { log: progress, ...extra });
  return { figures, ...(primitives === undefined ? {} : { primitives }) };
}

/**
 * The same in a fresh process. A scenario leaves its heap behind (a
 * 10,000-member group: hundreds of MB, and V8's collector stays slow for a
 * while after it is freed), which made the next library or size measured in
 * the same process up to 3x slower; each gets a clean process instead.
 */
function scenarioIsolated(lib: Library, suiteId: CipherSuiteId, n: number): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "--child", `${lib}:${suiteId}:${n}`], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").pop();
      if (code !== 0 || last === undefined) reject(new Error(`${lib} suite ${suiteId} N=${n}: child process exited with ${code}`));
      else resolve(JSON.parse(last) as ScenarioResult);
    });
  });
}

async function main(): Promise<void> {
  const spec = option("--child");
  if (spec !== undefined) {
    const [lib, suiteId, n] = spec.split(":");
    console.log(JSON.stringify(await scenarioHere(lib as Library, Number(suiteId) as CipherSuiteId, Number(n))));
    return;
  }
  // --profile: Conclave only, in this process, with each timed phase profiled.
  const profiles = new Map<string, Profile[]>();
  const profileHooks: Pick<ScenarioHooks<unknown>, "commitIterations" | "phase"> = {
    commitIterations: 20,
    async phase(name, run) {
      await startProfile();
      try {
        await run();
      } finally {
        const p = await stopProfile();
        profiles.set(name, [...(profiles.get(name) ?? []), p]);
      }
    },
  };
  const scenario = (lib: Library, suiteId: CipherSuiteId, n: number): Promise<ScenarioResult> =>
    profileMode ? scenarioHere(lib, suiteId, n, profileHooks) : scenarioIsolated(lib, suiteId, n);
  const rows: Row[] = [];
  for (const suiteId of suites) {
    for (const n of sizes) {
      const c = await scenario("conclave", suiteId, n);
      let t: Figures | undefined;
      let tsNote: string | undefined;
      if (!runTsMls) tsNote = "not run";
      else if (n > TS_MLS_MAX_N) tsNote = `ts-mls not run at N=${n}: too slow (set TS_MLS_MAX_N to try)`;
      else t = (await scenario("ts-mls", suiteId, n)).figures;
      rows.push({ suite: suiteId, n, conclave: c.figures, ...(t === undefined ? {} : { ts: t }), ...(tsNote === undefined ? {} : { tsNote }), primitives: c.primitives! });
    }
  }
  printTable(rows);
  for (const [name, ps] of profiles) {
    console.log(`\n== CPU profile: Conclave ${name} (suite ${suites[0]}, N=${sizes[0]}) ==`);
    for (const line of summarize(ps)) console.log(line);
  }
  console.log(`\ntotal run time ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

function printTable(rows: readonly Row[]): void {
  const header = ["suite", "N", "operation", "Conclave", "ts-mls", "ratio", "crypto floor", "floor is", "targets"];
  const table: string[][] = [];
  const missed: string[] = [];
  let met = 0;
  for (const r of rows) {
    for (const m of METRICS) {
      const cv = r.conclave[m.key];
      if (typeof cv !== "number") continue;
      const tv = r.ts?.[m.key];
      const rt = typeof tv === "number" ? ratio(m.key, cv, tv) : undefined;
      const floor = floorOf(m.key, r.n, r.primitives, r.conclave);
      const marks: string[] = [];
      const abs = absoluteTarget(m.key, r.n);
      const name = `suite ${r.suite} N=${r.n} ${m.label}`;
      if (abs !== undefined) {
        const ok = abs.ok(cv);
        marks.push(`${abs.text} ${ok ? "met" : "MISSED"}`);
        if (ok) met++;
        else missed.push(`${name}: ${fmt(cv, m.unit)} vs ${abs.text}`);
      }
      if (rt !== undefined) {
        const ok = rt >= 5;
        marks.push(`>=5x ${ok ? "met" : "MISSED"}`);
        if (ok) met++;
        else missed.push(`${name}: ${rt.toFixed(2)}x vs >=5x`);
      }
      table.push([
        String(r.suite),
        String(r.n),
        m.label,
        fmt(cv, m.unit),
        typeof tv === "number" ? fmt(tv, m.unit) : "-",
        rt === undefined ? "-" : `${rt.toFixed(2)}x`,
        floor === undefined ? "-" : fmt(floor.value, m.unit),
        floor?.what ?? "",
        marks.join("; "),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i >= 3 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ");
  console.log("\nMLS operations: Conclave (node provider) vs ts-mls 1.6.4 (default provider), same run, median times");
  console.log("ratio > 1: Conclave better (ts-mls time / Conclave time; Conclave msgs / ts-mls msgs; ts-mls bytes / Conclave bytes)");
  console.log("crypto floor: the public-key/AEAD/KDF work the operation cannot avoid, priced in this run with Conclave's node:crypto provider (best of 5 short rounds)\n");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of table) console.log(line(row));
  const notes = [...new Set(rows.filter((r) => r.tsNote !== undefined).map((r) => `suite ${r.suite}: ${r.tsNote}`))];
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\ntargets: ${met} met, ${missed.length} missed`);
  for (const m of missed) console.log(`  MISSED ${m}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
