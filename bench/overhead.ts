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
 * path encrypts to log2(N) nodes (the filled-tree commit). The bundle sits
 * under node_modules so the native modules resolve. docs/benchmarks.md has the method and figures.
 *
 * ADD=1 counts one add instead, as bench/support/scenario.ts times it at N
 * (N-1 KeyPackages, the tree in the Welcome, no path), after a warm-up add
 * at WN members (default 8, the bench's warm-up size), so the add runs as
 * cold as in the bench; ADD=0 makes the same KeyPackages without the add.
 * With the signature worker, --separate-threads=yes splits the count by thread.
 */
import { conclaveImpl } from "./support/conclaveImpl.js";
import { fillerLeaves } from "./support/scenario.js";

const count = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const N = count("N", 16);
const K = count("K", 0);
const C = count("C", 0);
const W = count("W", 200);
const WC = count("WC", 3);
const FILL = count("FILL", 0) !== 0;

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
for (let i = 0; i < W; i++) await impl.decrypt(receiver, await impl.encrypt(creator, data));

const cpu = process.cpuUsage();
for (let i = 0; i < K; i++) {
  const got = await impl.decrypt(receiver, await impl.encrypt(creator, data));
  if (got.length !== data.length) throw new Error("wrong plaintext");
}
for (let i = 0; i < C; i++) await impl.process(receiver, await impl.commit(creator));
const used = process.cpuUsage(cpu);
console.log(`N=${N} K=${K} C=${C}: ${(used.user / 1000).toFixed(1)} ms of user CPU`);
process.exit(0);
