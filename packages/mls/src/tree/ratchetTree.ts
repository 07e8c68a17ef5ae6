/**
 * The public ratchet tree (RFC 9420 §4, §7): an array of optional nodes in
 * the array representation of Appendix C (leaf n at node 2n), always holding
 * 2^d leaves (§7.7), with blank nodes as `undefined`.
 *
 * Nodes are immutable values: every change replaces a node, and every
 * replacement clears the cached tree hashes and resolutions of that node and
 * its direct path (the only caches it can affect). The per-node arrays are
 * ChunkedArrays, copied on write, so `clone()` is cheap enough to take a
 * provisional tree per commit even at 10,000 members.
 *
 * Leaves are kept packed: as the bytes of their encoded Node (views of one
 * buffer for a decoded tree), decoded when read. A decoded LeafNode is a dozen
 * objects and views, ~1.2 KB of heap for ~180 bytes of encoding; a packed leaf
 * costs its bytes and one view, and its encoding is what the ratchet_tree
 * extension and the leaf's tree hash need anyway. A leaf set as an object
 * (an add, an update) is packed the next time the tree is encoded.
 *
 * Private keys are not here: see PrivateTreeKeys in treeKem.ts.
 */
import { asDecodeError, encode, Reader, varint } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { NodeType } from "../messages/enums.js";
import type { LeafNode } from "../messages/leafNode.js";
import { nodeCodec, ratchetTreeCodec, type Node, type ParentNode, type RatchetTree } from "../messages/ratchetTreeNodes.js";
import { PackedHashes } from "./packedHashes.js";
import { CredentialTally, type CredentialTypes } from "./credentialTally.js";
import { ChunkedArray } from "./chunkedArray.js";
import { KeyIndex } from "./keyIndex.js";
import { computeTreeHash, type HashCache } from "./treeHash.js";
import { left, leafIndex, level, MAX_LEAVES, nodeWidth, parentUnbounded, right, root, type LeafIndex, type NodeIndex } from "./treeMath.js";

const EMPTY: readonly NodeIndex[] = Object.freeze([]);

/** A member of the group: a non-blank leaf. */
export interface Member {
  leafIndex: LeafIndex;
  leafNode: LeafNode;
}

/** A node of a filtered direct path with the child of it that lies on the copath (§4.1.2). */
export interface FilteredPathStep {
  node: NodeIndex;
  copathChild: NodeIndex;
}

const parentOf = (x: number): number => parentUnbounded(x as NodeIndex);

/** How many unpacked leaves a tree keeps (#node). */
const UNPACKED_KEPT = 32;

/** A node as stored: a leaf may be packed (its encoded Node). */
type Entry = Node | Uint8Array;

/** A packed leaf's Node; its byte fields are views of the packed bytes (never written). */
function unpack(e: Entry | undefined): Node | undefined {
  if (!(e instanceof Uint8Array)) return e;
  const r = new Reader(e, true);
  const n = nodeCodec.decode(r);
  r.expectEnd();
  return n;
}

/**
 * The `ratchet_tree` extension value (optional<Node> ratchet_tree<V>), each
 * leaf kept as the view of its bytes in one private copy of `bytes`: the
 * leaves are decoded once here, to check them, and then dropped.
 */
