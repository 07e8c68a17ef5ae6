/**
 * MLS operations: Conclave (packages/mls, node provider) against the fastest
 * peers, @wireapp/core-crypto 10.3 (OpenMLS compiled to WebAssembly) and
 * ts-mls 2.0, beside ts-mls 1.6.4, in one run on this machine; with the floor
 * set by the crypto primitives each operation needs, and the issue's targets.
 * Method and the current figures: docs/benchmarks.md.
 *
 *   npm run bench:mls                 suite 1; N = 16, 128, 1024, 10000 (peers up to 1024)
 *   npm run bench:mls -- --quick      N = 16 and 128 only
 *   npm run bench:mls -- --profile    Conclave only, suite 1, N = 1024, with CPU hot spots per phase
 *   options: --sizes 16,1024  --suites 1,3  --libs conclave,core-crypto,...  --tree out-of-band
 *            --reps K: every add and path commit timed K times at every size (default: more at small N)
 *   PEER_MAX_N (default 1024): largest N the peers are run at (they take minutes beyond).
 *
 * Libraries (--libs; default all):
 *   conclave      Conclave, node provider, signatures shared with its worker thread (2 cores)
 *   conclave-1t   the same with CONCLAVE_SIGNATURE_WORKER=0: everything on the main thread
 *   core-crypto   @wireapp/core-crypto 10.3, WASM build, one in-memory CoreCrypto per member
 *   ts-mls-2      ts-mls 2.0.0-rc.10, default provider
 *   ts-mls        ts-mls 1.6.4, default provider
 * Every implementation does the same bytes-in/bytes-out work (bench/support/scenario.ts):
 * KeyPackages, Welcome, commits and messages cross the adapter as encoded MLSMessages;
 * the ratchet tree travels inside the Welcome (every peer's default; `--tree out-of-band`
 * passes it separately, which core-crypto and ts-mls 2.0 cannot do). Handshakes use each
 * library's default wire format; no external_pub in the GroupInfo where it can be left out.
 * Each (library, suite, N) runs in a fresh child process, after an untimed 8-member warm-up run
 * (300 path commits of each tree shape); each step runs in three rounds (scenario.ts), Conclave's
 * crypto floor priced just before each round;
 * up to 128 members the scenario runs twice and each operation keeps its better figure.
 *
 * Memory (Conclave): leaf 0's state at the end of the scenario is serialized, every other
 * object dropped, and the state restored from those bytes and used (one path commit, one
 * message); the heap it then holds (V8 heap + array buffers, after a full collection) is
 * compared with its serialized size.
 */
import { availableParallelism } from "node:os";
import { spawn } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { nodeCryptoProvider, nodeSignatureStats } from "../packages/mls/src/crypto/node/index.js";
import type { CipherSuiteId } from "../packages/mls/src/crypto/cipherSuite.js";
import { Group } from "../packages/mls/src/group/index.js";
import { conclaveImpl, conclavePathCost } from "./support/conclaveImpl.js";
import { coreCryptoImpl } from "./support/coreCryptoImpl.js";
import { startProfile, stopProfile, summarize, type Profile } from "./support/cpuProfile.js";
import { at, measurePrimitives } from "./support/primitiveCosts.js";
import { measureAllCores } from "./support/allCores.js";
import { MESSAGE_TBS_BYTES } from "./support/cryptoFloor.js";
import { runScenario, type Figures, type Metric, type ScenarioHooks } from "./support/scenario.js";
import type { MlsImpl, TreeDelivery } from "./support/mlsImpl.js";
import { tsMlsImpl } from "./support/tsMlsImpl.js";
import { tsMls2Impl } from "./support/tsMls2Impl.js";
import { printReport, type Library, type Row, type ScenarioResult } from "./support/report.js";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

const LIBRARIES: readonly Library[] = ["conclave", "conclave-1t", "core-crypto", "ts-mls-2", "ts-mls"];
const isLibrary = (s: string): s is Library => (LIBRARIES as readonly string[]).includes(s);

