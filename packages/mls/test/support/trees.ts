/**
 * Test helpers for ratchet trees: placeholder leaves, and reference
 * computations written straight from the RFC text (no caching, no tree
 * math shared with the implementation) to compare the cached results against.
 */
import { encode } from "../../src/codec/tls.js";
import type { CipherSuite } from "../../src/crypto/cipherSuite.js";
import { CredentialType, LeafNodeSource, NodeType } from "../../src/messages/enums.js";
import type { LeafNode } from "../../src/messages/leafNode.js";
import type { Node } from "../../src/messages/ratchetTreeNodes.js";
import { treeHashInputCodec } from "../../src/messages/treeHashInput.js";
import type { PublicRatchetTree } from "../../src/tree/ratchetTree.js";
import type { LeafIndex, NodeIndex } from "../../src/tree/treeMath.js";

/** A structurally valid LeafNode with keys derived from `n` (unsigned: for tree-shape tests only). */
export function fakeLeaf(n: number): LeafNode {
  const key = (tag: number): Uint8Array => {
    const k = new Uint8Array(32);
    k[0] = tag;
    new DataView(k.buffer).setUint32(1, n);
    return k;
  };
  return {
    encryptionKey: key(1),
    signatureKey: key(2),
    credential: { credentialType: CredentialType.basic, identity: new TextEncoder().encode(`member ${n}`) },
    capabilities: { versions: [1], cipherSuites: [1], extensions: [], proposals: [], credentials: [1] },
    leafNodeSource: LeafNodeSource.keyPackage,
    lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn },
    extensions: [],
    signature: new Uint8Array(64),
  };
}

/**
 * RFC 9420 §7.8 tree hash of a ratchet_tree node list, computed recursively
 * over the padded array by the subtree-root rule of §12.4.3.3.
 */
export function recomputedTreeHash(suite: CipherSuite, nodes: readonly (Node | undefined)[]): Uint8Array {
  let width = 1;
  while (width < nodes.length) width = 2 * width + 1;
  const hashRange = (lo: number, len: number): Uint8Array => {
    if (len === 1) {
      const n = nodes[lo];
      return suite.hash(encode(treeHashInputCodec, { nodeType: NodeType.leaf, leafIndex: (lo / 2) as LeafIndex, leafNode: n?.nodeType === NodeType.leaf ? n.leafNode : undefined }));
    }
    const half = (len - 1) / 2;
    const n = nodes[lo + half];
    const leftHash = hashRange(lo, half);
    const rightHash = hashRange(lo + half + 1, half);
    return suite.hash(encode(treeHashInputCodec, { nodeType: NodeType.parent, parentNode: n?.nodeType === NodeType.parent ? n.parentNode : undefined, leftHash, rightHash }));
  };
  return hashRange(0, width);
}

/** RFC 9420 §4.1.1 resolution, uncached, walking subtrees by index arithmetic. */
export function referenceResolution(tree: PublicRatchetTree, x: number): number[] {
  const n = tree.node(x as NodeIndex);
  if (x % 2 === 0) return n === undefined ? [] : [x];
  if (n !== undefined && n.nodeType === NodeType.parent) return [x, ...n.parentNode.unmergedLeaves.map((u) => 2 * u)];
  let k = 0;
  while (((x >> k) & 1) === 1) k++;
  return [...referenceResolution(tree, x - 2 ** (k - 1)), ...referenceResolution(tree, x + 2 ** (k - 1))];
}
