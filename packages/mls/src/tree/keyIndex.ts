/**
 * Key lookup over a ratchet tree: which node holds an encryption key, which
 * leaf a signature key (§7.3 uniqueness checks, §12.2 "already a member").
 *
 * Layered so that a tree clone (one per commit) costs O(changes) instead of
 * copying maps of every key in the group: `base` is shared between a tree and
 * its clones and never written once built; `added` holds the keys set since,
 * per tree. Entries are never removed when a node changes: every hit is checked
 * against the node it names, so a stale entry just misses. `added` is folded
 * into a fresh base when it grows, keeping each change O(1) amortised.
 */
import { bytesEqual, toHex } from "../codec/bytes.js";
import { NodeType } from "../messages/enums.js";
import type { Node } from "../messages/ratchetTreeNodes.js";
import type { LeafIndex, NodeIndex } from "./treeMath.js";

/** Encryption keys of nodes and signature keys of leaves, by hex. */
interface KeyMaps {
  readonly encryption: Map<string, NodeIndex>;
  readonly signature: Map<string, LeafIndex>;
}

const newKeyMaps = (): KeyMaps => ({ encryption: new Map(), signature: new Map() });

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
    private readonly base: KeyMaps,
    private readonly added: KeyMaps,
  ) {}

  /** An index of every non-blank node in `nodes`. */
  static build(nodes: readonly (Node | undefined)[]): KeyIndex {
    const base = newKeyMaps();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      if (n !== undefined) index(base, i as NodeIndex, n);
    }
    return new KeyIndex(base, newKeyMaps());
  }

  /**
   * The index for a clone of the tree: the same base, its own copy of the
   * additions. Returns undefined when the additions have grown to a sizeable
   * share of the base: the caller then rebuilds (folds) the index.
   */
  fork(): KeyIndex | undefined {
    if (this.added.encryption.size > Math.max(64, this.base.encryption.size >> 3)) return undefined;
    return new KeyIndex(this.base, { encryption: new Map(this.added.encryption), signature: new Map(this.added.signature) });
  }

  /** Node x now holds n; the entries of what it held before go stale. */
  noteSet(x: NodeIndex, n: Node | undefined): void {
    if (n !== undefined) index(this.added, x, n);
  }

  /** The node holding this encryption key, as `nodeAt` reads now. */
  findNode(encryptionKey: Uint8Array, nodeAt: NodeAt): NodeIndex | undefined {
    const hex = toHex(encryptionKey);
    const holds = (x: NodeIndex | undefined): x is NodeIndex => x !== undefined && sameKey(encryptionKeyOf(nodeAt(x)), encryptionKey);
    const a = this.added.encryption.get(hex);
    if (holds(a)) return a;
    const b = this.base.encryption.get(hex);
    return holds(b) ? b : undefined;
  }

  /** The leaf holding this signature key, as `nodeAt` reads now. */
  findLeaf(signatureKey: Uint8Array, nodeAt: NodeAt): LeafIndex | undefined {
    const hex = toHex(signatureKey);
    const holds = (l: LeafIndex | undefined): l is LeafIndex => l !== undefined && sameKey(signatureKeyOf(nodeAt((2 * l) as NodeIndex)), signatureKey);
    const a = this.added.signature.get(hex);
    if (holds(a)) return a;
    const b = this.base.signature.get(hex);
    return holds(b) ? b : undefined;
  }
}

function sameKey(held: Uint8Array | undefined, wanted: Uint8Array): boolean {
  return held !== undefined && bytesEqual(held, wanted);
}
