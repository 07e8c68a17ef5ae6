/**
 * One member's private view of the ratchet tree (RFC 9420 §4.2): the HPKE
 * private keys it holds, for its own leaf and for nodes on its direct path,
 * plus the path-secret derivations of §7.4 that produce them.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import type { CipherSuite, KeyPair } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { NodeType } from "../messages/enums.js";
import type { PublicRatchetTree } from "./ratchetTree.js";
import { parentUnbounded, root, type LeafIndex, type NodeIndex } from "./treeMath.js";

/** §7.4: node_secret = DeriveSecret(path_secret, "node"); (node_priv, node_pub) = KEM.DeriveKeyPair(node_secret). */
export async function deriveNodeKeyPair(suite: CipherSuite, pathSecret: Uint8Array): Promise<KeyPair> {
  const nodeSecret = suite.deriveSecret(pathSecret, "node");
  try {
    return await suite.hpkeDeriveKeyPair(nodeSecret);
  } finally {
    zeroize(nodeSecret);
  }
}

/** §7.4: path_secret[n] = DeriveSecret(path_secret[n-1], "path"). */
export function nextPathSecret(suite: CipherSuite, pathSecret: Uint8Array): Uint8Array {
  return suite.deriveSecret(pathSecret, "path");
}

/** The encryption key of a non-blank node (leaf or parent). */
export function nodeEncryptionKey(tree: PublicRatchetTree, x: NodeIndex): Uint8Array | undefined {
  const n = tree.node(x);
  if (n === undefined) return undefined;
  return n.nodeType === NodeType.leaf ? n.leafNode.encryptionKey : n.parentNode.encryptionKey;
}

/**
 * The private keys one member holds, by node index. Each entry keeps its
 * public key so the set can be checked against (and pruned to) the public
 * tree without any crypto. Keys dropped from the set are zeroized.
 */
export class PrivateTreeKeys {
  readonly leafIndex: LeafIndex;
  readonly #keys: Map<NodeIndex, KeyPair>;

  /** A member's keys with just its leaf key pair. */
  constructor(leafIndex: LeafIndex, leafKeyPair: KeyPair, entries?: Iterable<readonly [NodeIndex, KeyPair]>) {
    this.leafIndex = leafIndex;
    this.#keys = new Map(entries);
    this.#keys.set((2 * leafIndex) as NodeIndex, leafKeyPair);
  }

  /** The keys for a leaf from its HPKE private key alone (the public key is recomputed). */
  static async fromLeafPrivateKey(suite: CipherSuite, leafIndex: LeafIndex, privateKey: Uint8Array): Promise<PrivateTreeKeys> {
    return new PrivateTreeKeys(leafIndex, { privateKey, publicKey: await suite.hpkePublicKey(privateKey) });
  }

  /** The private key of the member's own leaf. */
  get leafPrivateKey(): Uint8Array {
    return this.#keys.get((2 * this.leafIndex) as NodeIndex)!.privateKey;
  }

  privateKey(x: NodeIndex): Uint8Array | undefined {
    return this.#keys.get(x)?.privateKey;
  }

  publicKey(x: NodeIndex): Uint8Array | undefined {
    return this.#keys.get(x)?.publicKey;
  }

  has(x: NodeIndex): boolean {
    return this.#keys.has(x);
  }

