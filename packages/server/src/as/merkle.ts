/**
 * RFC 9162 §2.1 Merkle tree computations over stored complete subtrees.
 *
 * The log stores the hash of every perfect, aligned subtree ("node (level,
 * index)" covers leaves [index * 2^level, (index + 1) * 2^level)). Every node
 * of the RFC's tree for any size n is either such a perfect subtree or lies on
 * the right edge and is rebuilt from perfect ones, so roots, audit paths and
 * consistency proofs for any past size need only O(log n) stored hashes.
 *
 * The algorithms are written once, synchronously, against a `NodeSource`; the
 * async wrapper first runs them against a recording source to learn which
 * stored nodes they need, fetches those in one query, then runs them for real.
 */
import { hashChildren, splitPoint, type HashFn } from "@conclave/api";

export interface NodeKey {
  readonly level: number;
  readonly index: number;
}

/** Hash of the perfect subtree (level, index). */
export type NodeSource = (level: number, index: number) => Uint8Array;

function perfectLevel(lo: number, hi: number): number | undefined {
  const n = hi - lo;
  let level = 0;
  let size = 1;
  while (size < n) {
    size *= 2;
    level++;
  }
  return size === n && lo % size === 0 ? level : undefined;
}

/** MTH(D[lo:hi]) for a range that is a node of the tree (lo aligned as RFC 9162 splits make it). */
export function subtreeHash(h: HashFn, node: NodeSource, lo: number, hi: number): Uint8Array {
  const level = perfectLevel(lo, hi);
  if (level !== undefined) return node(level, lo / 2 ** level);
  const k = splitPoint(hi - lo);
  return hashChildren(h, subtreeHash(h, node, lo, lo + k), subtreeHash(h, node, lo + k, hi));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[lo:hi]) with m relative to lo. */
export function inclusionPath(h: HashFn, node: NodeSource, m: number, lo: number, hi: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (m: number, lo: number, hi: number): void => {
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    if (m < k) {
      walk(m, lo, lo + k);
      out.push(subtreeHash(h, node, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      out.push(subtreeHash(h, node, lo, lo + k));
    }
  };
  walk(m, lo, hi);
  return out;
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) for 0 < m < n. */
export function consistencyPath(h: HashFn, node: NodeSource, m: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const sub = (m: number, lo: number, hi: number, b: boolean): void => {
    if (m === hi - lo) {
      if (!b) out.push(subtreeHash(h, node, lo, hi));
      return;
    }
    const k = splitPoint(hi - lo);
    if (m <= k) {
      sub(m, lo, lo + k, b);
      out.push(subtreeHash(h, node, lo + k, hi));
    } else {
      sub(m - k, lo + k, hi, false);
      out.push(subtreeHash(h, node, lo, lo + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** The perfect nodes created when the leaf at `index` is appended, given its leaf hash and
 * the left siblings it completes (keys from `completedLeftSiblings`). */
export function completedLeftSiblings(index: number): NodeKey[] {
  const keys: NodeKey[] = [];
  let level = 1;
  let span = 2;
  while ((index + 1) % span === 0) {
    const j = (index + 1) / span - 1; // new node (level, j) = H(node(level-1, 2j), node(level-1, 2j+1))
    keys.push({ level: level - 1, index: 2 * j });
    level++;
    span *= 2;
  }
  return keys;
}

export function newNodesForAppend(h: HashFn, index: number, leafHash: Uint8Array, node: NodeSource): { level: number; index: number; hash: Uint8Array }[] {
  const out = [{ level: 0, index, hash: leafHash }];
  let right = leafHash;
  for (const left of completedLeftSiblings(index)) {
    right = hashChildren(h, node(left.level, left.index), right);
    out.push({ level: left.level + 1, index: left.index / 2, hash: right });
  }
  return out;
}

const keyOf = (level: number, index: number): string => `${level}:${index}`;

/**
 * Runs `compute` against stored nodes: a first pass with a dummy hash records
 * which nodes it reads, `fetch` loads them, the second pass computes.
 */
export async function withStoredNodes<T>(
  h: HashFn,
  fetch: (keys: NodeKey[]) => Promise<readonly { level: number; index: number; hash: Uint8Array }[]>,
  compute: (h: HashFn, node: NodeSource) => T,
  known: readonly { level: number; index: number; hash: Uint8Array }[] = [],
): Promise<T> {
  const have = new Map<string, Uint8Array>();
  for (const n of known) have.set(keyOf(n.level, n.index), n.hash);
  const wanted = new Map<string, NodeKey>();
  const dummy = new Uint8Array(32);
  compute(
    () => dummy,
    (level, index) => {
      const k = keyOf(level, index);
      if (!have.has(k)) wanted.set(k, { level, index });
      return dummy;
    },
  );
  if (wanted.size > 0) for (const n of await fetch([...wanted.values()])) have.set(keyOf(n.level, n.index), n.hash);
  return compute(h, (level, index) => {
    const v = have.get(keyOf(level, index));
    if (v === undefined) throw new Error(`transparency log: node ${level}:${index} missing from storage`);
    return v;
  });
}
