/**
 * One benchmark scenario at N members, run the same way on any implementation:
 *
 * 1. N-1 KeyPackages are made (not timed); one commit adds them all (timed).
 * 2. Leaf 1 and "filler" members at leaves 2, 4, 8, ... join from the Welcome
 *    with the ratchet tree supplied (timed, median; at N <= 128 leaf 1 joins
 *    a few extra times, and step 1 is repeated more, for a steadier median).
 * 3. The fillers commit, largest leaf first: each fills the subtree that is
 *    one of leaf 0's copath nodes, so leaf 0's copath ends up fully populated
 *    ("full tree": log2(N) encryptions per path, the RFC's good case).
 * 4. Leaf 0 makes empty commits with a path (timed), leaf 1 processes them (timed).
 * 5. 1 KiB application messages from leaf 0 to leaf 1 (per second, over 1 s after a 300 ms warm-up): one at a
 *    time, then 64 in flight (a batch is encrypted while the previous one is
 *    decrypted, as for a busy client sending and receiving); state size.
 * 6. Leaf 0 removes every other leaf (odd leaves except 1), which blanks the
 *    parents: the "sparse tree", where a path encrypts to about N/2 leaves.
 *    Path commits and processing are timed again.
 */
import type { MlsImpl } from "./mlsImpl.js";

export interface PathCost {
  /** HPKE encryptions (size of the copath resolution). */
  readonly encryptions: number;
  /** Nodes of the filtered direct path (one DeriveKeyPair each, plus one for the leaf). */
  readonly pathNodes: number;
}

export interface Figures {
  /** Milliseconds. */
  add: number;
  join: number;
  commitFull: number;
  processFull: number;
  commitSparse: number;
  processSparse: number;
  /** 1 KiB messages encrypted and decrypted per second, one at a time. */
  messagesPerSecond: number;
  /** The same with 64 messages in flight (sequential for a library whose calls cannot overlap). */
  messagesInFlightPerSecond: number;
  /** Bytes of the committer's serialized state (full tree). */
  stateBytes: number;
  /** Leaf 0's path cost before a full-tree and a sparse-tree commit (from the implementation that can tell). */
  fullCost?: PathCost;
  sparseCost?: PathCost;
}

export interface ScenarioHooks<G> {
  /** Leaf 0's path cost in the current tree (optional: only one implementation needs to provide it). */
  pathCost?(g: G): PathCost;
  /** Wraps a timed phase (used for CPU profiling). */
  phase?(name: "add" | "messages" | "messagesInFlight" | "join" | "commitFull" | "processFull" | "commitSparse" | "processSparse", run: () => Promise<void>): Promise<void>;
  log?(line: string): void;
  /** Path commits per tree shape (default: 8 up to 128 members, 4 up to 1024, 2 beyond). */
  commitIterations?: number;
}

/** Messages in flight for the second throughput figure. */
const IN_FLIGHT = 64;
/**
 * How long message throughput is timed. A second holds several of the collections the messages
 * themselves cause, so their cost is counted in proportion; 300-400 ms windows either caught one
 * major collection or none, and the same build read 8k or 12.5k/s at N=10,000 from run to run.
 */
const MESSAGE_WINDOW_MS = 1000;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await run();
  return performance.now() - t;
}

/** Leaves 2^k for 2^k < n, largest first: one per copath subtree of leaf 0 above leaf 1. */
export function fillerLeaves(n: number): number[] {
  const out: number[] = [];
  for (let l = 2; l < n; l *= 2) out.unshift(l);
  return out;
}

