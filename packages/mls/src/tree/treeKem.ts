/**
 * TreeKEM (RFC 9420 §7.4–§7.6, §12.4.1–§12.4.2): creating an UpdatePath from
 * a committer's leaf, and on the receiving side merging it into the tree and
 * decrypting the path secret that falls to us.
 *
 * Both sides work on the provisional tree (proposals already applied) and
 * change it in place: clone the tree first if the commit may be dropped.
 * Private keys come back as a new PrivateTreeKeys; the old one is untouched.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { encode } from "../codec/tls.js";
import type { HpkeCiphertext, KeyPair, LabelledEncryptor } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { LeafNodeSource } from "../messages/enums.js";
import { groupContextCodec, type GroupContext } from "../messages/groupContext.js";
import type { LeafNode, LeafNodeBase, UnsignedLeafNode } from "../messages/leafNode.js";
import type { UpdatePath, UpdatePathNode } from "../messages/updatePath.js";
import { signLeafNode, validateLeafNode, type LeafNodeValidationOptions } from "./leafNodeValidation.js";
import { pathParentHashes } from "./parentHash.js";
import { KeySet } from "./keyTable.js";
import { deriveNodeKeyPair, nextPathSecret, nodeEncryptionKey, PrivateTreeKeys } from "./privateTreeKeys.js";
import type { FilteredPathStep, PublicRatchetTree } from "./ratchetTree.js";
import { commonAncestor, type LeafIndex, type NodeIndex } from "./treeMath.js";

const UPDATE_PATH_NODE = "UpdatePathNode";

/** The committer's LeafNode fields besides its new encryption key (§12.4.2 lets them change). */
export type LeafNodeTemplate = Omit<LeafNodeBase, "encryptionKey">;

/** The provisional GroupContext without its tree hash, which the path itself determines. */
export type ProvisionalGroupContext = Omit<GroupContext, "treeHash">;

export interface CreateUpdatePathOptions {
  /** The provisional tree (proposals applied); the path is merged into it. */
  tree: PublicRatchetTree;
  /** The committer's leaf (for an external commit: the blank leaf it takes). */
  leafIndex: LeafIndex;
  /** The provisional GroupContext (§12.4.1: new epoch and extensions, old confirmed transcript hash). */
  groupContext: ProvisionalGroupContext;
  signaturePrivateKey: Uint8Array;
  /** New leaf contents; defaults to the current leaf's (required when the leaf is blank). */
  leafNode?: LeafNodeTemplate;
  /** Leaves added by this commit: they get no ciphertexts (§7.6). */
  excludedLeaves?: readonly LeafIndex[];
}

export interface CreatedUpdatePath {
  updatePath: UpdatePath;
  /** path_secret[n+1] (§12.4.1); the caller zeroizes it after the key schedule. */
  commitSecret: Uint8Array;
  /** The provisional GroupContext with the new tree hash, as used for encryption. */
  groupContext: GroupContext;
  /** The committer's new private keys: the fresh leaf key and every filtered-direct-path node. */
  privateKeys: PrivateTreeKeys;
  /** The path secret of each filtered-direct-path node (for Welcome: see pathSecretForNewMember). */
  pathSecrets: Map<NodeIndex, Uint8Array>;
}

function excludedNodes(excluded: readonly LeafIndex[] | undefined): Set<number> {
  const s = new Set<number>();
  for (const l of excluded ?? []) s.add(2 * l);
  return s;
}

/** The copath child's resolution without the commit's new members (§7.6). */
function recipients(tree: PublicRatchetTree, copathChild: NodeIndex, excluded: ReadonlySet<number>): readonly NodeIndex[] {
  const res = tree.resolution(copathChild);
  return excluded.size === 0 ? res : res.filter((x) => !excluded.has(x));
}

/** The public key of a resolution node; a blank one (an unmerged leaf that is blank) means the tree is invalid. */
function recipientKey(tree: PublicRatchetTree, x: NodeIndex): Uint8Array {
  const key = nodeEncryptionKey(tree, x);
  if (key === undefined) throw new MlsError("TREE_INVALID_UNMERGED_LEAVES", `resolution node ${x} is blank`);
  return key;
}

/** Blanks the direct path, then sets the filtered path's new parent nodes and the leaf (§7.5). */
function mergePath(tree: PublicRatchetTree, leaf: LeafIndex, steps: readonly FilteredPathStep[], keys: readonly Uint8Array[], parentHashes: readonly Uint8Array[], leafNode: LeafNode): void {
  tree.blankDirectPath(leaf);
  for (let i = 0; i < steps.length; i++) {
    tree.setParentNode(steps[i]!.node, { encryptionKey: keys[i]!, parentHash: parentHashes[i]!, unmergedLeaves: [] });
  }
  tree.setLeafNode(leaf, leafNode);
}

