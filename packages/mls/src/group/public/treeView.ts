/**
 * Views of the ratchet tree a DS hands out (draft-robert-mls-delivery-service
 * "group metadata assistance", draft-ietf-mls-partial "Membership Proofs"):
 * the whole tree, or for one leaf a membership proof (its direct path nodes
 * and its copath's tree hashes), the resolution of each copath node (the
 * public keys an UpdatePath from that leaf encrypts to) and the leaves.
 *
 * A client checks the proof against the tree hash it learns from a signed
 * GroupInfo or its key schedule (verifyMembershipProof); the direct path and
 * the leaf are then authenticated. Resolution nodes and other leaves are not
 * covered by the proof alone (leaves carry their own signatures, §7.2).
 */
import { bytesEqual } from "../../codec/bytes.js";
import { optional, vector, opaque, type Codec } from "../../codec/tls.js";
import type { CipherSuite } from "../../crypto/cipherSuite.js";
import { MlsError } from "../../errors.js";
import { NodeType } from "../../messages/enums.js";
import { leafNodeCodec, type LeafNode } from "../../messages/leafNode.js";
import { nodeCodec, type Node } from "../../messages/ratchetTreeNodes.js";
import { leafTreeHashInputBytes, parentTreeHashInputBytes } from "../../messages/treeHashInput.js";
import type { PublicRatchetTree } from "../../tree/ratchetTree.js";
import { leafIndex as toLeafIndex, MAX_LEAVES, parent, root, sibling, type LeafIndex, type NodeIndex } from "../../tree/treeMath.js";

/** draft-ietf-mls-partial MembershipProof: the leaf's direct path nodes (leaf and root included) and its copath's tree hashes, leaf upwards. */
export interface MembershipProof {
  readonly leafIndex: LeafIndex;
  readonly nLeaves: number;
  readonly directPathNodes: readonly (Node | undefined)[];
  readonly copathHashes: readonly Uint8Array[];
}

/** TLS codec of {@link MembershipProof}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const membershipProofCodec: Codec<MembershipProof> = {
  encode(w, p) {
    w.u32(p.leafIndex);
    w.u32(p.nLeaves);
    vector(optional(nodeCodec)).encode(w, [...p.directPathNodes]);
    vector(opaque).encode(w, [...p.copathHashes]);
  },
  decode(r) {
    const leafIndex = r.u32() as LeafIndex;
    const nLeaves = r.u32();
    return { leafIndex, nLeaves, directPathNodes: vector(optional(nodeCodec)).decode(r), copathHashes: vector(opaque).decode(r) };
  },
};

/** Builds the membership proof of `leaf` from the full tree. */
export function membershipProof(tree: PublicRatchetTree, leaf: LeafIndex): MembershipProof {
  if (!tree.hasLeaf(leaf)) throw new MlsError("INVALID_ARGUMENT", `leaf ${leaf} is outside the tree`);
  const n = tree.leafCount;
  const top = root(n);
  let x = (2 * leaf) as NodeIndex;
  const directPathNodes: (Node | undefined)[] = [tree.node(x)];
  const copathHashes: Uint8Array[] = [];
  while (x !== top) {
    copathHashes.push(tree.nodeTreeHash(sibling(x, n)));
    x = parent(x, n);
    directPathNodes.push(tree.node(x));
  }
  return { leafIndex: leaf, nLeaves: n, directPathNodes, copathHashes };
}

