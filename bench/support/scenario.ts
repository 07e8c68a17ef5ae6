/**
 * One benchmark scenario at N members, run the same way on any implementation:
 *
 * 1. N-1 KeyPackages are made (not timed); one commit adds them all (timed),
 *    the ratchet tree inside the Welcome unless the run asks otherwise.
 * 2. Leaf 1 and "filler" members at leaves 2, 4, 8, ... join from the Welcome
 *    (timed, median; at N <= 128 a few other leaves join too, and step 1 is
 *    repeated more, for a steadier median).
 * 3. "Blank tree": leaf 0 makes empty commits with a path right after the add,
 *    when every parent node is blank, so the path encrypts to every other leaf
 *    (N-1 encryptions); leaf 1 processes them (both timed), the fillers too (not timed).
 * 4. The fillers commit, largest leaf first: each fills the subtree that is
 *    one of leaf 0's copath nodes, so leaf 0's copath ends up fully populated
 *    ("filled tree": log2(N) encryptions per path, the RFC's good case).
 * 5. Leaf 0 makes empty commits with a path (timed), leaf 1 processes them (timed).
 * 6. 1 KiB application messages from leaf 0 to leaf 1, the only members still alive (per second, over 1 s after a 300 ms warm-up):
 *    one at a time, then 64 in flight (a batch is encrypted while the previous one is decrypted, as
 *    for a busy client sending and receiving; concurrent calls where the library allows them,
 *    else one after another); state size.
 */
import type { MlsImpl, TreeDelivery } from "./mlsImpl.js";
import type { PrimitiveCosts } from "./primitiveCosts.js";

export interface PathCost {
  /** HPKE encryptions (size of the copath resolution). */
  readonly encryptions: number;
  /** Nodes of the filtered direct path (one DeriveKeyPair each, plus one for the leaf). */
  readonly pathNodes: number;
  /** Bytes of the commit message, as sent (filled in by the scenario). */
  readonly commitBytes?: number;
}

/** The figures the report prints, one per operation. */
export type Metric = "add" | "join" | "commitBlank" | "processBlank" | "commitFull" | "processFull" | "messagesPerSecond" | "messagesInFlightPerSecond";

/** The steps whose crypto floor is priced just before they run (see ScenarioHooks.price). */
export type PricedStep = "add" | "join" | "commitBlank" | "commitFull" | "messages";

/** Which figures each priced step's floor applies to. */
const PRICED_METRICS: Readonly<Record<PricedStep, readonly Metric[]>> = {
  add: ["add"],
  join: ["join"],
  commitBlank: ["commitBlank", "processBlank"],
  commitFull: ["commitFull", "processFull"],
  messages: ["messagesPerSecond", "messagesInFlightPerSecond"],
};

export type Phase = "add" | "join" | "commitBlank" | "processBlank" | "commitFull" | "processFull" | "messages" | "messagesInFlight";

export interface Figures {
  /** Milliseconds. */
  add: number;
  join: number;
  commitBlank: number;
  processBlank: number;
  commitFull: number;
  processFull: number;
  /** 1 KiB messages encrypted and decrypted per second, one at a time. */
  messagesPerSecond: number;
  /** The same with 64 messages in flight (sequential for a library whose calls cannot overlap). */
  messagesInFlightPerSecond: number;
  /** Bytes of the committer's serialized state (filled tree), where the library can serialize. */
  stateBytes?: number;
  /** Bytes of the Welcome of the add. */
  welcomeBytes: number;
  /** Bytes of the add's commit message, where the implementation returns it. */
  addCommitBytes?: number;
  /** Leaf 0's path cost before a blank-tree and a filled-tree commit (from the implementation that can tell). */
  blankCost?: PathCost;
  fullCost?: PathCost;
  /** The committer's state at the end, serialized, for a memory measurement after the scenario. */
  finalState?: Uint8Array;
  /** The primitives' prices measured just before each figure's step, where the run priced them. */
  prices?: Partial<Record<Metric, PrimitiveCosts>>;
}

export interface ScenarioHooks<G> {
  /** Leaf 0's path cost in the current tree (optional: only one implementation needs to provide it). */
  pathCost?(g: G): PathCost;
  /** Wraps a timed phase (used for CPU profiling). */
  phase?(name: Phase, run: () => Promise<void>): Promise<void>;
  log?(line: string): void;
  /** Path commits per tree shape (default: blank tree 8 up to 128 members, 4 up to 1024, 2 beyond; filled tree 16). */
  commitIterations?: number;
  /** Adds of N-1 members, each into a fresh group (default: 15 at 16 members, 7 up to 128, 1 beyond). */
  addIterations?: number;
  /** Where the tree travels (default: in the Welcome). */
  tree?: TreeDelivery;
  /** Keep the committer's serialized state in the figures. */
  keepState?: (g: G) => Uint8Array;
  /**
   * Prices the crypto primitives just before a step, so that each floor is measured seconds from
   * the operation it bounds, not minutes (a shared machine's speed drifts in between).
   */
  price?(step: PricedStep): Promise<PrimitiveCosts>;
}