/**
 * Creates an UpdatePath for `leafIndex` (§7.4–§7.6, §12.4.2): a fresh leaf
 * key, path secrets and node key pairs along the filtered direct path,
 * parent hashes, the signed commit LeafNode, and each path secret encrypted
 * to the copath child's resolution (new members excluded) under the
 * provisional GroupContext. The tree is updated in place.
 */
export async function createUpdatePath(opts: CreateUpdatePathOptions): Promise<CreatedUpdatePath> {
  const { tree, leafIndex } = opts;
  const suite = tree.suite;
  const nh = suite.params.nh;
  const template = opts.leafNode ?? tree.leafNode(leafIndex);
  if (template === undefined) throw new MlsError("INVALID_ARGUMENT", `leaf ${leafIndex} is blank: pass the new leaf's contents`);
  const steps = tree.filteredPath(leafIndex);

  const leafSecret = suite.randomBytes(nh);
  const leafKeys = await deriveNodeKeyPair(suite, leafSecret);
  zeroize(leafSecret);

  const pathSecrets: Uint8Array[] = [];
  let secret = suite.randomBytes(nh);
  for (let i = 0; i < steps.length; i++) {
    pathSecrets.push(secret);
    secret = nextPathSecret(suite, secret);
  }
  const commitSecret = secret;
  const nodeKeys = await Promise.all(pathSecrets.map((s) => deriveNodeKeyPair(suite, s)));
  const publicKeys = nodeKeys.map((k) => k.publicKey);
  const { nodeParentHashes, leafParentHash } = pathParentHashes(tree, steps, publicKeys);

  const unsigned: UnsignedLeafNode = {
    encryptionKey: leafKeys.publicKey,
    signatureKey: template.signatureKey,
    credential: template.credential,
    capabilities: template.capabilities,
    leafNodeSource: LeafNodeSource.commit,
    parentHash: leafParentHash,
    extensions: template.extensions,
  };
  const leafNode = await signLeafNode(suite, opts.signaturePrivateKey, unsigned, { groupId: opts.groupContext.groupId, leafIndex });
  mergePath(tree, leafIndex, steps, publicKeys, nodeParentHashes, leafNode);

  const groupContext: GroupContext = { ...opts.groupContext, treeHash: tree.treeHash() };
  const context = encode(groupContextCodec, groupContext);
  const excluded = excludedNodes(opts.excludedLeaves);
  // §5.1.3: every encryption of the path shares (label, context): the EncryptContext is encoded and its HPKE info
  // hashed once, when the first recipient needs it (a path to new members only encrypts to no one).
  let encryptor: LabelledEncryptor | undefined;
  const encrypt = (publicKey: Uint8Array, pathSecret: Uint8Array): Promise<HpkeCiphertext> => {
    encryptor ??= suite.encryptorWithLabel(UPDATE_PATH_NODE, context);
    return encryptor(publicKey, pathSecret);
  };
  const nodes: UpdatePathNode[] = await Promise.all(
    steps.map(async (step, i): Promise<UpdatePathNode> => {
      const targets = recipients(tree, step.copathChild, excluded);
      const encryptedPathSecret: HpkeCiphertext[] = await Promise.all(targets.map((x) => encrypt(recipientKey(tree, x), pathSecrets[i]!)));
      return { encryptionKey: publicKeys[i]!, encryptedPathSecret };
    }),
  );

  const privateKeys = new PrivateTreeKeys(
    leafIndex,
    leafKeys,
    steps.map((s, i): [NodeIndex, KeyPair] => [s.node, nodeKeys[i]!]),
  );
  const secrets = new Map<NodeIndex, Uint8Array>();
  steps.forEach((s, i) => secrets.set(s.node, pathSecrets[i]!));
  return { updatePath: { leafNode, nodes }, commitSecret, groupContext, privateKeys, pathSecrets: secrets };
}

/**
 * The path secret a member added in this commit needs in its Welcome
 * (§12.4.3.1): the one of the lowest common ancestor of its leaf and the committer's.
 */
export function pathSecretForNewMember(created: Pick<CreatedUpdatePath, "pathSecrets">, committer: LeafIndex, newMember: LeafIndex): Uint8Array | undefined {
  return created.pathSecrets.get(commonAncestor((2 * committer) as NodeIndex, (2 * newMember) as NodeIndex));
}

export interface MergeUpdatePathOptions {
  /** The provisional tree (proposals applied); updated in place. */
  tree: PublicRatchetTree;
  sender: LeafIndex;
  updatePath: UpdatePath;
  groupId: Uint8Array;
  /** Leaves added by this commit (no ciphertexts for them). */
  excludedLeaves?: readonly LeafIndex[];
  /** Group requirements and credential check applied to the new LeafNode (§7.3). */
  leafNodeValidation?: Omit<LeafNodeValidationOptions, "expectedSource" | "group" | "tree">;
}

