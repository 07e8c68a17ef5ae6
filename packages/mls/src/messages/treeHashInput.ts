/**
 * RFC 9420 §7.8 TreeHashInput (LeafNodeHashInput / ParentNodeHashInput) and
 * §7.9 ParentHashInput: the structs hashed for tree hashes and parent hashes.
 */
import { Writer, type Codec, type Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { NodeType } from "./enums.js";
import { leafNodeCodec, type LeafNode } from "./leafNode.js";
import { parentNodeCodec, type ParentNode } from "./ratchetTreeNodes.js";

export interface LeafNodeHashInput {
  leafIndex: LeafIndex;
  /** Absent for a blank leaf. */
  leafNode?: LeafNode;
}

export interface ParentNodeHashInput {
  /** Absent for a blank parent. */
  parentNode?: ParentNode;
  leftHash: Uint8Array;
  rightHash: Uint8Array;
}

function writeLeafInput(w: Writer, v: LeafNodeHashInput): void {
  writeLeafFields(w, v.leafIndex, v.leafNode);
}

/** LeafNodeHashInput from its fields (a tree hash writes one per leaf: no struct object for each). */
function writeLeafFields(w: Writer, leafIndex: LeafIndex, leafNode: LeafNode | undefined): void {
  w.u32(leafIndex);
  if (leafNode === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    leafNodeCodec.encode(w, leafNode);
  }
}

function presence(r: Reader): boolean {
  const p = r.u8();
  if (p > 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${p}`);
  return p === 1;
}

function readLeafInput(r: Reader): LeafNodeHashInput {
  const leafIndex = r.u32() as LeafIndex;
  return presence(r) ? { leafIndex, leafNode: leafNodeCodec.decode(r) } : { leafIndex };
}

function writeParentInput(w: Writer, v: ParentNodeHashInput): void {
  writeParentFields(w, v.parentNode, v.leftHash, v.rightHash);
}

/** ParentNodeHashInput from its fields (one per parent of a tree hash: no struct object for each). */
function writeParentFields(w: Writer, parentNode: ParentNode | undefined, leftHash: Uint8Array, rightHash: Uint8Array): void {
  if (parentNode === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    parentNodeCodec.encode(w, parentNode);
  }
  w.opaque(leftHash);
  w.opaque(rightHash);
}

function readParentInput(r: Reader): ParentNodeHashInput {
  const parentNode = presence(r) ? parentNodeCodec.decode(r) : undefined;
  const leftHash = r.opaque();
  const rightHash = r.opaque();
  return parentNode === undefined ? { leftHash, rightHash } : { parentNode, leftHash, rightHash };
}

export const leafNodeHashInputCodec: Codec<LeafNodeHashInput> = { encode: writeLeafInput, decode: readLeafInput };
export const parentNodeHashInputCodec: Codec<ParentNodeHashInput> = { encode: writeParentInput, decode: readParentInput };

/** TreeHashInput with the selected struct's fields beside nodeType. */
export type TreeHashInput = ({ nodeType: typeof NodeType.leaf } & LeafNodeHashInput) | ({ nodeType: typeof NodeType.parent } & ParentNodeHashInput);

export const treeHashInputCodec: Codec<TreeHashInput> = {
  encode(w, v) {
    w.u8(v.nodeType);
    if (v.nodeType === NodeType.leaf) writeLeafInput(w, v);
    else if (v.nodeType === NodeType.parent) writeParentInput(w, v);
    else throw new MlsError("ENCODE_INVALID", `unknown node type ${(v as { nodeType: number }).nodeType}`);
  },
  decode(r) {
    const t = r.u8();
    if (t === NodeType.leaf) return { nodeType: t, ...readLeafInput(r) };
    if (t === NodeType.parent) return { nodeType: t, ...readParentInput(r) };
    throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown NodeType ${t}`);
  },
};

/** A Writer holding the TreeHashInput of a leaf (§7.8): hash it in place with Writer.consume. */
export function leafTreeHashInputWriter(leafIndex: LeafIndex, leafNode: LeafNode | undefined): Writer {
  const w = new Writer(leafNode === undefined ? 8 : 512);
  w.u8(NodeType.leaf);
  writeLeafFields(w, leafIndex, leafNode);
  return w;
}

/** TreeHashInput bytes of a leaf (hash them for the leaf's tree hash). */
export function leafTreeHashInputBytes(leafIndex: LeafIndex, leafNode: LeafNode | undefined): Uint8Array {
  return leafTreeHashInputWriter(leafIndex, leafNode).finish();
}

/** A Writer holding the TreeHashInput of a parent (§7.8): hash it in place with Writer.consume. */
export function parentTreeHashInputWriter(parentNode: ParentNode | undefined, leftHash: Uint8Array, rightHash: Uint8Array): Writer {
  const w = new Writer(256);
  w.u8(NodeType.parent);
  writeParentFields(w, parentNode, leftHash, rightHash);
  return w;
}

/** TreeHashInput bytes of a parent (hash them for the parent's tree hash). */
export function parentTreeHashInputBytes(parentNode: ParentNode | undefined, leftHash: Uint8Array, rightHash: Uint8Array): Uint8Array {
  return parentTreeHashInputWriter(parentNode, leftHash, rightHash).finish();
}

export interface ParentHashInput {
  encryptionKey: Uint8Array;
  parentHash: Uint8Array;
  originalSiblingTreeHash: Uint8Array;
}

export const parentHashInputCodec: Codec<ParentHashInput> = {
  encode(w, v) {
    w.opaque(v.encryptionKey);
    w.opaque(v.parentHash);
    w.opaque(v.originalSiblingTreeHash);
  },
  decode(r) {
    const encryptionKey = r.opaque();
    const parentHash = r.opaque();
    return { encryptionKey, parentHash, originalSiblingTreeHash: r.opaque() };
  },
};

/** A Writer holding a ParentHashInput (§7.9): hash it in place with Writer.consume. */
export function parentHashInputWriter(v: ParentHashInput): Writer {
  const w = new Writer(v.encryptionKey.length + v.parentHash.length + v.originalSiblingTreeHash.length + 12);
  parentHashInputCodec.encode(w, v);
  return w;
}
