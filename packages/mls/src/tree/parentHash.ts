/**
 * Parent hashes (RFC 9420 §7.9): computing them along a new path and checking
 * that every non-blank parent of a tree is "parent-hash valid" (§7.9.2).
 */
import { bytesEqual } from "../codec/bytes.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { LeafNodeSource, NodeType } from "../messages/enums.js";
import type { ParentNode } from "../messages/ratchetTreeNodes.js";
import { parentHashInputWriter } from "../messages/treeHashInput.js";
import type { FilteredPathStep, PublicRatchetTree } from "./ratchetTree.js";
import { subtreeLeafRange, treeHashWithoutLeaves } from "./treeHash.js";
import { left, right, type NodeIndex } from "./treeMath.js";

const EMPTY = new Uint8Array(0);

/** Hash of ParentHashInput (§7.9): the parent hash of a node P with copath child S. */
export function parentHash(suite: CipherSuite, encryptionKey: Uint8Array, parentHashOfP: Uint8Array, originalSiblingTreeHash: Uint8Array): Uint8Array {
  return parentHashInputWriter({ encryptionKey, parentHash: parentHashOfP, originalSiblingTreeHash }).consume((b) => suite.hash(b));
}

/** The parent_hash fields of the nodes of a new path and of its leaf. */
export interface PathParentHashes {
  /** parent_hash of each filtered-direct-path node, leaf to root (the root's is empty). */
  nodeParentHashes: Uint8Array[];
  /** parent_hash for the committer's LeafNode (empty when the filtered direct path is empty). */
  leafParentHash: Uint8Array;
}

/**
 * Parent hashes for a path whose filtered direct path is `steps` and whose
 * new node public keys are `keys` (same order), computed root to leaf
 * (§7.9, §7.5). The new nodes have no unmerged leaves, so the original
 * sibling tree hash is the copath child's current tree hash, which the path
 * does not change: this may run before or after the path is merged.
 */
export function pathParentHashes(tree: PublicRatchetTree, steps: readonly FilteredPathStep[], keys: readonly Uint8Array[]): PathParentHashes {
  if (steps.length !== keys.length) throw new MlsError("INVALID_ARGUMENT", "one key per filtered path node");
  const nodeParentHashes = new Array<Uint8Array>(steps.length);
  let above: Uint8Array = EMPTY;
  for (let i = steps.length - 1; i >= 0; i--) {
    nodeParentHashes[i] = above;
    above = parentHash(tree.suite, keys[i]!, above, tree.nodeTreeHash(steps[i]!.copathChild));
  }
  return { nodeParentHashes, leafParentHash: above };
}

/** The parent_hash field of the node at x, or undefined when it has none (blank, or a leaf not from a commit). */
function parentHashField(tree: PublicRatchetTree, x: NodeIndex): Uint8Array | undefined {
  const n = tree.node(x);
  if (n === undefined) return undefined;
  if (n.nodeType === NodeType.parent) return n.parentNode.parentHash;
  return n.leafNode.leafNodeSource === LeafNodeSource.commit ? n.leafNode.parentHash : undefined;
}

/**
 * Whether some node D under child `c` of P (at `x`) carries P's parent hash
 * with copath child `s` (§7.9.2): D is in the resolution of c, the rest of
 * that resolution is exactly P's unmerged leaves under c, and D.parent_hash
 * equals the parent hash of P computed with the original tree hash of s.
 */
function hasValidChildLink(tree: PublicRatchetTree, p: ParentNode, unmerged: ReadonlySet<number>, c: NodeIndex, s: NodeIndex): boolean {
  const [lo, hi] = subtreeLeafRange(c);
  let unmergedUnderC = 0;
  for (const u of p.unmergedLeaves) if (u >= lo && u <= hi) unmergedUnderC++;
  const res = tree.resolution(c);
  if (res.length !== unmergedUnderC + 1) return false;
  // Every resolution entry but one must be an unmerged leaf of P; that one is D.
  let d: NodeIndex | undefined;
  for (const r of res) {
    if ((r & 1) === 0 && unmerged.has(r / 2)) continue;
    if (d !== undefined) return false;
    d = r;
  }
  if (d === undefined) return false;
  const field = parentHashField(tree, d);
  if (field === undefined) return false;
  const sibling = treeHashWithoutLeaves(tree, s, unmerged, tree.hashCache);
  return bytesEqual(field, parentHash(tree.suite, p.encryptionKey, p.parentHash, sibling));
}

/**
 * Checks that every non-blank parent node is parent-hash valid (§7.9.2,
 * "top down": exactly one descendant links to it). Throws
 * TREE_INVALID_PARENT_HASH naming the first node that fails.
 */
export function verifyParentHashes(tree: PublicRatchetTree): void {
  const width = tree.nodeCount;
  for (let x = 1; x < width; x += 2) {
    const p = tree.parentNode(x as NodeIndex);
    if (p === undefined) continue;
    const unmerged = new Set<number>(p.unmergedLeaves);
    const l = left(x as NodeIndex);
    const r = right(x as NodeIndex);
    const links = (hasValidChildLink(tree, p, unmerged, l, r) ? 1 : 0) + (hasValidChildLink(tree, p, unmerged, r, l) ? 1 : 0);
    if (links !== 1) throw new MlsError("TREE_INVALID_PARENT_HASH", `parent node ${x} is not parent-hash valid`);
  }
}