/**
 * Validates an UpdatePath against the provisional tree and merges it
 * (§12.4.2, §7.5): the LeafNode (source commit, signature, capabilities,
 * fresh keys), one UpdatePathNode per filtered-direct-path node with one
 * ciphertext per recipient, public keys new to the tree, and the leaf's
 * parent_hash recomputed. The tree is changed only when every check passes.
 * Returns the filtered path (for decryptUpdatePath).
 */
export async function mergeUpdatePath(opts: MergeUpdatePathOptions): Promise<FilteredPathStep[]> {
  const { tree, sender, updatePath } = opts;
  const leaf = updatePath.leafNode;
  await validateLeafNode(tree.suite, leaf, {
    ...opts.leafNodeValidation,
    expectedSource: LeafNodeSource.commit,
    group: { groupId: opts.groupId, leafIndex: sender },
    tree,
  });
  const steps = tree.filteredPath(sender);
  if (updatePath.nodes.length !== steps.length) {
    throw new MlsError("UPDATE_PATH_INVALID", `UpdatePath has ${updatePath.nodes.length} nodes, the filtered direct path ${steps.length}`);
  }
  const excluded = excludedNodes(opts.excludedLeaves);
  // Keys by a seeded hash (no hex string per key): a collision costs a comparison.
  const seen = new KeySet();
  seen.add(leaf.encryptionKey);
  for (let i = 0; i < steps.length; i++) {
    const node = updatePath.nodes[i]!;
    const want = recipients(tree, steps[i]!.copathChild, excluded).length;
    if (node.encryptedPathSecret.length !== want) {
      throw new MlsError("UPDATE_PATH_INVALID", `UpdatePath node ${i} has ${node.encryptedPathSecret.length} ciphertexts, its copath resolution ${want} nodes`);
    }
    // §12.4.2: none of the path's public keys may already be in the tree.
    if (!seen.add(node.encryptionKey) || tree.findNodeByEncryptionKey(node.encryptionKey) !== undefined) {
      throw new MlsError("TREE_DUPLICATE_KEY", `UpdatePath node ${i} repeats an encryption key`);
    }
  }
  const keys = updatePath.nodes.map((n) => n.encryptionKey);
  const { nodeParentHashes, leafParentHash } = pathParentHashes(tree, steps, keys);
  if (leaf.leafNodeSource !== LeafNodeSource.commit || !bytesEqual(leaf.parentHash, leafParentHash)) {
    throw new MlsError("TREE_INVALID_PARENT_HASH", "the committer's leaf does not carry the path's parent hash");
  }
  mergePath(tree, sender, steps, keys, nodeParentHashes, leaf);
  return steps;
}

export interface DecryptUpdatePathOptions {
  /** The tree after mergeUpdatePath. */
  tree: PublicRatchetTree;
  sender: LeafIndex;
  updatePath: UpdatePath;
  /** The provisional GroupContext, tree hash of the merged tree included. */
  groupContext: GroupContext;
  /** The receiver's keys before this commit (left untouched unless `updateKeysInPlace`). */
  privateKeys: PrivateTreeKeys;
  /**
   * The caller owns `privateKeys` (a copy made for this commit): once every check has passed they are
   * pruned and given the new path keys in place, which saves cloning them again. Default false.
   */
  updateKeysInPlace?: boolean;
  excludedLeaves?: readonly LeafIndex[];
  /** The filtered path mergeUpdatePath returned (recomputed when absent). */
  steps?: readonly FilteredPathStep[];
}

export interface DecryptedUpdatePath {
  /** path_secret[n+1] (§12.4.2); the caller zeroizes it after the key schedule. */
  commitSecret: Uint8Array;
  /** The path secret decrypted, that of the common ancestor with the sender. */
  pathSecret: Uint8Array;
  /** The node whose path secret was decrypted. */
  node: NodeIndex;
  /** The receiver's keys after the commit: pruned to the merged tree plus the new path keys. */
  privateKeys: PrivateTreeKeys;
}

/**
 * The receiver's side of §12.4.2 after merging: decrypt the path secret of
 * the common ancestor with the sender using a key from the copath child's
 * resolution, derive the secrets above it, and check each derived public key
 * against the UpdatePath (UPDATE_PATH_INVALID otherwise).
 */
