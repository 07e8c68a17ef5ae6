/**
 * Array-based tree math (RFC 9420 Appendix C, §4.1 / §7.1 terminology).
 *
 * Leaves sit at even node indices (leaf n at node 2n), parents at odd ones.
 * A tree with n leaves has 2(n-1)+1 nodes; RFC 9420 trees are always "full"
 * (the leaf count is a power of two, §7.7), so left/right never depend on n.
 *
 * Everything is plain integer arithmetic on uint32 values: `>>> 0` keeps
 * results unsigned so node indices up to 2^32 - 2 (2^31 leaves) work.
 */
import { MlsError } from "../errors.js";

declare const leafBrand: unique symbol;
declare const nodeBrand: unique symbol;

/** Index of a leaf among the leaves (the wire's `uint32 leaf_index`). */
export type LeafIndex = number & { readonly [leafBrand]: true };
/** Index of a node in the array representation of the tree. */
export type NodeIndex = number & { readonly [nodeBrand]: true };

/** The largest leaf count whose node indices still fit in a uint32. */
export const MAX_LEAVES = 2 ** 31;

function invalid(message: string): never {
  throw new MlsError("INVALID_ARGUMENT", message);
}

/** Brands a number as a leaf index (uint32). */
export function leafIndex(n: number): LeafIndex {
  if (!Number.isInteger(n) || n < 0 || n >= MAX_LEAVES) invalid(`invalid leaf index ${n}`);
  return n as LeafIndex;
}

/** Brands a number as a node index. */
export function nodeIndex(n: number): NodeIndex {
  if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) invalid(`invalid node index ${n}`);
  return n as NodeIndex;
}

/** Leaf n is node 2n (Appendix C). */
export function leafToNode(leaf: LeafIndex): NodeIndex {
  return (leaf * 2) as NodeIndex;
}

/** The leaf at an even node index; throws for a parent node. */
export function nodeToLeaf(node: NodeIndex): LeafIndex {
  if ((node & 1) !== 0) invalid(`node ${node} is not a leaf`);
  return (node / 2) as LeafIndex;
}

export function isLeaf(x: NodeIndex): boolean {
  return (x & 1) === 0;
}

/** floor(log2(x)), with log2(0) = 0 as in Appendix C. */
export function log2(x: number): number {
  return x === 0 ? 0 : 31 - Math.clz32(x);
}

/** Level of a node: leaves are 0, a parent is one more than its children. Equals the count of trailing 1 bits. */
export function level(x: NodeIndex): number {
  // Trailing ones of x are the trailing zeros of ~x; isolate the lowest set bit of ~x.
  const inv = ~x;
  return 31 - Math.clz32(inv & -inv);
}

/** The number of nodes needed for a tree with n leaves. */
export function nodeWidth(leafCount: number): number {
  return leafCount === 0 ? 0 : 2 * (leafCount - 1) + 1;
}

/** The root of a tree with n leaves. */
export function root(leafCount: number): NodeIndex {
  if (!Number.isInteger(leafCount) || leafCount < 1 || leafCount > MAX_LEAVES) invalid(`invalid leaf count ${leafCount}`);
  return (2 ** log2(nodeWidth(leafCount)) - 1) as NodeIndex;
}

/** The left child of a parent node. */
export function left(x: NodeIndex): NodeIndex {
  const k = level(x);
  if (k === 0) invalid(`leaf node ${x} has no children`);
  return ((x ^ (1 << (k - 1))) >>> 0) as NodeIndex;
}

/** The right child of a parent node. */
export function right(x: NodeIndex): NodeIndex {
  const k = level(x);
  if (k === 0) invalid(`leaf node ${x} has no children`);
  return ((x ^ (3 << (k - 1))) >>> 0) as NodeIndex;
}

/** Parent without the root check; callers in hot loops know x is below the root. */
function parentUnchecked(x: number): number {
  const k = level(x as NodeIndex);
  const b = (x >>> (k + 1)) & 1;
  return ((x | (1 << k)) ^ (b << (k + 1))) >>> 0;
}

/** The parent of a node in a tree with n leaves. */
export function parent(x: NodeIndex, leafCount: number): NodeIndex {
  const r = root(leafCount);
  if (x === r) invalid("the root node has no parent");
  if (x > 2 * r) invalid(`node ${x} is outside a tree of ${leafCount} leaves`);
  return parentUnchecked(x) as NodeIndex;
}

/** The other child of the node's parent. */
export function sibling(x: NodeIndex, leafCount: number): NodeIndex {
  const p = parent(x, leafCount);
  return x < p ? right(p) : left(p);
}

/** The direct path of a node, from its parent up to and including the root (§4.1). */
export function directPath(x: NodeIndex, leafCount: number): NodeIndex[] {
  const r = root(leafCount);
  const d: NodeIndex[] = [];
  if (x === r) return d;
  if (x > 2 * r) invalid(`node ${x} is outside a tree of ${leafCount} leaves`);
  let n: number = x;
  while (n !== r) {
    n = parentUnchecked(n);
    d.push(n as NodeIndex);
  }
  return d;
}

/** The copath of a node: the sibling of each node on the path from x to just below the root (§4.1). */
export function copath(x: NodeIndex, leafCount: number): NodeIndex[] {
  const r = root(leafCount);
  const d: NodeIndex[] = [];
  if (x === r) return d;
  if (x > 2 * r) invalid(`node ${x} is outside a tree of ${leafCount} leaves`);
  let n: number = x;
  while (n !== r) {
    const p = parentUnchecked(n);
    // The sibling is the other child of p: flip the bit that separates the two children.
    const k = level(p as NodeIndex);
    d.push((n < p ? (p ^ (3 << (k - 1))) >>> 0 : (p ^ (1 << (k - 1))) >>> 0) as NodeIndex);
    n = p;
  }
  return d;
}

/** Whether `ancestor` is `x` itself or lies on x's direct path (within the subtree spanned by `ancestor`). */
export function isAncestorOrSelf(ancestor: NodeIndex, x: NodeIndex): boolean {
  // The subtree under a node at level k covers the 2^(k+1) - 1 indices centred on it.
  const k = level(ancestor);
  const half = 2 ** k - 1;
  return x >= ancestor - half && x <= ancestor + half;
}

/** The lowest node whose subtree contains both x and y (Appendix C, common_ancestor_direct). */
export function commonAncestor(x: NodeIndex, y: NodeIndex): NodeIndex {
  // If one is an ancestor of the other it is the answer.
  const lx = level(x) + 1;
  const ly = level(y) + 1;
  if (lx <= ly && Math.floor(x / 2 ** ly) === Math.floor(y / 2 ** ly)) return y;
  if (ly <= lx && Math.floor(x / 2 ** lx) === Math.floor(y / 2 ** lx)) return x;
  // Otherwise strip low bits until the prefixes agree; the ancestor is prefix 0 1..1.
  let xn: number = x;
  let yn: number = y;
  let k = 0;
  while (xn !== yn) {
    xn >>>= 1;
    yn >>>= 1;
    k++;
  }
  return (xn * 2 ** k + 2 ** (k - 1) - 1) as NodeIndex;
}

/**
 * The parent of x in any tree where x is below the root. No root or bounds
 * check: for hot loops that stop at the root themselves.
 */
export function parentUnbounded(x: NodeIndex): NodeIndex {
  return parentUnchecked(x) as NodeIndex;
}