function decodePackedTree(bytes: Uint8Array): (Entry | undefined)[] {
  const r = new Reader(bytes.slice(), true);
  try {
    const out = r.lengthPrefixed((inner, end) => {
      const nodes: (Entry | undefined)[] = [];
      while (inner.offset < end) {
        const present = inner.u8();
        if (present === 0) {
          nodes.push(undefined);
          continue;
        }
        if (present !== 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
        const start = inner.offset;
        const n = nodeCodec.decode(inner);
        nodes.push(n.nodeType === NodeType.leaf ? inner.readSince(start) : n);
      }
      return nodes;
    });
    r.expectEnd();
    // RFC 9420 §12.4.3.3: "The receiver MUST check that the last node in ratchet_tree is non-blank".
    if (out.length === 0 || out[out.length - 1] === undefined) throw new MlsError("DECODE_INVALID", "ratchet_tree is empty or ends with a blank node");
    return out;
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** The public part of a ratchet tree (RFC 9420 §4, §7): leaves, parents, hashes; no private keys. */
export class PublicRatchetTree {
  /** The cipher suite whose hash the tree hashes use. */
  readonly suite: CipherSuite;
  #leafCount: number;
  #nodes: ChunkedArray<Entry>;
  #hashes: PackedHashes;
  #resolutions: ChunkedArray<readonly NodeIndex[]>;
  #keys: KeyIndex | undefined;
  #credentials: CredentialTally | undefined;
  /** Encoded Node (§12.4.3.3) of each node, filled on first encode: a commit re-sends the tree with only its path changed. */
  #encoded: ChunkedArray<Uint8Array>;
  /**
   * Recently unpacked leaves (see #node), shared with the tree's clones: an
   * entry is used only while the node still holds the bytes it came from, so
   * a tree never reads a leaf another tree changed, and a commit's new tree
   * does not decode again the leaves the old one just read.
   */
  #unpacked = new Map<number, { from: Uint8Array; node: Node }>();
  /** #node as a function, made once per tree: key lookups (several per new member) pass it to the key index. */
  readonly #nodeAt = (x: number): Node | undefined => this.#node(x);
  /** No leaf below this index is blank (a lower bound for leftmostBlankLeaf). */
  #blankHint = 0;

  private constructor(
    suite: CipherSuite,
    leafCount: number,
    nodes: ChunkedArray<Entry>,
    caches: { hashes: PackedHashes; resolutions: ChunkedArray<readonly NodeIndex[]>; encoded: ChunkedArray<Uint8Array> } | undefined,
    keys: KeyIndex | undefined,
  ) {
    this.suite = suite;
    this.#leafCount = leafCount;
    this.#nodes = nodes;
    this.#hashes = caches?.hashes ?? new PackedHashes(suite.params.nh, nodes.length);
    this.#resolutions = caches?.resolutions ?? new ChunkedArray(nodes.length);
    this.#encoded = caches?.encoded ?? new ChunkedArray(nodes.length);
    this.#keys = keys;
  }

  /** A one-member tree (group creation, §11). */
  static create(suite: CipherSuite, leaf: LeafNode): PublicRatchetTree {
    return new PublicRatchetTree(suite, 1, ChunkedArray.from<Entry>([{ nodeType: NodeType.leaf, leafNode: leaf }]), undefined, undefined);
  }

  /**
   * A tree from the `ratchet_tree` extension's node list (§12.4.3.3): padded
   * with blanks to 2^(d+1)-1 nodes; leaves must sit at even indices and
   * parents at odd ones (TREE_INVALID_STRUCTURE otherwise). The nodes are
   * used as they are, not copied. This checks structure only: run
   * validateRatchetTree before trusting the tree.
   */
  static fromNodes(suite: CipherSuite, nodes: readonly (Node | undefined)[]): PublicRatchetTree {
    return PublicRatchetTree.#fromEntries(suite, nodes);
  }

  static #fromEntries(suite: CipherSuite, nodes: readonly (Entry | undefined)[]): PublicRatchetTree {
    if (nodes.length === 0) throw new MlsError("TREE_INVALID_STRUCTURE", "a ratchet tree has at least one node");
    if (nodes[nodes.length - 1] === undefined) throw new MlsError("TREE_INVALID_STRUCTURE", "the last node of a ratchet tree must not be blank");
    let leafCount = 1;
    while (nodeWidth(leafCount) < nodes.length) {
      leafCount *= 2;
      if (leafCount > MAX_LEAVES) throw new MlsError("TREE_INVALID_STRUCTURE", "ratchet tree too large");
    }
    const width = nodeWidth(leafCount);
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const type = n instanceof Uint8Array ? n[0] : n?.nodeType;
      if (n !== undefined && type !== ((i & 1) === 0 ? NodeType.leaf : NodeType.parent)) {
        throw new MlsError("TREE_INVALID_STRUCTURE", `node ${i} has the wrong type for its position`);
      }
    }
    const out = ChunkedArray.from(nodes);
    out.length = width;
    return new PublicRatchetTree(suite, leafCount, out, undefined, undefined);
  }

  /** Decodes the `ratchet_tree` extension value (optional<Node> ratchet_tree<V>); its leaves stay packed in one copy of `bytes`. */
  static decode(suite: CipherSuite, bytes: Uint8Array): PublicRatchetTree {
    return PublicRatchetTree.#fromEntries(suite, decodePackedTree(bytes));
  }

  /** The node list of the `ratchet_tree` extension: trailing blank nodes removed (§12.4.3.3). */
  toNodes(): RatchetTree {
    return this.#nodes.toArray(this.#encodedLength()).map(unpack);
  }

  /**
   * Node x, unpacked. The last few leaves unpacked are kept with the bytes they
   * came from (a message's sender is looked up once per message; a changed
   * leaf has other bytes, so a stale entry never matches).
   */
  #node(x: number): Node | undefined {
    const e = this.#nodes.get(x);
    if (!(e instanceof Uint8Array)) return e;
    const hit = this.#unpacked.get(x);
    if (hit !== undefined && hit.from === e) return hit.node;
    const node = unpack(e)!;
    if (this.#unpacked.size >= UNPACKED_KEPT) this.#unpacked.clear();
    this.#unpacked.set(x, { from: e, node });
    return node;
  }

  /** Every node, unpacked (building the key index). */
  #nodeArray(): (Node | undefined)[] {
    return this.#nodes.toArray().map(unpack);
  }

  /** @internal Leaf x's encoded Node when the leaf is packed (tree hashes read it without decoding). */
  packedNode(x: NodeIndex): Uint8Array | undefined {
    const e = this.#nodes.get(x);
    return e instanceof Uint8Array ? e : undefined;
  }

  /** Nodes up to the last non-blank one: the extension leaves trailing blanks out (§12.4.3.3). */
  #encodedLength(): number {
    let end = this.#nodes.length;
    while (end > 0 && this.#nodes.get(end - 1) === undefined) end--;
    return end;
  }

  /**
   * Encodes the `ratchet_tree` extension value (optional<Node> ratchet_tree<V>),
   * reusing the encoding of every node unchanged since the last call, so it
   * costs a copy of the tree rather than a re-encoding. The bytes are written
   * once, straight into an array of their exact size: through a Writer they
   * were written, copied out and the scratch zeroed (2.5 MB each at 10,000
   * members, half of a path commit's time there), and a tree is public.
   */
  encode(): Uint8Array {
    const end = this.#encodedLength();
    if (end === 0) return encode(ratchetTreeCodec, []); // throws ENCODE_INVALID: a tree has a non-blank node
    const parts: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(end);
    let bodyLength = 0;
    for (let i = 0; i < end; i++) {
      const n = this.#nodes.get(i);
      if (n === undefined) {
        bodyLength += 1;
        continue;
      }
      let e = n instanceof Uint8Array ? n : this.#encoded.get(i);
      if (e === undefined) {
        e = encode(nodeCodec, n as Node);
        // A leaf is packed from now on; a parent's encoding is cached beside it.
        if ((i & 1) === 0) this.#nodes.set(i, e);
        else this.#encoded.set(i, e);
      }
      parts[i] = e;
      bodyLength += 1 + e.length;
    }
    const header = encode(varint, bodyLength);
    const out = new Uint8Array(header.length + bodyLength);
    out.set(header);
    let at = header.length;
    for (let i = 0; i < end; i++) {
      const e = parts[i];
      // optional<Node>: 0 (blank; the array is zeroed already), or 1 and the node.
      if (e === undefined) {
        at++;
      } else {
        out[at++] = 1;
        out.set(e, at);
        at += e.length;
      }
    }
    return out;
  }

  /** An independent copy (nodes are shared: they are never mutated in place). */
  clone(): PublicRatchetTree {
    // A fork that declines (too many additions) is rebuilt, folded, for both trees.
    let keys = this.#keys?.fork();
    if (this.#keys !== undefined && keys === undefined) {
      this.#keys = KeyIndex.build(this.#nodeArray());
      keys = this.#keys.fork();
    }
    const caches = { hashes: this.#hashes.copy(), resolutions: this.#resolutions.copy(), encoded: this.#encoded.copy() };
    const copy = new PublicRatchetTree(this.suite, this.#leafCount, this.#nodes.copy(), caches, keys);
    copy.#blankHint = this.#blankHint;
    copy.#unpacked = this.#unpacked;
    // The tally is built here if it was not yet: a commit clones the tree before it asks the old
    // one, so a clone taken without it would build it again from every member once per epoch.
    copy.#credentials = this.#credentialTally().copy();
    return copy;
  }

  // -------------------------------------------------------------------------
  // Reading

  /** Number of leaves, a power of two (blank leaves included). */
  get leafCount(): number {
    return this.#leafCount;
  }

  /** Nodes in the array representation (RFC 9420 Appendix C), blanks included. */
  get nodeCount(): number {
    return this.#nodes.length;
  }

  /** The root's node index. */
  get root(): NodeIndex {
    return root(this.#leafCount);
  }

  /** The node at `x`; undefined when blank (or outside the tree). */
  node(x: NodeIndex): Node | undefined {
    return this.#node(x);
  }

  /** The LeafNode of leaf `l`; undefined when blank (or outside the tree). */
  leafNode(l: LeafIndex): LeafNode | undefined {
    const n = this.#node(2 * l);
    return n?.nodeType === NodeType.leaf ? n.leafNode : undefined;
  }

  /** The ParentNode at odd node index `x`; undefined when blank. */
  parentNode(x: NodeIndex): ParentNode | undefined {
    const n = this.#node(x);
    return n?.nodeType === NodeType.parent ? n.parentNode : undefined;
  }

  /** The leaf node of `l`, throwing TREE_INVALID_LEAF when it is blank or out of range. */
  requireLeafNode(l: LeafIndex): LeafNode {
    const n = this.leafNode(l);
    if (n === undefined) throw new MlsError("TREE_INVALID_LEAF", `leaf ${l} is blank or outside a tree of ${this.#leafCount} leaves`);
    return n;
  }

  /** The non-blank leaves, in leaf order. */
  members(): Member[] {
    const out: Member[] = [];
    for (let i = 0; i < this.#nodes.length; i += 2) {
      const n = unpack(this.#nodes.get(i)); // not through the small cache: every leaf is read once
      if (n?.nodeType === NodeType.leaf) out.push({ leafIndex: (i / 2) as LeafIndex, leafNode: n.leafNode });
    }
    return out;
  }

  /** The number of non-blank leaves. */
  memberCount(): number {
    let c = 0;
    for (let i = 0; i < this.#nodes.length; i += 2) if (this.#nodes.get(i) !== undefined) c++;
    return c;
  }

  /** The leftmost blank leaf, or undefined when every leaf is taken (§12.1.1). */
  leftmostBlankLeaf(): LeafIndex | undefined {
    // Every leaf left of the hint is known to be taken, so adding N members scans each leaf once, not N times.
    for (let i = 2 * this.#blankHint; i < this.#nodes.length; i += 2) {
      if (this.#nodes.get(i) === undefined) {
        this.#blankHint = i / 2;
        return (i / 2) as LeafIndex;
      }
    }
    this.#blankHint = this.#leafCount;
    return undefined;
  }

  /** Whether `l` is a leaf index inside this tree. */
  hasLeaf(l: number): boolean {
    return Number.isInteger(l) && l >= 0 && l < this.#leafCount;
  }

  // -------------------------------------------------------------------------
  // Resolution and filtered paths (§4.1.1, §4.1.2)

  /**
   * The resolution of node x (§4.1.1): a non-blank node followed by its
   * unmerged leaves; for a blank parent, its children's resolutions
   * concatenated. Cached per parent node; the array must not be modified.
   */
  resolution(x: NodeIndex): readonly NodeIndex[] {
    if ((x & 1) === 0) return this.#nodes.get(x) === undefined ? EMPTY : [x];
    const cached = this.#resolutions.get(x);
    if (cached !== undefined) return cached;
    const n = this.#node(x);
    let r: readonly NodeIndex[];
    if (n?.nodeType === NodeType.parent) {
      const out: NodeIndex[] = [x];
      for (const u of n.parentNode.unmergedLeaves) out.push((2 * u) as NodeIndex);
      r = out;
    } else {
      const a = this.resolution(left(x));
      const b = this.resolution(right(x));
      r = a.length === 0 ? b : b.length === 0 ? a : a.concat(b);
    }
    this.#resolutions.set(x, r);
    return r;
  }

  /** The steps of leaf l's direct path whose copath child has a non-empty resolution (§4.1.2), leaf to root. */
  filteredPath(l: LeafIndex): FilteredPathStep[] {
    this.#checkLeaf(l);
    const r = root(this.#leafCount);
    const out: FilteredPathStep[] = [];
    let x = 2 * l;
    while (x !== r) {
      const p = parentOf(x);
      const k = level(p as NodeIndex);
      const sib = (x < p ? (p ^ (3 << (k - 1))) >>> 0 : (p ^ (1 << (k - 1))) >>> 0) as NodeIndex;
      if (this.resolution(sib).length > 0) out.push({ node: p as NodeIndex, copathChild: sib });
      x = p;
    }
    return out;
  }

  /** The filtered direct path of leaf l (§4.1.2). */
  filteredDirectPath(l: LeafIndex): NodeIndex[] {
    return this.filteredPath(l).map((s) => s.node);
  }

  /** The copath children matching filteredDirectPath(l), in the same order. */
  filteredCopath(l: LeafIndex): NodeIndex[] {
    return this.filteredPath(l).map((s) => s.copathChild);
  }

  // -------------------------------------------------------------------------
  // Hashes (§7.8)

  /** The tree hash of the root. */
  treeHash(): Uint8Array {
    return computeTreeHash(this, root(this.#leafCount), this.#hashes);
  }

  /** The tree hash of node x; cached until x or a descendant changes. @throws MlsError `INVALID_ARGUMENT` (x outside the tree). */
  nodeTreeHash(x: NodeIndex): Uint8Array {
    if (x >= this.#nodes.length) throw new MlsError("INVALID_ARGUMENT", `node ${x} is outside the tree`);
    return computeTreeHash(this, x, this.#hashes);
  }

  /** @internal The per-node hash cache, for the parent-hash code that hashes variants of subtrees (§7.9). */
  get hashCache(): HashCache {
    return this.#hashes;
  }

  // -------------------------------------------------------------------------
  // Key lookup

  #keyIndex(): KeyIndex {
    this.#keys ??= KeyIndex.build(this.#nodeArray());
    return this.#keys;
  }

  /**
   * @internal Builds the key index and credential tally (when not built yet)
   * from `members`, this tree's members as members() just gave them, rather
   * than decoding every leaf again: a joiner reads them all to validate the tree.
   */
  indexMembers(members: readonly Member[]): void {
    if (this.#keys === undefined) {
      const nodes = new Array<Node | undefined>(this.#nodes.length);
      for (const m of members) nodes[2 * m.leafIndex] = { nodeType: NodeType.leaf, leafNode: m.leafNode };
      for (let x = 1; x < nodes.length; x += 2) nodes[x] = this.#nodes.get(x) as Node | undefined; // parents are never packed
      this.#keys = KeyIndex.build(nodes);
    }
    this.#credentials ??= CredentialTally.of(members.map((m) => m.leafNode));
  }

  /** The leaf whose LeafNode has this signature key. */
  findLeafBySignatureKey(signatureKey: Uint8Array): LeafIndex | undefined {
    return this.#keyIndex().findLeaf(signatureKey, this.#nodeAt);
  }

  /** The leaf whose LeafNode has this encryption key. */
  findLeafByEncryptionKey(encryptionKey: Uint8Array): LeafIndex | undefined {
    const x = this.findNodeByEncryptionKey(encryptionKey);
    return x !== undefined && (x & 1) === 0 ? ((x / 2) as LeafIndex) : undefined;
  }

  /** The node (leaf or parent) holding this encryption key. */
  findNodeByEncryptionKey(encryptionKey: Uint8Array): NodeIndex | undefined {
    return this.#keyIndex().findNode(encryptionKey, this.#nodeAt);
  }

  /** Credential types in use and supported by every member (§7.3), kept up to date as leaves change. */
  credentialTypes(): CredentialTypes {
    return this.#credentialTally().types;
  }

  #credentialTally(): CredentialTally {
    return (this.#credentials ??= CredentialTally.of(this.members().map((m) => m.leafNode)));
  }

  // -------------------------------------------------------------------------
  // Changing the tree

  #checkLeaf(l: number): void {
    if (!this.hasLeaf(l)) throw new MlsError("TREE_INVALID_LEAF", `leaf ${l} is outside a tree of ${this.#leafCount} leaves`);
  }

  /** Replaces node x and clears the caches that depended on it. */
  #set(x: NodeIndex, n: Node | undefined): void {
    const stored = this.#nodes.get(x);
    if (stored === n) return;
    this.#keys?.noteSet(x, n);
    if (this.#credentials !== undefined && (x & 1) === 0) {
      // Through the small cache: the leaf a commit replaces was just read (its sender's).
      const old = this.#node(x);
      if (old?.nodeType === NodeType.leaf) this.#credentials.remove(old.leafNode);
      if (n?.nodeType === NodeType.leaf) this.#credentials.add(n.leafNode);
    }
    this.#nodes.set(x, n);
    if (this.#encoded.get(x) !== undefined) this.#encoded.set(x, undefined);
    if (n === undefined && (x & 1) === 0 && x / 2 < this.#blankHint) this.#blankHint = x / 2;
    const r = root(this.#leafCount);
    let y: number = x;
    for (;;) {
      // Only what is cached is cleared: writing undefined over undefined would copy a shared chunk.
      if (this.#hashes.has(y)) this.#hashes.set(y, undefined);
      if (this.#resolutions.get(y) !== undefined) this.#resolutions.set(y, undefined);
      if (y === r) break;
      y = parentOf(y);
    }
  }

  /** Sets (or blanks) leaf l. */
  setLeafNode(l: LeafIndex, leaf: LeafNode | undefined): void {
    this.#checkLeaf(l);
    this.#set((2 * l) as NodeIndex, leaf === undefined ? undefined : { nodeType: NodeType.leaf, leafNode: leaf });
  }

  /** Sets (or blanks) the parent node at odd index x. @throws MlsError `INVALID_ARGUMENT` (x not a parent node of this tree). */
  setParentNode(x: NodeIndex, parent: ParentNode | undefined): void {
    if ((x & 1) !== 1 || x >= this.#nodes.length) throw new MlsError("INVALID_ARGUMENT", `node ${x} is not a parent of this tree`);
    this.#set(x, parent === undefined ? undefined : { nodeType: NodeType.parent, parentNode: parent });
  }

  /** Blanks every node on leaf l's direct path. */
  blankDirectPath(l: LeafIndex): void {
    this.#checkLeaf(l);
    const r = root(this.#leafCount);
    let x = 2 * l;
    while (x !== r) {
      x = parentOf(x);
      if (this.#nodes.get(x) !== undefined) this.#set(x as NodeIndex, undefined);
    }
  }

  /** Doubles the leaf count: a new blank root over the old tree and a blank right subtree (§7.7). @throws MlsError `TREE_INVALID_STRUCTURE` (past the largest tree supported). */
  extend(): void {
    if (this.#leafCount * 2 > MAX_LEAVES) throw new MlsError("TREE_INVALID_STRUCTURE", "the tree cannot grow further");
    const width = nodeWidth(this.#leafCount * 2);
    for (const a of [this.#nodes, this.#hashes, this.#resolutions, this.#encoded]) a.length = width;
    this.#leafCount *= 2;
  }

  /**
   * Removes right subtrees without a non-blank leaf (§12.1.3): afterwards the
   * tree has 2^d leaves for the smallest d with 2^d > the rightmost non-blank leaf.
   */
  truncate(): void {
    let last = -1;
    for (let i = this.#nodes.length - 1; i >= 0; i -= 2) {
      if (this.#nodes.get(i) !== undefined) {
        last = i / 2;
        break;
      }
    }
    let count = this.#leafCount;
    while (count > 1 && count / 2 > last) count /= 2;
    if (count === this.#leafCount) return;
    const width = nodeWidth(count);
    for (const a of [this.#nodes, this.#hashes, this.#resolutions, this.#encoded]) a.length = width;
    this.#leafCount = count;
  }

  /**
   * The leaf a new member takes (§12.1.1, §12.4.3.2 external commits): the
   * leftmost blank leaf, after extending the tree when every leaf is taken.
   */
  leafForNewMember(): LeafIndex {
    const l = this.leftmostBlankLeaf();
    if (l !== undefined) return l;
    const next = leafIndex(this.#leafCount);
    this.extend();
    return next;
  }

  /**
   * Add (§12.1.1): the leftmost blank leaf (extending the tree when there is
   * none) gets `leaf`, and its index joins the unmerged_leaves of every
   * non-blank parent above it. Returns the new leaf's index.
   */
  addLeaf(leaf: LeafNode): LeafIndex {
    const l = this.leafForNewMember();
    const r = root(this.#leafCount);
    let x = 2 * l;
    while (x !== r) {
      x = parentOf(x);
      const n = this.#node(x);
      if (n?.nodeType === NodeType.parent) {
        const p = n.parentNode;
        // Keep unmerged_leaves sorted (§7.1): the new leaf may sit left of earlier ones.
        const u = p.unmergedLeaves.slice();
        let i = u.length;
        while (i > 0 && u[i - 1]! > l) i--;
        u.splice(i, 0, l);
        this.#set(x as NodeIndex, { nodeType: NodeType.parent, parentNode: { encryptionKey: p.encryptionKey, parentHash: p.parentHash, unmergedLeaves: u } });
      }
    }
    this.#set((2 * l) as NodeIndex, { nodeType: NodeType.leaf, leafNode: leaf });
    return l;
  }

  /** Update (§12.1.2): replace leaf l's LeafNode and blank its direct path. */
  updateLeaf(l: LeafIndex, leaf: LeafNode): void {
    this.requireLeafNode(l);
    this.setLeafNode(l, leaf);
    this.blankDirectPath(l);
  }

  /** Remove (§12.1.3): blank leaf l and its direct path, then truncate. */
  removeLeaf(l: LeafIndex): void {
    this.requireLeafNode(l);
    this.setLeafNode(l, undefined);
    this.blankDirectPath(l);
    this.truncate();
  }
}