/** The root tree hash a membership proof stands for (§7.8 recomputed along the path). @throws MlsError `TREE_INVALID_STRUCTURE` (a malformed proof). */
export function membershipProofTreeHash(suite: CipherSuite, proof: MembershipProof): Uint8Array {
  const n = proof.nLeaves;
  if (n < 1 || n > MAX_LEAVES || (n & (n - 1)) !== 0) throw new MlsError("TREE_INVALID_STRUCTURE", `n_leaves ${n} is not a power of two`);
  if (proof.leafIndex >= n) throw new MlsError("TREE_INVALID_STRUCTURE", "the leaf is outside the tree");
  const depth = Math.log2(n);
  if (proof.directPathNodes.length !== depth + 1 || proof.copathHashes.length !== depth) {
    throw new MlsError("TREE_INVALID_STRUCTURE", "a membership proof has one node per level and one copath hash per level below the root");
  }
  const leafNode = proof.directPathNodes[0];
  if (leafNode !== undefined && leafNode.nodeType !== NodeType.leaf) throw new MlsError("TREE_INVALID_STRUCTURE", "the first node of a membership proof is a leaf");
  let h = suite.hash(leafTreeHashInputBytes(proof.leafIndex, leafNode?.leafNode));
  let x = (2 * proof.leafIndex) as NodeIndex;
  for (let i = 0; i < depth; i++) {
    const p = parent(x, n);
    const node = proof.directPathNodes[i + 1];
    if (node !== undefined && node.nodeType !== NodeType.parent) throw new MlsError("TREE_INVALID_STRUCTURE", "a direct path node above the leaf is a parent");
    const s = proof.copathHashes[i]!;
    h = suite.hash(x < p ? parentTreeHashInputBytes(node?.parentNode, h, s) : parentTreeHashInputBytes(node?.parentNode, s, h));
    x = p;
  }
  return h;
}

/** Whether `proof` is valid relative to `treeHash` (draft-ietf-mls-partial); a malformed proof is false (never a thrown MlsError). */
export function verifyMembershipProof(suite: CipherSuite, proof: MembershipProof, treeHash: Uint8Array): boolean {
  try {
    return bytesEqual(membershipProofTreeHash(suite, proof), treeHash);
  } catch (e) {
    if (e instanceof MlsError) return false;
    throw e;
  }
}

/** A node with its index in the array representation (Appendix C). */
export interface IndexedNode {
  readonly nodeIndex: NodeIndex;
  readonly node: Node;
}

const indexedNodeCodec: Codec<IndexedNode> = {
  encode(w, v) {
    w.u32(v.nodeIndex);
    nodeCodec.encode(w, v.node);
  },
  decode(r) {
    const nodeIndex = r.u32() as NodeIndex;
    return { nodeIndex, node: nodeCodec.decode(r) };
  },
};

/** One leaf's partial view: what it needs to commit (encrypt to its copath) and to know the members. */
export interface PartialTreeView {
  readonly proof: MembershipProof;
  /** The resolution of each copath node, leaf upwards (same order as proof.copathHashes). */
  readonly copathResolutions: readonly (readonly IndexedNode[])[];
  /** Every non-blank leaf. */
  readonly leaves: readonly { readonly leafIndex: LeafIndex; readonly leafNode: LeafNode }[];
}

/** TLS codec of {@link PartialTreeView}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const partialTreeViewCodec: Codec<PartialTreeView> = {
  encode(w, v) {
    membershipProofCodec.encode(w, v.proof);
    vector(vector(indexedNodeCodec)).encode(
      w,
      v.copathResolutions.map((r) => [...r]),
    );
    w.lengthPrefixed((inner) => {
      for (const l of v.leaves) {
        inner.u32(l.leafIndex);
        leafNodeCodec.encode(inner, l.leafNode);
      }
    });
  },
  decode(r) {
    const proof = membershipProofCodec.decode(r);
    const copathResolutions = vector(vector(indexedNodeCodec)).decode(r);
    const leaves = r.lengthPrefixed((inner, end) => {
      const out: { leafIndex: LeafIndex; leafNode: LeafNode }[] = [];
      while (inner.offset < end) out.push({ leafIndex: toLeafIndex(inner.u32()), leafNode: leafNodeCodec.decode(inner) });
      return out;
    });
    return { proof, copathResolutions, leaves };
  },
};

/** The partial view of `leaf` (its membership proof, resolved copath, the leaves). */
export function partialTreeView(tree: PublicRatchetTree, leaf: LeafIndex): PartialTreeView {
  const proof = membershipProof(tree, leaf);
  const n = tree.leafCount;
  const top = root(n);
  const copathResolutions: IndexedNode[][] = [];
  for (let x = (2 * leaf) as NodeIndex; x !== top; x = parent(x, n)) {
    copathResolutions.push(tree.resolution(sibling(x, n)).map((i) => ({ nodeIndex: i, node: tree.node(i)! })));
  }
  return { proof, copathResolutions, leaves: tree.members() };
}
