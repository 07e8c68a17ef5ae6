/**
 * A fixed amount of Conclave work for counting instructions, not timing: on a
 * shared machine wall-clock figures move with other processes' load, while
 * the instructions one message or commit executes do not. Run it twice under
 * callgrind with different counts and divide the difference by the extra
 * work (start-up, group set-up and warm-up cancel out):
 *
 *   npx esbuild bench/overhead.ts --bundle --platform=node --format=esm \
 *     --conditions=@conclave/source --packages=external --outfile=node_modules/.overhead/run.mjs
 *   CONCLAVE_SIGNATURE_WORKER=0 K=0   W=1500 valgrind --tool=callgrind node node_modules/.overhead/run.mjs
 *   CONCLAVE_SIGNATURE_WORKER=0 K=250 W=1500 valgrind --tool=callgrind node node_modules/.overhead/run.mjs
 *
 * N members (default 16), suite 1; leaf 0 makes WC warm-up path commits that
 * leaf 1 processes, then W warm-up 1 KiB messages, then the counted K messages
 * (encrypt + decrypt) and C path commits (commit + process). By default leaf
 * 0's copath is blank after the add, so each path encrypts to N-1 leaves; with
 * FILL=1 the members at leaves 2, 4, 8, ... first commit, largest leaf first,
 * as in bench/support/scenario.ts, so the copath is fully populated and each
 * path encrypts to log2(N) nodes (the filled-tree commit). With IF=64 the
 * warm-up and counted messages go IF in flight, as in bench/support/scenario.ts
 * (a batch encrypted while the previous one is decrypted): K then counts
 * rounds of IF messages; `--separate-threads=yes` splits this thread's
 * instructions from the signature worker's. The bundle sits
 * under node_modules so the native modules resolve. docs/benchmarks.md has the method and figures.
 *
 * PROCESS=0 leaves the C commits unprocessed (leaf 1 falls behind): the
 * commit side alone, for splitting a commit + process count.
 *
 * ADD=1 counts one add instead, as bench/support/scenario.ts times it at N
 * (N-1 KeyPackages, the tree in the Welcome, no path), after a warm-up add
 * at WN members (default 8, the bench's warm-up size), so the add runs as
 * cold as in the bench; ADD=0 makes the same KeyPackages without the add.
 * With the signature worker, --separate-threads=yes splits the count by thread.
 *
 * Single-thread counts repeat to within ~0.01% under `node --predictable`
 * (no concurrent compilation or marking) and move by 5-10% without it; it
 * shrinks the GC's share, so use it to compare two versions of the code, not
 * to size the GC.
 */
import { readdirSync, readFileSync } from "node:fs";
import { nodeSignatureStats } from "../packages/mls/src/crypto/node/index.js";
import { conclaveImpl } from "./support/conclaveImpl.js";
import { fillerLeaves } from "./support/scenario.js";

const count = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const N = count("N", 16);
const K = count("K", 0);
const C = count("C", 0);
const W = count("W", 200);
const WC = count("WC", 3);
const FILL = count("FILL", 0) !== 0;
const IF = count("IF", 0);
const PROCESS = count("PROCESS", 1) !== 0;

const impl = conclaveImpl(1);
if (process.env.ADD !== undefined) await countAdd(count("ADD", 0) !== 0, count("WN", 8));

/** ADD mode (see above): ends the process. */
async function countAdd(add: boolean, warmUpSize: number): Promise<never> {
  const made = async (n: number) => {
    const kps = [];
    for (let i = 1; i < n; i++) kps.push(await impl.keyPackage(i));
    return kps;
  };
  await impl.add(await impl.create(), await made(warmUpSize), "welcome");
  const kps = await made(N);
  const g = await impl.create();
  const cpu = process.cpuUsage();
  if (add) await impl.add(g, kps, "welcome");
  const used = process.cpuUsage(cpu);
  console.log(`N=${N} ADD=${add ? 1 : 0}: ${((used.user + used.system) / 1000).toFixed(1)} ms of CPU (all threads)`);
  process.exit(0);
}

const creator = await impl.create();
const keyPackages = [];
for (let i = 1; i < N; i++) keyPackages.push(await impl.keyPackage(i));
const { welcome } = await impl.add(creator, keyPackages, "welcome");
const receiver = await impl.join(welcome, keyPackages[0]!, undefined);
if (FILL) {
  // Each filler's path fills the subtree that is one of leaf 0's copath nodes.
  const fillers = [];
  for (const leaf of fillerLeaves(N)) fillers.push(await impl.join(welcome, keyPackages[leaf - 1]!, undefined));
  while (fillers.length > 0) {
    const c = await impl.commit(fillers.shift()!);
    for (const m of [creator, receiver, ...fillers]) await impl.process(m, c);
  }
}
const data = new Uint8Array(1024).fill(7);
for (let i = 0; i < WC; i++) await impl.process(receiver, await impl.commit(creator));
const batch = Array.from({ length: IF }, () => data);
let inFlight = await Promise.all(batch.map((d) => impl.encrypt(creator, d)));
const round = async (): Promise<void> => {
  const [next, got] = await Promise.all([Promise.all(batch.map((d) => impl.encrypt(creator, d))), Promise.all(inFlight.map((m) => impl.decrypt(receiver, m)))]);
  if (got.some((x) => x.length !== data.length)) throw new Error("wrong plaintext");
  inFlight = next;
};
const message = async (): Promise<void> => {
  const got = await impl.decrypt(receiver, await impl.encrypt(creator, data));
  if (got.length !== data.length) throw new Error("wrong plaintext");
};
const step = IF > 0 ? round : message;
for (let i = 0; i < W; i++) await step();

const sched = threadTimes().map;
const busy = nodeSignatureStats()?.workerBusyMs ?? 0;
const cpu = process.cpuUsage();
const start = performance.now();
for (let i = 0; i < K; i++) await step();
const ms = performance.now() - start;
const threads = threadTimes(sched).lines;
const workerBusy = (nodeSignatureStats()?.workerBusyMs ?? 0) - busy;
for (let i = 0; i < C; i++) {
  const c = await impl.commit(creator);
  if (PROCESS) await impl.process(receiver, c);
}
const used = process.cpuUsage(cpu);
console.log(`N=${N} K=${K} C=${C} IF=${IF}: ${(used.user / 1000).toFixed(1)} ms of user CPU, ${ms.toFixed(1)} ms, worker on requests ${workerBusy.toFixed(1)} ms`, nodeSignatureStats());
if (threads.length > 0) console.log(`threads (ms running, ms runnable but waiting for a core): ${threads.join("; ")}`);
process.exit(0);

/**
 * Per thread (Linux): ms on a core and ms waiting for one since `since`, for
 * threads that ran over 1 ms; with a busy machine's cores shared, the rest of
 * the wall clock is the time a thread itself left idle.
 */
function threadTimes(since?: Map<string, number[]>): { lines: string[]; map: Map<string, number[]> } {
  const now = new Map<string, number[]>();
  const out: string[] = [];
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return { lines: out, map: now };
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      now.set(tid, [run! / 1e6, wait! / 1e6]);
      const before = since?.get(tid) ?? [0, 0];
      if (since !== undefined && run! / 1e6 - before[0]! > 1) out.push(`${name}/${tid} ${(run! / 1e6 - before[0]!).toFixed(0)} + ${(wait! / 1e6 - before[1]!).toFixed(0)}`);
    } catch {
      // a thread that ended
    }
  }
  return { lines: out, map: now };
}