export async function decryptUpdatePath(opts: DecryptUpdatePathOptions): Promise<DecryptedUpdatePath> {
  const { tree, sender, updatePath, privateKeys } = opts;
  const suite = tree.suite;
  const me = privateKeys.leafIndex;
  if (me === sender) throw new MlsError("INVALID_ARGUMENT", "a committer does not decrypt its own UpdatePath");
  const excluded = excludedNodes(opts.excludedLeaves);
  if (excluded.has(2 * me)) throw new MlsError("INVALID_ARGUMENT", "a member added by this commit gets its path secret from the Welcome");
  const steps = opts.steps ?? tree.filteredPath(sender);
  const ancestor = commonAncestor((2 * sender) as NodeIndex, (2 * me) as NodeIndex);
  const i = steps.findIndex((s) => s.node === ancestor);
  if (i < 0 || updatePath.nodes.length !== steps.length) throw new MlsError("UPDATE_PATH_INVALID", "no UpdatePath node covers the receiver");

  const targets = recipients(tree, steps[i]!.copathChild, excluded);
  // A key counts only if it still matches the node's public key (a stale one cannot decrypt).
  const j = targets.findIndex((x) => {
    const held = privateKeys.publicKey(x);
    return held !== undefined && bytesEqual(held, recipientKey(tree, x));
  });
  if (j < 0) throw new MlsError("UPDATE_PATH_NO_DECRYPTION_KEY", `no private key for any node in the resolution of node ${steps[i]!.copathChild}`);
  const ct = updatePath.nodes[i]!.encryptedPathSecret[j];
  if (ct === undefined) throw new MlsError("UPDATE_PATH_INVALID", "missing ciphertext");
  const context = encode(groupContextCodec, opts.groupContext);
  const pathSecret = await suite.decryptWithLabel(privateKeys.privateKey(targets[j]!)!, UPDATE_PATH_NODE, context, ct.kemOutput, ct.ciphertext);

  const secrets: Uint8Array[] = [pathSecret];
  for (let k = i + 1; k <= steps.length; k++) secrets.push(nextPathSecret(suite, secrets[secrets.length - 1]!));
  const commitSecret = secrets.pop()!;
  const pairs = await Promise.all(secrets.map((s) => deriveNodeKeyPair(suite, s)));
  for (let k = 0; k < pairs.length; k++) {
    if (!bytesEqual(pairs[k]!.publicKey, updatePath.nodes[i + k]!.encryptionKey)) {
      for (const p of pairs) zeroize(p.privateKey);
      for (let m = 1; m < secrets.length; m++) zeroize(secrets[m]);
      zeroize(commitSecret);
      throw new MlsError("UPDATE_PATH_INVALID", `the decrypted path secret does not give the public key of node ${steps[i + k]!.node}`);
    }
  }
  for (let m = 1; m < secrets.length; m++) zeroize(secrets[m]);

  // §7.5: keys of nodes the path replaced are dropped (and zeroized) by prune.
  const next = opts.updateKeysInPlace === true ? privateKeys : privateKeys.clone();
  next.prune(tree);
  for (let k = 0; k < pairs.length; k++) next.set(steps[i + k]!.node, pairs[k]!);
  return { commitSecret, pathSecret, node: ancestor, privateKeys: next };
}

export interface ApplyUpdatePathOptions extends Omit<MergeUpdatePathOptions, "groupId"> {
  /** The provisional GroupContext (its group id is the one leaf signatures cover). */
  groupContext: ProvisionalGroupContext;
  privateKeys: PrivateTreeKeys;
  /** See DecryptUpdatePathOptions.updateKeysInPlace. */
  updateKeysInPlace?: boolean;
}

export interface AppliedUpdatePath extends DecryptedUpdatePath {
  /** The provisional GroupContext with the merged tree's hash. */
  groupContext: GroupContext;
}

/** mergeUpdatePath then decryptUpdatePath, with the provisional GroupContext's tree hash filled in. */
export async function applyUpdatePath(opts: ApplyUpdatePathOptions): Promise<AppliedUpdatePath> {
  // Options are built field by field, not spread from opts: adding a field to a spread copy of a
  // many-field object missed V8's inline cache on every commit (a runtime call each, ~120k instructions).
  const { tree, sender, updatePath, excludedLeaves } = opts;
  const gc = opts.groupContext;
  const steps = await mergeUpdatePath({ tree, sender, updatePath, groupId: gc.groupId, excludedLeaves, leafNodeValidation: opts.leafNodeValidation });
  const groupContext: GroupContext = {
    version: gc.version,
    cipherSuite: gc.cipherSuite,
    groupId: gc.groupId,
    epoch: gc.epoch,
    treeHash: tree.treeHash(),
    confirmedTranscriptHash: gc.confirmedTranscriptHash,
    extensions: gc.extensions,
  };
  const out = await decryptUpdatePath({ tree, sender, updatePath, groupContext, privateKeys: opts.privateKeys, updateKeysInPlace: opts.updateKeysInPlace, excludedLeaves, steps });
  return { commitSecret: out.commitSecret, pathSecret: out.pathSecret, node: out.node, privateKeys: out.privateKeys, groupContext };
}
