/**
 * Tree hashes (RFC 9420 §7.8) and the "original" tree hash of a subtree with
 * some leaves taken out, which parent hashes need (§7.9).
 *
 * The functions work over the tree's node array and a per-node cache owned by
 * the tree: the tree clears the cache along a node's direct path whenever the
 * node changes, so after a commit only O(log n) hashes are recomputed.
 * Invariant kept by that rule: a cached hash implies cached children.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { NodeType } from "../messages/enums.js";
import type { Node, ParentNode } from "../messages/ratchetTreeNodes.js";
import { Writer } from "../codec/tls.js";
import { leafTreeHashInputWriter, parentTreeHashInputWriter } from "../messages/treeHashInput.js";
import { left, level, right, type LeafIndex, type NodeIndex } from "./treeMath.js";

/** What hashing needs to read from a tree. */
export interface TreeHashSource {
  readonly suite: CipherSuite;
  /** The node at `x`, undefined when blank. */
  node(x: NodeIndex): Node | undefined;
  /** Leaf x's encoded Node, when the source keeps it (saves decoding the leaf to re-encode it). */
  packedNode?(x: NodeIndex): Uint8Array | undefined;
}

/**
 * TreeHashInput of a leaf from its encoded Node (node_type || LeafNode):
 * node_type || uint32 leaf_index || optional<LeafNode> present || LeafNode (§7.8),
 * in a Writer to hash in place.
 */
function packedLeafHashInput(leafIndex: number, packed: Uint8Array): Writer {
  const w = new Writer(packed.length + 5);
  w.u8(NodeType.leaf);
  w.u32(leafIndex);
  w.u8(1);
  w.raw(packed.subarray(1));
  return w;
}

const hashWith =
  (src: TreeHashSource) =>
  (bytes: Uint8Array): Uint8Array =>
    src.suite.hash(bytes);

/** The tree's per-node hash cache (a ChunkedArray in PublicRatchetTree). */
export interface HashCache {
  get(x: number): Uint8Array | undefined;
  set(x: number, hash: Uint8Array): void;
}

/** Tree hash of node `x` (§7.8), served from and stored into `cache`. */
export function computeTreeHash(src: TreeHashSource, x: NodeIndex, cache: HashCache): Uint8Array {
  const cached = cache.get(x);
  if (cached !== undefined) return cached;
  let h: Uint8Array;
  if ((x & 1) === 0) {
    const packed = src.packedNode?.(x);
    if (packed !== undefined) h = packedLeafHashInput(x >>> 1, packed).consume(hashWith(src));
    else {
      const n = src.node(x);
      const leaf = n !== undefined && n.nodeType === NodeType.leaf ? n.leafNode : undefined;
      h = leafTreeHashInputWriter((x >>> 1) as LeafIndex, leaf).consume(hashWith(src));
    }
  } else {
    const l = computeTreeHash(src, left(x), cache);
    const r = computeTreeHash(src, right(x), cache);
    const n = src.node(x);
    const p = n !== undefined && n.nodeType === NodeType.parent ? n.parentNode : undefined;
    h = parentTreeHashInputWriter(p, l, r).consume(hashWith(src));
  }
  cache.set(x, h);
  return h;
}

/** The leaves under node x: [first, last] leaf indices. */
export function subtreeLeafRange(x: NodeIndex): [number, number] {
  const half = 2 ** level(x) - 1;
  return [(x - half) / 2, (x + half) / 2];
}

/**
 * Tree hash of node `x` in the tree where every leaf of `removed` is blanked
 * and dropped from the unmerged_leaves of every parent (§7.9:
 * original_sibling_tree_hash). Subtrees holding none of `removed` reuse the
 * cached hash, so the cost is O(|removed| log n) hashes.
 */
export function treeHashWithoutLeaves(src: TreeHashSource, x: NodeIndex, removed: ReadonlySet<number>, cache: HashCache): Uint8Array {
  const [lo, hi] = subtreeLeafRange(x);
  let touched = false;
  for (const l of removed) {
    if (l >= lo && l <= hi) {
      touched = true;
      break;
    }
  }
  if (!touched) return computeTreeHash(src, x, cache);
  if ((x & 1) === 0) return leafTreeHashInputWriter((x >>> 1) as LeafIndex, undefined).consume(hashWith(src));
  const l = treeHashWithoutLeaves(src, left(x), removed, cache);
  const r = treeHashWithoutLeaves(src, right(x), removed, cache);
  const n = src.node(x);
  let p: ParentNode | undefined;
  if (n !== undefined && n.nodeType === NodeType.parent) {
    p = n.parentNode;
    if (p.unmergedLeaves.some((u) => removed.has(u))) {
      p = { encryptionKey: p.encryptionKey, parentHash: p.parentHash, unmergedLeaves: p.unmergedLeaves.filter((u) => !removed.has(u)) };
    }
  }
  return parentTreeHashInputWriter(p, l, r).consume(hashWith(src));
}