export async function runScenario<G, K>(impl: MlsImpl<G, K>, n: number, hooks: ScenarioHooks<G> = {}): Promise<Figures> {
  const log = hooks.log ?? (() => {});
  const phase = hooks.phase ?? ((_name, run) => run());
  // Small groups take milliseconds, where the JIT and the collector still swing single runs 3x:
  // more runs there (the same for every library), the median taken.
  const addIters = n <= 16 ? 15 : n <= 128 ? 7 : 1;
  const extraJoins = n <= 16 ? 12 : n <= 128 ? 6 : 0;
  const commitIters = hooks.commitIterations ?? (n <= 128 ? 8 : n <= 1024 ? 4 : 2);

  const kps: K[] = [];
  for (let i = 1; i < n; i++) kps.push(await impl.keyPackage(i));
  log(`${impl.name} N=${n}: ${kps.length} KeyPackages made`);

  // 1. Add N-1 members in one commit.
  const addTimes: number[] = [];
  let a: G | undefined;
  let welcome: Uint8Array = new Uint8Array(0);
  let ratchetTree: Uint8Array = new Uint8Array(0);
  await phase("add", async () => {
    for (let i = 0; i < addIters; i++) {
      const g = await impl.create();
      addTimes.push(
        await timed(async () => {
          ({ welcome, ratchetTree } = await impl.add(g, kps));
        }),
      );
      a = g;
    }
  });
  if (a === undefined) throw new Error("no group");
  const creator = a;
  log(`${impl.name} N=${n}: add ${median(addTimes).toFixed(1)} ms`);

  // 2. Joins.
  const fillers = fillerLeaves(n);
  const joined = new Map<number, G>();
  const joinTimes: number[] = [];
  await phase("join", async () => {
    // Leaf 1 joins extraJoins more times first (states dropped), for a steadier median at small N.
    for (const leaf of [...new Array<number>(extraJoins).fill(1), 1, ...fillers]) {
      let g: G | undefined;
      joinTimes.push(
        await timed(async () => {
          g = await impl.join(welcome, kps[leaf - 1]!, ratchetTree);
        }),
      );
      joined.set(leaf, g!);
    }
  });
  const b = joined.get(1)!;
  log(`${impl.name} N=${n}: join ${median(joinTimes).toFixed(1)} ms (${joinTimes.length} joins)`);

  // 3. Fill leaf 0's copath (not timed).
  const pending = [...fillers];
  while (pending.length > 0) {
    const f = pending.shift()!;
    const c = await impl.commit(joined.get(f)!);
    for (const m of [creator, b, ...pending.map((l) => joined.get(l)!)]) await impl.process(m, c);
  }
  log(`${impl.name} N=${n}: copath filled by ${fillers.length} commits`);

  // 4. Path commits in the full tree.
  const fullCost = hooks.pathCost?.(creator);
  const commitFull: number[] = [];
  const processFull: number[] = [];
  for (let i = 0; i < commitIters; i++) {
    let c: Uint8Array = new Uint8Array(0);
    await phase("commitFull", async () => {
      commitFull.push(
        await timed(async () => {
          c = await impl.commit(creator);
        }),
      );
    });
    await phase("processFull", async () => {
      processFull.push(await timed(() => impl.process(b, c)));
    });
  }
  log(`${impl.name} N=${n}: full-tree commit ${median(commitFull).toFixed(1)} ms, process ${median(processFull).toFixed(1)} ms`);

  // 5. Application messages and state size.
  const data = new Uint8Array(1024).fill(7);
  // Warm-up until the JIT has settled (the first few hundred messages run at half speed), then measure steady state.
  const warmUntil = performance.now() + 300;
  for (let i = 0; i < 10 || performance.now() < warmUntil; i++) await impl.decrypt(b, await impl.encrypt(creator, data));
  let count = 0;
  let elapsed = 0;
  await phase("messages", async () => {
    const start = performance.now();
    while (elapsed < MESSAGE_WINDOW_MS || count < 50) {
      const m = await impl.encrypt(creator, data);
      const got = await impl.decrypt(b, m);
      if (got.length !== data.length) throw new Error("wrong plaintext");
      count++;
      elapsed = performance.now() - start;
    }
  });
  const messagesPerSecond = (1000 * count) / elapsed;

  // 5b. 64 in flight: batch k+1 is encrypted while batch k is decrypted.
  const encryptMany = impl.encryptMany?.bind(impl) ?? (async (g: G, ds: readonly Uint8Array[]) => { const out: Uint8Array[] = []; for (const d of ds) out.push(await impl.encrypt(g, d)); return out; });
  const decryptMany = impl.decryptMany?.bind(impl) ?? (async (g: G, ms: readonly Uint8Array[]) => { const out: Uint8Array[] = []; for (const m of ms) out.push(await impl.decrypt(g, m)); return out; });
  const batch = Array.from({ length: IN_FLIGHT }, () => data);
  const inFlightRound = async (pending: Uint8Array[]): Promise<Uint8Array[]> => {
    const [next, got] = await Promise.all([encryptMany(creator, batch), decryptMany(b, pending)]);
    if (got.length !== IN_FLIGHT || got.some((x) => x.length !== data.length)) throw new Error("wrong plaintext");
    return next;
  };
  let inFlight = await encryptMany(creator, batch);
  // Warmed up by time, as above: at N=10,000 the commits before leave hundreds of MB of garbage,
  // and a few rounds were not enough for the collection they start to end before timing began.
  const warmInFlightUntil = performance.now() + 300;
  for (let i = 0; i < 3 || performance.now() < warmInFlightUntil; i++) inFlight = await inFlightRound(inFlight);
  let inFlightCount = 0;
  let inFlightElapsed = 0;
  await phase("messagesInFlight", async () => {
    const start = performance.now();
    while (inFlightElapsed < MESSAGE_WINDOW_MS || inFlightCount < 2 * IN_FLIGHT) {
      inFlight = await inFlightRound(inFlight);
      inFlightCount += IN_FLIGHT;
      inFlightElapsed = performance.now() - start;
    }
  });
  await decryptMany(b, inFlight);
  const messagesInFlightPerSecond = (1000 * inFlightCount) / inFlightElapsed;
  const stateBytes = impl.stateSize(creator);

  // 6. Sparse tree: remove every other leaf (odd leaves but 1).
  const removes: number[] = [];
  for (let l = 3; l < n; l += 2) removes.push(l);
  const rc = await impl.commit(creator, removes);
  await impl.process(b, rc);
  const sparseCost = hooks.pathCost?.(creator);
  const commitSparse: number[] = [];
  const processSparse: number[] = [];
  for (let i = 0; i < commitIters; i++) {
    let c: Uint8Array = new Uint8Array(0);
    await phase("commitSparse", async () => {
      commitSparse.push(
        await timed(async () => {
          c = await impl.commit(creator);
        }),
      );
    });
    await phase("processSparse", async () => {
      processSparse.push(await timed(() => impl.process(b, c)));
    });
  }
  log(`${impl.name} N=${n}: sparse commit ${median(commitSparse).toFixed(1)} ms, process ${median(processSparse).toFixed(1)} ms`);

  return {
    add: median(addTimes),
    join: median(joinTimes),
    commitFull: median(commitFull),
    processFull: median(processFull),
    commitSparse: median(commitSparse),
    processSparse: median(processSparse),
    messagesPerSecond,
    messagesInFlightPerSecond,
    stateBytes,
    ...(fullCost === undefined ? {} : { fullCost }),
    ...(sparseCost === undefined ? {} : { sparseCost }),
  };
}