const profileMode = flag("--profile");
const quick = flag("--quick");
const sizes = (option("--sizes")?.split(",").map(Number) ?? (quick ? [16, 128] : profileMode ? [1024] : [16, 128, 1024, 10000])).filter((n) => n >= 2);
const suites = (option("--suites")?.split(",").map(Number) ?? [1]) as CipherSuiteId[];
const libs: readonly Library[] = profileMode ? ["conclave"] : (option("--libs")?.split(",").filter(isLibrary) ?? LIBRARIES);
const tree: TreeDelivery = option("--tree") === "out-of-band" ? "outOfBand" : "welcome";
const PEER_MAX_N = Number(process.env.PEER_MAX_N ?? 1024);
const repsOption = option("--reps");
const reps = repsOption === undefined ? undefined : Number(repsOption);
if (reps !== undefined && !(Number.isInteger(reps) && reps >= 1)) throw new Error(`--reps wants a whole number >= 1, not ${repsOption}`);
const repHooks: Pick<ScenarioHooks<unknown>, "addIterations" | "commitIterations"> = reps === undefined ? {} : { addIterations: reps, commitIterations: reps };
const CORES = availableParallelism();
const startedAt = performance.now();
// A full collection before each measured scenario, and for the memory figure.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const progress = (line: string) =>
  process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB] ${line}\n`);

async function implFor(lib: Library, suiteId: CipherSuiteId): Promise<MlsImpl<unknown, unknown>> {
  switch (lib) {
    case "conclave":
    case "conclave-1t":
      return conclaveImpl(suiteId) as MlsImpl<unknown, unknown>;
    case "core-crypto":
      return (await coreCryptoImpl(suiteId)) as MlsImpl<unknown, unknown>;
    case "ts-mls-2":
      return (await tsMls2Impl(suiteId)) as MlsImpl<unknown, unknown>;
    case "ts-mls":
      return (await tsMlsImpl(suiteId)) as MlsImpl<unknown, unknown>;
  }
}

const heapNow = (): number => {
  collectGarbage();
  collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/**
 * The heap a Conclave state holds once restored from `bytes` and used (one
 * path commit, one message): the mean over several copies held at once, so
 * that at small N the figure is not lost in the collector's noise.
 */
async function liveStateHeap(bytes: Uint8Array): Promise<number> {
  const copies = bytes.length > 1e6 ? 2 : bytes.length > 1e5 ? 4 : 16;
  const held: Group[] = [];
  const before = heapNow();
  for (let i = 0; i < copies; i++) {
    const g = Group.deserialize(bytes.slice(), nodeCryptoProvider, { clock: () => BigInt(Math.floor(Date.now() / 1000)) });
    await g.createCommit({ path: "always", ratchetTreeExtension: false, externalPub: false });
    g.mergePendingCommit();
    await g.encryptApplicationMessage(new Uint8Array(1024));
    held.push(g);
  }
  const after = heapNow();
  if (held.length !== copies) throw new Error("unreachable"); // keeps the copies alive until measured
  return (after - before) / copies;
}

/**
 * Timed runs per (library, N): two up to 128 members, each library's better figure of the two
 * kept for every operation; one beyond. Operations there take milliseconds, and after the
 * 8-member warm-up the first run still catches the JIT mid-way (Conclave's 15 joins at 16
 * members ran ~2x slower than its thousandth), while a library whose state grows with every
 * group it creates may be slower in the second: the better of the two is each one's steady state.
 */
const timedRuns = (n: number): number => (n <= 128 ? 2 : 1);
/**
 * Path commits of each tree shape in the untimed 8-member warm-up run. A JavaScript library's
 * commit keeps getting faster for its first few hundred commits while the JIT settles: Conclave at
 * 16 members, filled tree, commit + process in a loop, medians of 25 consecutive commits ~1.0 ms up
 * to the 250th, ~0.6 ms from the 275th, ~0.55 ms from the 400th (TurboFan was still optimizing
 * functions of the commit 700 commits in). With 32 warm-up commits of each shape the timed commits
 * fell inside that curve (1.66x its floor where 300 gave 1.39x, two interleaved pairs of runs).
 */
const WARM_UP_COMMITS = 300;
/** Milliseconds spent pricing each primitive before each round of a step (10 primitives: ~1.5 s a round). */
const PRICE_MS = 150;

const TIMES = ["add", "join", "commitBlank", "processBlank", "commitFull", "processFull"] as const satisfies readonly Metric[];
const RATES = ["messagesPerSecond", "messagesInFlightPerSecond"] as const satisfies readonly Metric[];

/** `b` with each time the lesser and each rate the greater of `a`'s and `b`'s. */
function better(a: Figures, b: Figures): Figures {
  const out: Figures = { ...b, prices: { ...b.prices } };
  // a's figure, with the floor priced just before it.
  const fromA = (k: Metric) => {
    (out[k] as number) = a[k] as number;
    if (a.prices?.[k] !== undefined) out.prices![k] = a.prices[k];
  };
  for (const k of TIMES) if (a[k] < b[k]) fromA(k);
  for (const k of RATES) if (a[k] > b[k]) fromA(k);
  return out;
}

/**
 * One library at one size in this process: a full GC, an untimed warm-up run,
 * the scenario (twice up to 128 members; Conclave's primitives priced before each round of each step).
 */
async function scenarioHere(lib: Library, suiteId: CipherSuiteId, n: number, extra: Pick<ScenarioHooks<unknown>, "commitIterations" | "phase"> = {}): Promise<ScenarioResult> {
  const impl = await implFor(lib, suiteId);
  const conclave = lib === "conclave" || lib === "conclave-1t";
  // The collection comes before the warm-up, not between it and the timed run: a forced full GC
  // shrinks the heap, and the operations right after it paid for growing it again.
  collectGarbage();
  await runScenario(impl, 8, { commitIterations: WARM_UP_COMMITS, tree });
  const hooks: ScenarioHooks<unknown> = { log: progress, tree, ...repHooks, ...extra };
  if (lib === "conclave") {
    hooks.price = async (step) => {
      const priced = await measurePrimitives(nodeCryptoProvider.suite(suiteId), PRICE_MS);
      const p = step === "messages" ? { ...priced, allCores: await measureAllCores(MESSAGE_TBS_BYTES) } : priced;
      progress(
        `suite ${suiteId} N=${n} ${step}: primitives (ms): derive ${p.deriveKeyPair.toFixed(4)}, seal ${p.hpkeSeal.toFixed(4)}, open ${p.hpkeOpen.toFixed(4)}, kdf ${p.kdf.toFixed(4)}, sign ${at(p.sign, 256).toFixed(4)}, verify ${at(p.verify, 256).toFixed(4)} (256 B), aead seal ${at(p.aeadSeal, 1024).toFixed(4)}, hash ${at(p.hash, 64).toFixed(4)} (1 KiB, 64 B)${p.allCores === undefined ? "" : `; all cores at once ${p.allCores.verifiesPerMs.toFixed(1)} verifications/ms`}`,
      );
      return p;
    };
  }
  if (conclave) {
    hooks.pathCost = conclavePathCost as (g: unknown) => ReturnType<typeof conclavePathCost>;
    hooks.keepState = (g) => (g as Group).serialize();
  }
  let figures = await runScenario(impl, n, hooks);
  for (let run = 1; run < timedRuns(n); run++) figures = better(figures, await runScenario(impl, n, hooks));
  const finalState = figures.finalState;
  delete figures.finalState;
  const memory = lib === "conclave" && finalState !== undefined ? { heapBytes: await liveStateHeap(finalState), serializedBytes: finalState.length } : undefined;
  return {
    name: impl.name,
    figures,
    ...(memory === undefined ? {} : { memory }),
    ...(conclave ? { worker: nodeSignatureStats() !== undefined } : {}),
  };
}

/**
 * The same in a fresh process (a 10,000-member scenario leaves V8's collector
 * slow for a while after its heap is freed, which made whatever ran next in
 * the same process up to 3x slower). conclave-1t's child runs without the
 * signature worker.
 */
function scenarioIsolated(lib: Library, suiteId: CipherSuiteId, n: number): Promise<ScenarioResult> {
  const env = lib === "conclave-1t" ? { ...process.env, CONCLAVE_SIGNATURE_WORKER: "0" } : process.env;
  const args = [
    ...process.execArgv,
    process.argv[1]!,
    "--child",
    `${lib}:${suiteId}:${n}`,
    ...(tree === "outOfBand" ? ["--tree", "out-of-band"] : []),
    ...(reps === undefined ? [] : ["--reps", String(reps)]),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env });
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
    if (lib === undefined || !isLibrary(lib)) throw new Error(`unknown library ${lib}`);
    console.log(JSON.stringify(await scenarioHere(lib, Number(suiteId) as CipherSuiteId, Number(n))));
    process.exit(0); // core-crypto's WASM runtime and the signature worker keep the loop alive
  }
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
  const rows: Row[] = [];
  for (const suiteId of suites) {
    for (const n of sizes) {
      const row: Row = { suite: suiteId, n, results: new Map(), notes: [] };
      for (const lib of libs) {
        const peer = lib !== "conclave" && lib !== "conclave-1t";
        if (peer && n > PEER_MAX_N) {
          row.notes.push(`${lib} not run at N=${n} (PEER_MAX_N=${PEER_MAX_N})`);
          continue;
        }
        try {
          const r = profileMode ? await scenarioHere(lib, suiteId, n, profileHooks) : await scenarioIsolated(lib, suiteId, n);
          row.results.set(lib, r);
        } catch (e) {
          row.notes.push(`${lib}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      rows.push(row);
    }
  }
  printReport(rows, { cores: CORES, tree });
  for (const [name, ps] of profiles) {
    console.log(`\n== CPU profile: Conclave ${name} (suite ${suites[0]}, N=${sizes[0]}) ==`);
    for (const line of summarize(ps)) console.log(line);
  }
  console.log(`\ntotal run time ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
