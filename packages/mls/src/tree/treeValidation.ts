/**
 * Full validation of a ratchet tree a client joins with (RFC 9420
 * §12.4.3.1, with §7.3 for each leaf and §7.9.2 for parent hashes).
 *
 * Cheap structural checks run first, then parent hashes, then every leaf
 * signature at once (Promise.all), the expensive part.
 */
import { bytesEqual } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import type { Credential } from "../messages/credential.js";
import type { Extension } from "../messages/extension.js";
import { checkLeafNodeContents, requiredCapabilitiesOf, verifyLeafNodeSignature } from "./leafNodeValidation.js";
import { verifyParentHashes } from "./parentHash.js";
import { KeySet } from "./keyTable.js";
import type { Member, PublicRatchetTree } from "./ratchetTree.js";
import { subtreeLeafRange } from "./treeHash.js";
import { parentUnbounded, type LeafIndex, type NodeIndex } from "./treeMath.js";

export interface TreeValidationOptions {
  /** The group's id: update and commit leaves are signed over it (§7.2). */
  groupId: Uint8Array;
  /** The tree hash the tree must have (GroupInfo.group_context.tree_hash). */
  treeHash?: Uint8Array;
  /** GroupContext extensions: required_capabilities and non-default extensions every leaf must support. */
  groupContextExtensions?: readonly Extension[];
  /** Current time (seconds since the epoch); when given, key_package leaves must be within their lifetime. */
  now?: bigint;
  /** Longest acceptable lifetime for key_package leaves, in seconds. */
  maxLifetime?: bigint;
  /** Application credential check (§5.3.1), called for every leaf; return false to reject. */
  validateCredential?: (credential: Credential, signatureKey: Uint8Array, leaf: LeafIndex) => boolean | Promise<boolean>;
}

/** §7.1, §12.4.3.1: unmerged_leaves sorted, each a non-blank leaf below the node and listed by every non-blank node in between. */
export function verifyUnmergedLeaves(tree: PublicRatchetTree): void {
  const width = tree.nodeCount;
  for (let x = 1; x < width; x += 2) {
    const p = tree.parentNode(x as NodeIndex);
    if (p === undefined) continue;
    const [lo, hi] = subtreeLeafRange(x as NodeIndex);
    let prev = -1;
    for (const u of p.unmergedLeaves) {
      const fail = (why: string): never => {
        throw new MlsError("TREE_INVALID_UNMERGED_LEAVES", `node ${x}: unmerged leaf ${u} ${why}`);
      };
      if (u <= prev) fail("is out of order or repeated");
      prev = u;
      if (u < lo || u > hi) fail("is not below the node");
      if (tree.leafNode(u) === undefined) fail("is blank");
      // Walk up from the leaf to x: every non-blank parent in between lists u too.
      for (let y = parentUnbounded((2 * u) as NodeIndex); y !== x; y = parentUnbounded(y)) {
        const q = tree.parentNode(y);
        if (q !== undefined && !q.unmergedLeaves.includes(u)) fail(`is missing from node ${y}`);
      }
    }
  }
}

/**
 * §7.3, §12.4.3.1: encryption keys unique over all nodes, signature keys
 * unique over all leaves. `members` are the tree's members when the caller
 * has read them already (every leaf is decoded to read them).
 */
export function verifyKeysUnique(tree: PublicRatchetTree, members: readonly Member[] = tree.members()): void {
  const enc = new KeySet();
  const sig = new KeySet();
  for (const m of members) {
    if (!enc.add(m.leafNode.encryptionKey)) throw new MlsError("TREE_DUPLICATE_KEY", `node ${2 * m.leafIndex} repeats an encryption key`);
    if (!sig.add(m.leafNode.signatureKey)) throw new MlsError("TREE_DUPLICATE_KEY", `leaf ${m.leafIndex} repeats a signature key`);
  }
  const width = tree.nodeCount;
  for (let x = 1; x < width; x += 2) {
    const p = tree.parentNode(x as NodeIndex);
    if (p !== undefined && !enc.add(p.encryptionKey)) throw new MlsError("TREE_DUPLICATE_KEY", `node ${x} repeats an encryption key`);
  }
}

/**
 * Validates a tree received on join (§12.4.3.1): tree hash, unmerged
 * leaves, key uniqueness, every leaf (§7.3: contents, capabilities against
 * the group's requirements and each other's credential types, lifetime when
 * `now` is given, credential callback, signature) and parent hashes
 * (§7.9.2). Throws MlsError with a TREE_* or LEAF_NODE_* code.
 */
export async function validateRatchetTree(tree: PublicRatchetTree, opts: TreeValidationOptions): Promise<void> {
  if (opts.treeHash !== undefined && !bytesEqual(tree.treeHash(), opts.treeHash)) {
    throw new MlsError("TREE_INVALID_TREE_HASH", "the ratchet tree does not match the group's tree hash");
  }
  const members = tree.members();
  if (members.length === 0) throw new MlsError("TREE_INVALID_STRUCTURE", "the tree has no members");
  // Each leaf's encoding, read with it: its signature is checked over those bytes rather than a re-encoding.
  const encodings = members.map((m) => tree.packedNode((2 * m.leafIndex) as NodeIndex));
  verifyUnmergedLeaves(tree);
  verifyKeysUnique(tree, members);
  // The members are decoded now: the tree's key index and credential tally are built from them, not by decoding again.
  tree.indexMembers(members);

  // §7.3: every member's credential type is supported by every member.
  const inUse = new Set<number>();
  for (const m of members) inUse.add(m.leafNode.credential.credentialType);
  const required = requiredCapabilitiesOf(opts.groupContextExtensions);
  const leafOpts = { groupContextExtensions: opts.groupContextExtensions, credentialTypesInUse: inUse, now: opts.now, maxLifetime: opts.maxLifetime };
  for (const m of members) {
    try {
      checkLeafNodeContents(m.leafNode, leafOpts, required);
    } catch (e) {
      if (e instanceof MlsError) throw new MlsError(e.code, `leaf ${m.leafIndex}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  verifyParentHashes(tree);

  if (opts.validateCredential !== undefined) {
    const check = opts.validateCredential;
    const ok = await Promise.all(members.map(async (m) => check(m.leafNode.credential, m.leafNode.signatureKey, m.leafIndex)));
    const bad = ok.indexOf(false);
    if (bad >= 0) throw new MlsError("LEAF_NODE_INVALID_CREDENTIAL", `leaf ${members[bad]!.leafIndex}: the credential was rejected`);
  }

  const groupId = opts.groupId;
  const valid = await Promise.all(members.map((m, i) => verifyLeafNodeSignature(tree.suite, m.leafNode, { groupId, leafIndex: m.leafIndex }, encodings[i]?.subarray(1))));
  const bad = valid.indexOf(false);
  if (bad >= 0) throw new MlsError("TREE_INVALID_LEAF_SIGNATURE", `leaf ${members[bad]!.leafIndex}: the leaf node's signature does not verify`);
}