/** Messages in flight for the second throughput figure. */
const IN_FLIGHT = 64;
/**
 * How long message throughput is timed. A second holds several of the collections the messages
 * themselves cause, so their cost is counted in proportion; 300-400 ms windows either caught one
 * major collection or none.
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

/** Other leaves that join only to be timed (distinct clients: a KeyPackage is used once). */
function extraJoiners(n: number, count: number, fillers: readonly number[]): number[] {
  const out: number[] = [];
  for (let l = 3; l < n && out.length < count; l++) if (!fillers.includes(l)) out.push(l);
  return out;
}

export async function runScenario<G, K>(impl: MlsImpl<G, K>, n: number, hooks: ScenarioHooks<G> = {}): Promise<Figures> {
  const log = hooks.log ?? (() => {});
  const phase = hooks.phase ?? ((_name, run) => run());
  const tree = hooks.tree ?? "welcome";
  // Small groups take milliseconds, where the JIT and the collector still swing single runs 3x:
  // more runs there (the same for every library), the median taken.
  const addIters = hooks.addIterations ?? (n <= 16 ? 15 : n <= 128 ? 7 : 1);
  const commitIters = hooks.commitIterations ?? (n <= 128 ? 8 : n <= 1024 ? 4 : 2);
  // A filled-tree commit costs every library a few path nodes at any N: more of them, for a median
  // that a single slow one (a collection, a tier-up) cannot move.
  const fullCommitIters = hooks.commitIterations ?? 16;
  const prices: Partial<Record<Metric, PrimitiveCosts>> = {};
  const price = async (step: PricedStep) => {
    if (hooks.price === undefined) return;
    const p = await hooks.price(step);
    for (const m of PRICED_METRICS[step]) prices[m] = p;
  };

  const kps: K[] = [];
  for (let i = 1; i < n; i++) kps.push(await impl.keyPackage(i));
  log(`${impl.name} N=${n}: ${kps.length} KeyPackages made`);

  // 1. Add N-1 members in one commit.
  const addTimes: number[] = [];
  await price("add");
  let a: G | undefined;
  let added: { welcome: Uint8Array; ratchetTree?: Uint8Array; commit?: Uint8Array } = { welcome: new Uint8Array(0) };
  await phase("add", async () => {
    for (let i = 0; i < addIters; i++) {
      const g = await impl.create();
      addTimes.push(await timed(async () => (added = await impl.add(g, kps, tree))));
      a = g;
    }
  });
  if (a === undefined) throw new Error("no group");
  const creator = a;
  log(`${impl.name} N=${n}: add ${median(addTimes).toFixed(1)} ms (Welcome ${added.welcome.length} B)`);

  // 2. Joins: leaf 1 and the fillers stay; the extra joiners (small N) are timed and dropped.
  const fillers = fillerLeaves(n);
  const extras = extraJoiners(n, n <= 16 ? 12 : n <= 128 ? 6 : 0, fillers);
  const joined = new Map<number, G>();
  const joinTimes: number[] = [];
  await price("join");
  await phase("join", async () => {
    for (const leaf of [...extras, 1, ...fillers]) {
      let g: G | undefined;
      joinTimes.push(await timed(async () => (g = await impl.join(added.welcome, kps[leaf - 1]!, added.ratchetTree))));
      if (!extras.includes(leaf)) joined.set(leaf, g!);
    }
  });
  const b = joined.get(1)!;
  log(`${impl.name} N=${n}: join ${median(joinTimes).toFixed(1)} ms (${joinTimes.length} joins)`);

  // 3. Path commits in the blank tree left by the add; the fillers keep up (not timed).
  const pathCommits = async (shape: "Blank" | "Full", others: readonly G[], iterations: number) => {
    const cost = hooks.pathCost?.(creator);
    await price(`commit${shape}`);
    const commits: number[] = [];
    const processes: number[] = [];
    let c: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < iterations; i++) {
      await phase(`commit${shape}`, async () => {
        commits.push(await timed(async () => (c = await impl.commit(creator))));
      });
      await phase(`process${shape}`, async () => {
        processes.push(await timed(() => impl.process(b, c)));
      });
      for (const m of others) await impl.process(m, c);
    }
    log(`${impl.name} N=${n}: ${shape.toLowerCase()}-tree commit ${median(commits).toFixed(1)} ms, process ${median(processes).toFixed(1)} ms`);
    return { commit: median(commits), process: median(processes), cost: cost === undefined ? undefined : { ...cost, commitBytes: c.length } };
  };
  const blank = await pathCommits(
    "Blank",
    fillers.map((l) => joined.get(l)!),
    commitIters,
  );

  // 4. Fill leaf 0's copath (not timed).
  const pending = [...fillers];
  while (pending.length > 0) {
    const f = pending.shift()!;
    const c = await impl.commit(joined.get(f)!);
    for (const m of [creator, b, ...pending.map((l) => joined.get(l)!)]) await impl.process(m, c);
  }
  log(`${impl.name} N=${n}: copath filled by ${fillers.length} commits`);

  // 5. Path commits in the filled tree.
  const full = await pathCommits("Full", [], fullCommitIters);

  // 6. Application messages and state size. Only the two members that exchange them stay alive: the
  // fillers, the KeyPackages and the Welcome were the bench's scaffolding (each member of a real group
  // lives in its own process), and a heap holding them makes every collection during the messages cost more.
  const welcomeBytes = added.welcome.length;
  const addCommitBytes = added.commit?.length;
  joined.clear();
  kps.length = 0;
  added = { welcome: new Uint8Array(0) };
  await price("messages");
  const { perSecond, inFlightPerSecond } = await messages(impl, creator, b, phase);
  const stateBytes = impl.stateSize?.(creator);

  return {
    add: median(addTimes),
    join: median(joinTimes),
    commitBlank: blank.commit,
    processBlank: blank.process,
    commitFull: full.commit,
    processFull: full.process,
    messagesPerSecond: perSecond,
    messagesInFlightPerSecond: inFlightPerSecond,
    welcomeBytes,
    ...(addCommitBytes === undefined ? {} : { addCommitBytes }),
    ...(stateBytes === undefined ? {} : { stateBytes }),
    ...(blank.cost === undefined ? {} : { blankCost: blank.cost }),
    ...(full.cost === undefined ? {} : { fullCost: full.cost }),
    ...(hooks.keepState === undefined ? {} : { finalState: hooks.keepState(creator) }),
    ...(hooks.price === undefined ? {} : { prices }),
  };
}

