/**
 * Key lookup over a ratchet tree: which node holds an encryption key, which
 * leaf a signature key (§7.3 uniqueness checks, §12.2 "already a member").
 *
 * Layered so that a tree clone (one per commit) costs O(1) instead of
 * copying maps of every key in the group: `base` is shared between a tree and
 * its clones and never written once built; the keys set since sit in a chain
 * of small layers, newest first, of which a tree writes only its own top one
 * and shares the rest with the trees it was cloned from or into (a clone
 * freezes the top layer for both). Entries are never removed when a node
 * changes: every hit is checked against the node it names, so a stale entry
 * just misses. A long chain is flattened into one layer, and the layers are
 * folded into a fresh base when they grow, keeping each change O(1)
 * amortised. The base, which holds every key of the group, is a compact
 * KeyTable; the few additions since are Maps by hex.
 */
import { bytesEqual, toHex } from "../codec/bytes.js";
import { NodeType } from "../messages/enums.js";
import type { Node } from "../messages/ratchetTreeNodes.js";
import { KeyTable } from "./keyTable.js";
import type { LeafIndex, NodeIndex } from "./treeMath.js";

/** Encryption keys of nodes and signature keys of leaves, by hex. */
interface KeyMaps {
  readonly encryption: Map<string, NodeIndex>;
  readonly signature: Map<string, LeafIndex>;
}

/** The same, built once: encryption key -> node, signature key -> leaf. */
interface KeyTables {
  readonly encryption: KeyTable;
  readonly signature: KeyTable;
}

/** Keys set in one stretch of a tree's history; frozen once a clone shares it. */
interface Layer extends KeyMaps {
  /** The older layers, shared. */
  readonly below: Layer | undefined;
  readonly depth: number;
  /** Encryption entries here and below (repeats counted). */
  readonly sizeBelow: number;
}

const newLayer = (below: Layer | undefined): Layer => ({
  encryption: new Map(),
  signature: new Map(),
  below,
  depth: below === undefined ? 0 : below.depth + 1,
  sizeBelow: below === undefined ? 0 : below.sizeBelow + below.encryption.size,
});

/** Layers deeper than this are flattened into one on the next clone (lookups walk the chain). */
const MAX_DEPTH = 8;

/** The chain's entries in one layer, newer entries over older ones. */
function flatten(top: Layer): Layer {
  const chain: Layer[] = [];
  for (let l: Layer | undefined = top; l !== undefined; l = l.below) chain.push(l);
  const out = newLayer(undefined);
  for (let i = chain.length - 1; i >= 0; i--) {
    for (const [k, v] of chain[i]!.encryption) out.encryption.set(k, v);
    for (const [k, v] of chain[i]!.signature) out.signature.set(k, v);
  }
  return out;
}

/** The nodes of the tree the index serves, read at lookup time. */
export type NodeAt = (x: NodeIndex) => Node | undefined;

export function encryptionKeyOf(n: Node | undefined): Uint8Array | undefined {
  if (n === undefined) return undefined;
  return n.nodeType === NodeType.leaf ? n.leafNode.encryptionKey : n.parentNode.encryptionKey;
}

function signatureKeyOf(n: Node | undefined): Uint8Array | undefined {
  return n?.nodeType === NodeType.leaf ? n.leafNode.signatureKey : undefined;
}

function index(keys: KeyMaps, x: NodeIndex, n: Node): void {
  if (n.nodeType === NodeType.leaf) {
    keys.encryption.set(toHex(n.leafNode.encryptionKey), x);
    keys.signature.set(toHex(n.leafNode.signatureKey), (x / 2) as LeafIndex);
  } else {
    keys.encryption.set(toHex(n.parentNode.encryptionKey), x);
  }
}

export class KeyIndex {
  private constructor(
    private readonly base: KeyTables,
    /** This tree's own layer: the only one it writes. */
    private top: Layer,
  ) {}

  /** An index of every non-blank node in `nodes`. */
  static build(nodes: readonly (Node | undefined)[]): KeyIndex {
    const encryption: [Uint8Array, number][] = [];
    const signature: [Uint8Array, number][] = [];
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (n === undefined) continue;
      encryption.push([encryptionKeyOf(n)!, i]);
      const s = signatureKeyOf(n);
      if (s !== undefined) signature.push([s, i / 2]);
    }
    return new KeyIndex({ encryption: KeyTable.build(encryption), signature: KeyTable.build(signature) }, newLayer(undefined));
  }

  /**
   * The index for a clone of the tree: the same base and layers, and a new
   * top layer for each of the two trees. Returns undefined when the additions
   * have grown to a sizeable share of the base: the caller then rebuilds
   * (folds) the index.
   */
  fork(): KeyIndex | undefined {
    let shared = this.top;
    if (shared.sizeBelow + shared.encryption.size > Math.max(64, this.base.encryption.size >> 3)) return undefined;
    if (shared.encryption.size === 0 && shared.signature.size === 0) {
      // Nothing to freeze: this tree keeps writing its empty top layer, the clone starts above the layers below it.
      return new KeyIndex(this.base, newLayer(shared.below));
    }
    if (shared.depth >= MAX_DEPTH) shared = flatten(shared);
    this.top = newLayer(shared);
    return new KeyIndex(this.base, newLayer(shared));
  }

  /** Node x now holds n; the entries of what it held before go stale. */
  noteSet(x: NodeIndex, n: Node | undefined): void {
    if (n !== undefined) index(this.top, x, n);
  }

  /** The node holding this encryption key, as `nodeAt` reads now. */
  findNode(encryptionKey: Uint8Array, nodeAt: NodeAt): NodeIndex | undefined {
    const hex = toHex(encryptionKey);
    const holds = (x: NodeIndex | undefined): x is NodeIndex => x !== undefined && sameKey(encryptionKeyOf(nodeAt(x)), encryptionKey);
    for (let l: Layer | undefined = this.top; l !== undefined; l = l.below) {
      const a = l.encryption.get(hex);
      if (holds(a)) return a;
    }
    return this.base.encryption.find(encryptionKey, (x) => holds(x as NodeIndex)) as NodeIndex | undefined;
  }

  /** The leaf holding this signature key, as `nodeAt` reads now. */
  findLeaf(signatureKey: Uint8Array, nodeAt: NodeAt): LeafIndex | undefined {
    const hex = toHex(signatureKey);
    const holds = (l: LeafIndex | undefined): l is LeafIndex => l !== undefined && sameKey(signatureKeyOf(nodeAt((2 * l) as NodeIndex)), signatureKey);
    for (let l: Layer | undefined = this.top; l !== undefined; l = l.below) {
      const a = l.signature.get(hex);
      if (holds(a)) return a;
    }
    return this.base.signature.find(signatureKey, (l) => holds(l as LeafIndex)) as LeafIndex | undefined;
  }
}

function sameKey(held: Uint8Array | undefined, wanted: Uint8Array): boolean {
  return held !== undefined && bytesEqual(held, wanted);
}