  /** Node indices with a key, increasing. */
  nodes(): NodeIndex[] {
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  /** (node, key pair) entries, for persisting the state. */
  entries(): [NodeIndex, KeyPair][] {
    return this.nodes().map((x) => [x, this.#keys.get(x)!]);
  }

  /** Stores a key pair for node x, zeroizing the one it replaces. */
  set(x: NodeIndex, keyPair: KeyPair): void {
    const old = this.#keys.get(x);
    if (old !== undefined && old.privateKey !== keyPair.privateKey) zeroize(old.privateKey);
    this.#keys.set(x, keyPair);
  }

  /** Forgets (and zeroizes) the key of node x. */
  delete(x: NodeIndex): void {
    const old = this.#keys.get(x);
    if (old === undefined) return;
    zeroize(old.privateKey);
    this.#keys.delete(x);
  }

  /** Sets node x's key pair from its path secret (§7.4). */
  async setFromPathSecret(suite: CipherSuite, x: NodeIndex, pathSecret: Uint8Array): Promise<KeyPair> {
    const kp = await deriveNodeKeyPair(suite, pathSecret);
    this.set(x, kp);
    return kp;
  }

  /** A deep copy: zeroizing either copy leaves the other intact. */
  clone(): PrivateTreeKeys {
    const copy = (kp: KeyPair): KeyPair => ({ privateKey: kp.privateKey.slice(), publicKey: kp.publicKey });
    const entries: [NodeIndex, KeyPair][] = [];
    for (const [x, kp] of this.#keys) entries.push([x, copy(kp)]);
    const leaf = this.#keys.get((2 * this.leafIndex) as NodeIndex)!;
    return new PrivateTreeKeys(
      this.leafIndex,
      copy(leaf),
      entries.filter(([x]) => x !== 2 * this.leafIndex),
    );
  }

  /**
   * Drops (and zeroizes) every key whose node in `tree` is blank, outside the
   * tree, or now holds another public key (§7.5: delete replaced key
   * pairs). The leaf key is kept if the leaf still matches. Returns the
   * number of keys dropped.
   */
  prune(tree: PublicRatchetTree): number {
    let dropped = 0;
    for (const [x, kp] of [...this.#keys]) {
      const pub = x < tree.nodeCount ? nodeEncryptionKey(tree, x) : undefined;
      if (pub === undefined || !bytesEqual(pub, kp.publicKey)) {
        this.delete(x);
        dropped++;
      }
    }
    return dropped;
  }

  /**
   * Checks the keys against the public tree (§4.2 tree invariant): each key's
   * node is non-blank, holds the matching public key and is the member's
   * leaf or on its direct path. Throws TREE_INVALID_STRUCTURE otherwise.
   */
  checkConsistentWith(tree: PublicRatchetTree): void {
    const onPath = new Set<number>([2 * this.leafIndex]);
    if (this.leafIndex >= tree.leafCount) throw new MlsError("TREE_INVALID_STRUCTURE", `leaf ${this.leafIndex} is outside the tree`);
    const r = root(tree.leafCount);
    for (let x = 2 * this.leafIndex; x !== r;) {
      x = parentUnbounded(x as NodeIndex);
      onPath.add(x);
    }
    for (const [x, kp] of this.#keys) {
      if (!onPath.has(x)) throw new MlsError("TREE_INVALID_STRUCTURE", `private key for node ${x}, which is not on leaf ${this.leafIndex}'s direct path`);
      const pub = nodeEncryptionKey(tree, x);
      if (pub === undefined) throw new MlsError("TREE_INVALID_STRUCTURE", `private key for blank node ${x}`);
      if (!bytesEqual(pub, kp.publicKey)) throw new MlsError("TREE_INVALID_STRUCTURE", `private key for node ${x} does not match its public key`);
    }
  }

  /** Zeroizes every private key; the object is unusable afterwards. */
  destroy(): void {
    for (const kp of this.#keys.values()) zeroize(kp.privateKey);
    this.#keys.clear();
  }
}

/**
 * A joiner's path keys from the Welcome's path_secret (§12.4.3.1): the
 * secret belongs to `node` (the common ancestor of the joiner and the
 * committer); each non-blank node above it gets the next path secret. Every
 * derived public key must equal the tree's, else UPDATE_PATH_INVALID.
 * Returns the last path secret derived (the caller zeroizes it).
 */
export async function setKeysFromPathSecret(suite: CipherSuite, tree: PublicRatchetTree, keys: PrivateTreeKeys, node: NodeIndex, pathSecret: Uint8Array): Promise<Uint8Array> {
  const r = root(tree.leafCount);
  const targets: NodeIndex[] = [];
  const secrets: Uint8Array[] = [];
  let secret: Uint8Array = pathSecret.slice();
  for (let x: NodeIndex = node; ; x = parentUnbounded(x)) {
    if (tree.node(x) !== undefined) {
      if (targets.length > 0) secret = nextPathSecret(suite, secret);
      targets.push(x);
      secrets.push(secret);
    }
    if (x === r) break;
  }
  if (targets[0] !== node) throw new MlsError("UPDATE_PATH_INVALID", `path secret for blank node ${node}`);
  const pairs = await Promise.all(secrets.map((s) => deriveNodeKeyPair(suite, s)));
  for (let i = 0; i < targets.length; i++) {
    const pub = nodeEncryptionKey(tree, targets[i]!)!;
    if (!bytesEqual(pub, pairs[i]!.publicKey)) {
      for (const p of pairs) zeroize(p.privateKey);
      throw new MlsError("UPDATE_PATH_INVALID", `the path secret does not give node ${targets[i]}'s public key`);
    }
  }
  for (let i = 0; i < targets.length; i++) keys.set(targets[i]!, pairs[i]!);
  for (let i = 0; i < secrets.length - 1; i++) zeroize(secrets[i]);
  return secrets[secrets.length - 1]!;
}