/** 1 KiB messages from `from` to `to`: one at a time, then 64 in flight. Messages per second. */
async function messages<G, K>(impl: MlsImpl<G, K>, from: G, to: G, phase: (name: Phase, run: () => Promise<void>) => Promise<void>) {
  const data = new Uint8Array(1024).fill(7);
  // Warm-up until the JIT has settled (the first few hundred messages run at half speed), then measure steady state.
  const warmUntil = performance.now() + 300;
  for (let i = 0; i < 10 || performance.now() < warmUntil; i++) await impl.decrypt(to, await impl.encrypt(from, data));
  let count = 0;
  let elapsed = 0;
  await phase("messages", async () => {
    const start = performance.now();
    while (elapsed < MESSAGE_WINDOW_MS || count < 50) {
      const got = await impl.decrypt(to, await impl.encrypt(from, data));
      if (got.length !== data.length) throw new Error("wrong plaintext");
      count++;
      elapsed = performance.now() - start;
    }
  });

  // 64 in flight: batch k+1 is encrypted while batch k is decrypted.
  const many = async <T, U>(items: readonly T[], f: (x: T) => Promise<U>): Promise<U[]> => {
    if (impl.concurrent) return Promise.all(items.map(f));
    const out: U[] = [];
    for (const x of items) out.push(await f(x));
    return out;
  };
  const batch = Array.from({ length: IN_FLIGHT }, () => data);
  const round = async (pending: Uint8Array[]): Promise<Uint8Array[]> => {
    const [next, got] = await Promise.all([many(batch, (d) => impl.encrypt(from, d)), many(pending, (m) => impl.decrypt(to, m))]);
    if (got.length !== IN_FLIGHT || got.some((x) => x.length !== data.length)) throw new Error("wrong plaintext");
    return next;
  };
  let inFlight = await many(batch, (d) => impl.encrypt(from, d));
  const warmInFlightUntil = performance.now() + 300;
  for (let i = 0; i < 3 || performance.now() < warmInFlightUntil; i++) inFlight = await round(inFlight);
  let inFlightCount = 0;
  let inFlightElapsed = 0;
  await phase("messagesInFlight", async () => {
    const start = performance.now();
    while (inFlightElapsed < MESSAGE_WINDOW_MS || inFlightCount < 2 * IN_FLIGHT) {
      inFlight = await round(inFlight);
      inFlightCount += IN_FLIGHT;
      inFlightElapsed = performance.now() - start;
    }
  });
  await many(inFlight, (m) => impl.decrypt(to, m));
  return { perSecond: (1000 * count) / elapsed, inFlightPerSecond: (1000 * inFlightCount) / inFlightElapsed };
}
