/**
 * RFC 9420 §7.1 ParentNode, §12.4.3.3 Node and the `ratchet_tree` extension
 * value: optional<Node> ratchet_tree<V>, the tree's nodes in array (in-order)
 * order, `undefined` for a blank node.
 */
import type { Codec, Reader, Writer } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { NodeType } from "./enums.js";
import { leafNodeCodec, type LeafNode } from "./leafNode.js";

export interface ParentNode {
  encryptionKey: Uint8Array;
  parentHash: Uint8Array;
  /** Leaf indices, increasing (RFC 9420 §7.1; ordering is checked by tree validation, not here). */
  unmergedLeaves: LeafIndex[];
}

export const parentNodeCodec: Codec<ParentNode> = {
  encode(w, p) {
    w.opaque(p.encryptionKey);
    w.opaque(p.parentHash);
    w.varint(p.unmergedLeaves.length * 4);
    for (const l of p.unmergedLeaves) w.u32(l);
  },
  decode(r) {
    const encryptionKey = r.opaque();
    const parentHash = r.opaque();
    const unmergedLeaves = r.lengthPrefixed((inner, end) => {
      const out: LeafIndex[] = [];
      while (inner.offset < end) out.push(inner.u32() as LeafIndex);
      return out;
    });
    return { encryptionKey, parentHash, unmergedLeaves };
  },
};

export type Node = { nodeType: typeof NodeType.leaf; leafNode: LeafNode } | { nodeType: typeof NodeType.parent; parentNode: ParentNode };

export const nodeCodec: Codec<Node> = {
  encode(w, n) {
    w.u8(n.nodeType);
    if (n.nodeType === NodeType.leaf) leafNodeCodec.encode(w, n.leafNode);
    else if (n.nodeType === NodeType.parent) parentNodeCodec.encode(w, n.parentNode);
    else throw new MlsError("ENCODE_INVALID", `unknown node type ${(n as { nodeType: number }).nodeType}`);
  },
  decode(r) {
    const t = r.u8();
    if (t === NodeType.leaf) return { nodeType: NodeType.leaf, leafNode: leafNodeCodec.decode(r) };
    if (t === NodeType.parent) return { nodeType: NodeType.parent, parentNode: parentNodeCodec.decode(r) };
    throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown NodeType ${t}`);
  },
};

/** The `ratchet_tree` extension value: node i of the array-based tree, undefined when blank. */
export type RatchetTree = (Node | undefined)[];

function writeTree(w: Writer, nodes: RatchetTree): void {
  // RFC 9420 §12.4.3.3: the sender MUST NOT include blank nodes after the last non-blank one.
  if (nodes.length === 0 || nodes[nodes.length - 1] === undefined) {
    throw new MlsError("ENCODE_INVALID", "ratchet_tree must end with a non-blank node (strip trailing blanks)");
  }
  w.lengthPrefixed((inner) => {
    for (const n of nodes) {
      if (n === undefined) {
        inner.u8(0);
      } else {
        inner.u8(1);
        nodeCodec.encode(inner, n);
      }
    }
  });
}

function readTree(r: Reader): RatchetTree {
  const nodes = r.lengthPrefixed((inner, end) => {
    const out: RatchetTree = [];
    while (inner.offset < end) {
      const present = inner.u8();
      if (present === 0) out.push(undefined);
      else if (present === 1) out.push(nodeCodec.decode(inner));
      else throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
    }
    return out;
  });
  // RFC 9420 §12.4.3.3: "The receiver MUST check that the last node in ratchet_tree is non-blank".
  if (nodes.length === 0 || nodes[nodes.length - 1] === undefined) {
    throw new MlsError("DECODE_INVALID", "ratchet_tree is empty or ends with a blank node");
  }
  return nodes;
}

/**
 * optional<Node> ratchet_tree<V>. Decoding enforces the one syntactic rule of
 * §12.4.3.3 (last node non-blank); padding to 2^(d+1)-1 nodes, parity of
 * leaf/parent positions and hashes are the tree's job.
 */
export const ratchetTreeCodec: Codec<RatchetTree> = { encode: writeTree, decode: readTree };
