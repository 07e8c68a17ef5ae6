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
 * KeyTable; the few additions since are Maps by the same seeded 32-bit key
 * hash, each hash naming every node set with it (a collision costs a
 * comparison, never a wrong answer).
 */
import { bytesEqual } from "../codec/bytes.js";
import { NodeType } from "../messages/enums.js";
import type { Node } from "../messages/ratchetTreeNodes.js";
import { hashKey, KeyTable } from "./keyTable.js";
import type { LeafIndex, NodeIndex } from "./treeMath.js";

/** The indices set under one key hash, oldest first (one number in the common case). */
type Slot = number | number[];

/** Encryption keys of nodes (to node indices) and signature keys of leaves (to leaf indices), by key hash. */
interface KeyMaps {
  readonly encryption: Map<number, Slot>;
  readonly signature: Map<number, Slot>;
}

/** Adds index x under hash h; a slot array is created here, so arrays of frozen layers are never written. */
function put(m: Map<number, Slot>, h: number, x: number): void {
  const had = m.get(h);
  if (had === undefined || had === x) m.set(h, x);
  else if (typeof had === "number") m.set(h, [had, x]);
  else if (had[had.length - 1] !== x) had.push(x);
}

/** The newest index under hash h for which `holds` is true. */
function findIn(m: Map<number, Slot>, h: number, holds: (x: number) => boolean): number | undefined {
  const slot = m.get(h);
  if (slot === undefined) return undefined;
  if (typeof slot === "number") return holds(slot) ? slot : undefined;
  for (let i = slot.length - 1; i >= 0; i--) if (holds(slot[i]!)) return slot[i];
  return undefined;
}

function putAll(to: Map<number, Slot>, from: Map<number, Slot>): void {
  for (const [h, slot] of from) {
    if (typeof slot === "number") put(to, h, slot);
    else for (const x of slot) put(to, h, x);
  }
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

/** Entries of the layers top..stop (stop excluded) merged into one above `stop`, newer entries over older ones. */
function merge(top: Layer, stop: Layer | undefined): Layer {
  const chain: Layer[] = [];
  for (let l: Layer | undefined = top; l !== stop; l = l!.below) chain.push(l!);
  const out = newLayer(stop);
  for (let i = chain.length - 1; i >= 0; i--) {
    putAll(out.encryption, chain[i]!.encryption);
    putAll(out.signature, chain[i]!.signature);
  }
  return out;
}

/**
 * A chain of at most two layers with the same entries: the bottom layer is
 * kept when it outweighs the rest (those are merged above it), so a large
 * layer is copied again only once the others have grown to half its size.
 */
function flatten(top: Layer): Layer {
  let bottom = top;
  while (bottom.below !== undefined) bottom = bottom.below;
  const rest = top.sizeBelow + top.encryption.size - bottom.encryption.size;
  return bottom !== top && bottom.encryption.size > 2 * rest ? merge(top, bottom) : merge(top, undefined);
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
    put(keys.encryption, hashKey(n.leafNode.encryptionKey), x);
    put(keys.signature, hashKey(n.leafNode.signatureKey), x / 2);
  } else {
    put(keys.encryption, hashKey(n.parentNode.encryptionKey), x);
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
    if (shared.sizeBelow + shared.encryption.size > Math.max(256, this.base.encryption.size >> 1)) return undefined;
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
    const h = hashKey(encryptionKey);
    const holds = (x: number): boolean => sameKey(encryptionKeyOf(nodeAt(x as NodeIndex)), encryptionKey);
    for (let l: Layer | undefined = this.top; l !== undefined; l = l.below) {
      const a = findIn(l.encryption, h, holds);
      if (a !== undefined) return a as NodeIndex;
    }
    return this.base.encryption.find(encryptionKey, holds) as NodeIndex | undefined;
  }

  /** The leaf holding this signature key, as `nodeAt` reads now. */
  findLeaf(signatureKey: Uint8Array, nodeAt: NodeAt): LeafIndex | undefined {
    const h = hashKey(signatureKey);
    const holds = (l: number): boolean => sameKey(signatureKeyOf(nodeAt((2 * l) as NodeIndex)), signatureKey);
    for (let l: Layer | undefined = this.top; l !== undefined; l = l.below) {
      const a = findIn(l.signature, h, holds);
      if (a !== undefined) return a as LeafIndex;
    }
    return this.base.signature.find(signatureKey, holds) as LeafIndex | undefined;
  }
}

function sameKey(held: Uint8Array | undefined, wanted: Uint8Array): boolean {
  return held !== undefined && bytesEqual(held, wanted);
}
