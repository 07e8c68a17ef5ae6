/**
 * Applying a proposal list (RFC 9420 §12.3) to a copy of the ratchet tree and
 * the GroupContext extensions, in the order the RFC fixes:
 * GroupContextExtensions, Updates, Removes, Adds (in list order), then the
 * PSKs, ExternalInit and ReInit are collected for the key schedule.
 *
 * The validity rules that depend on the provisional tree run here as each
 * proposal is applied (§12.1, §12.2: Add KeyPackages and Update LeafNodes
 * valid against the new extensions, keys unique, required capabilities
 * supported by every member left after a GroupContextExtensions). Signature
 * and credential checks are gathered and run together.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ExtensionType, LeafNodeSource, ProposalType, SenderType } from "../messages/enums.js";
import { readExtension, type Extension } from "../messages/extension.js";
import { externalSendersCodec, requiredCapabilitiesCodec } from "../messages/extensionPayloads.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { KeyPackage } from "../messages/keyPackage.js";
import type { LeafNode } from "../messages/leafNode.js";
import type { ExternalInit, ReInit } from "../messages/proposal.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import { checkLeafNodeContents, checkLeafNodeKeysUnique, requiredCapabilitiesOf, verifyLeafNodeSignature } from "../tree/leafNodeValidation.js";
import type { PublicRatchetTree } from "../tree/ratchetTree.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { nowOf, type CredentialValidator, type GroupConfig } from "./groupConfig.js";
import { checkCredential, checkKeyPackageFields, keyPackageLeafOptions, verifyKeyPackageSignatures } from "./keyPackage.js";
import { isPathRequired, type CommittedProposal } from "./proposals.js";

/** A member a commit added: its KeyPackage and the leaf it got. */
export interface AddedMember {
  readonly leafIndex: LeafIndex;
  readonly keyPackage: KeyPackage;
}

/** A member whose leaf a commit changed or removed, with the leaf it had before. */
export interface ChangedMember {
  readonly leafIndex: LeafIndex;
  /** The leaf before the change (for a Remove, the member that left). */
  readonly leafNode: LeafNode;
}

/** What a commit changes, as both the committer (pending commit) and a receiver (staged commit) report it. */
export interface CommitChanges {
  readonly proposals: readonly CommittedProposal[];
  readonly added: readonly AddedMember[];
  readonly removed: readonly ChangedMember[];
  readonly updated: readonly ChangedMember[];
}

/** The provisional state after a proposal list (§12.3). */
export interface AppliedProposals {
  /** A copy of the tree with the proposals applied; the original is untouched. */
  readonly tree: PublicRatchetTree;
  /** GroupContext extensions of the new epoch. */
  readonly extensions: Extension[];
  readonly extensionsChanged: boolean;
  readonly added: AddedMember[];
  readonly removed: ChangedMember[];
  readonly updated: ChangedMember[];
  /** PSKs to inject, in list order (§8.4). */
  readonly psks: PreSharedKeyId[];
  readonly externalInit?: ExternalInit;
  readonly reinit?: ReInit;
  readonly pathRequired: boolean;
}

export interface ApplyOptions {
  readonly suite: CipherSuite;
  readonly tree: PublicRatchetTree;
  readonly groupContext: GroupContext;
  /** Current time (seconds) for KeyPackage lifetimes, when the application has a clock. */
  readonly now?: bigint;
  readonly maxLifetime?: bigint;
  readonly validateCredential?: CredentialValidator;
}

/** The options to apply a list against a group's current epoch, policy from its configuration. */
export function applyOptionsFor(state: { suite: CipherSuite; tree: PublicRatchetTree; groupContext: GroupContext }, config: GroupConfig): ApplyOptions {
  const now = nowOf(config);
  return {
    suite: state.suite,
    tree: state.tree,
    groupContext: state.groupContext,
    ...(now === undefined ? {} : { now }),
    ...(config.maxLifetime === undefined ? {} : { maxLifetime: config.maxLifetime }),
    ...(config.validateCredential === undefined ? {} : { validateCredential: config.validateCredential }),
  };
}

/** Decodes the GroupContext extensions we understand so a malformed one is rejected now, not when used. */
function checkKnownExtensions(extensions: readonly Extension[]): void {
  readExtension(extensions, ExtensionType.requiredCapabilities, requiredCapabilitiesCodec);
  readExtension(extensions, ExtensionType.externalSenders, externalSendersCodec);
}

/**
 * §11.1, §12.1.7: a GroupContextExtensions proposal is invalid when some
 * member (other than those in `skip`) does not support the extensions or
 * the required_capabilities it sets. PROPOSAL_UNSUPPORTED_CAPABILITIES.
 */
export function checkExtensionsSupported(tree: PublicRatchetTree, extensions: readonly Extension[], skip: ReadonlySet<number>): void {
  checkKnownExtensions(extensions);
  const required = requiredCapabilitiesOf(extensions);
  for (const m of tree.members()) {
    if (skip.has(m.leafIndex)) continue;
    try {
      checkLeafNodeContents(m.leafNode, { groupContextExtensions: extensions }, required);
    } catch (e) {
      if (e instanceof MlsError && e.code === "LEAF_NODE_INVALID_CAPABILITIES") {
        throw new MlsError("PROPOSAL_UNSUPPORTED_CAPABILITIES", `leaf ${m.leafIndex} does not support the new group context extensions: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }
}

/**
 * Applies `list` (already through validateProposalList) to a copy of the
 * tree. Throws the MlsError of the first invalid proposal.
 */
export async function applyProposals(opts: ApplyOptions, list: readonly CommittedProposal[]): Promise<AppliedProposals> {
  const { checks, ...applied } = startApplyingProposals(opts, list);
  await checks;
  return applied;
}

/**
 * {@link applyProposals} with its signature and credential checks left
 * running in `checks`, so a caller can do the next steps (path encryption,
 * the Welcome's HPKE) while they run (on other threads, with the node
 * provider). The caller must await `checks` before anything leaves it or
 * changes its state; until then the result is provisional. Synchronous
 * failures throw at once; `checks` never rejects unhandled.
 */
export function startApplyingProposals(opts: ApplyOptions, list: readonly CommittedProposal[]): AppliedProposals & { readonly checks: Promise<void> } {
  const { suite } = opts;
  const groupId = opts.groupContext.groupId;
  const tree = opts.tree.clone();
  const pending: Promise<void>[] = [];
  // A synchronous failure may abandon checks already started: mark them handled so none is reported as unhandled.
  const later = (p: Promise<void>): void => {
    p.catch(() => undefined);
    pending.push(p);
  };

  // 1. GroupContextExtensions: the new list is used to evaluate everything after it.
  let extensions = opts.groupContext.extensions;
  let extensionsChanged = false;
  for (const { proposal: p } of list) {
    if (p.proposalType === ProposalType.groupContextExtensions) {
      checkKnownExtensions(p.extensions);
      extensions = p.extensions;
      extensionsChanged = true;
    }
  }
  const required = requiredCapabilitiesOf(extensions);
  const { inUse, supportedByAll } = opts.tree.credentialTypes();
  const requirements = { groupContextExtensions: extensions, credentialTypesInUse: inUse, credentialTypesSupportedByAll: supportedByAll };

  // 2. Updates: replace the sender's leaf, blank its direct path (§12.1.2).
  const updated: ChangedMember[] = [];
  for (const { proposal: p, sender, verified } of list) {
    if (p.proposalType !== ProposalType.update) continue;
    if (sender.senderType !== SenderType.member) throw new MlsError("PROPOSAL_INVALID_SENDER", "only a member can send an Update");
    const leafIndex = sender.leafIndex;
    const old = tree.requireLeafNode(leafIndex);
    checkLeafNodeContents(p.leafNode, { ...requirements, expectedSource: LeafNodeSource.update }, required);
    // §7.3: a fresh encryption key (the replaced leaf's included) and a signature key no other member has.
    checkLeafNodeKeysUnique(tree, p.leafNode, leafIndex);
    if (verified !== true) {
      const leaf = p.leafNode;
      later(
        (async () => {
          await checkCredential(opts.validateCredential, leaf.credential, leaf.signatureKey, { kind: "update", groupId, leafIndex });
          if (!(await verifyLeafNodeSignature(suite, leaf, { groupId, leafIndex }))) {
            throw new MlsError("TREE_INVALID_LEAF_SIGNATURE", `the Update for leaf ${leafIndex} has a bad leaf signature`);
          }
        })(),
      );
    }
    tree.updateLeaf(leafIndex, p.leafNode);
    updated.push({ leafIndex, leafNode: old });
  }

  // draft-ietf-mls-extensions "SelfRemove": "processed after Update proposals and before Remove proposals",
  // removing the leaf of the proposal's sender.
  const removed: ChangedMember[] = [];
  for (const { proposal: p, sender } of list) {
    if (p.proposalType !== ProposalType.selfRemove) continue;
    if (sender.senderType !== SenderType.member) throw new MlsError("PROPOSAL_INVALID_SENDER", "only a member can send a SelfRemove");
    const old = tree.leafNode(sender.leafIndex);
    if (old === undefined) throw new MlsError("PROPOSAL_REMOVE_BLANK_LEAF", `SelfRemove from blank leaf ${sender.leafIndex}`);
    tree.removeLeaf(sender.leafIndex);
    removed.push({ leafIndex: sender.leafIndex, leafNode: old });
  }

  // 3. Removes (§12.1.3).
  for (const { proposal: p } of list) {
    if (p.proposalType !== ProposalType.remove) continue;
    const old = tree.leafNode(p.removed);
    if (old === undefined) throw new MlsError("PROPOSAL_REMOVE_BLANK_LEAF", `Remove names blank leaf ${p.removed}`);
    tree.removeLeaf(p.removed);
    removed.push({ leafIndex: p.removed, leafNode: old });
  }

  // 4. Adds, in list order (§12.1.1).
  const added: AddedMember[] = [];
  // Built once for all the Adds: a commit may add thousands of members.
  const leafOptions = keyPackageLeafOptions({ ...requirements, credentialTypesInUse: [...inUse], now: opts.now, maxLifetime: opts.maxLifetime });
  const validateCredential = opts.validateCredential;
  for (const { proposal: p, verified } of list) {
    if (p.proposalType !== ProposalType.add) continue;
    const kp = p.keyPackage;
    checkKeyPackageFields(suite, kp, leafOptions, required);
    checkLeafNodeKeysUnique(tree, kp.leafNode, undefined);
    if (verified !== true) {
      if (validateCredential !== undefined) later(checkCredential(validateCredential, kp.leafNode.credential, kp.leafNode.signatureKey, { kind: "add", groupId }));
      later(verifyKeyPackageSignatures(suite, kp));
    }
    added.push({ leafIndex: tree.addLeaf(kp.leafNode), keyPackage: kp });
  }

  // §11.1, §12.1.7: after a GroupContextExtensions every remaining member must support what it requires.
  if (extensionsChanged) checkExtensionsSupported(tree, extensions, new Set<number>(added.map((a) => a.leafIndex)));

  // 5-7. PSKs in order, ExternalInit, ReInit.
  const psks: PreSharedKeyId[] = [];
  let externalInit: ExternalInit | undefined;
  let reinit: ReInit | undefined;
  for (const { proposal: p } of list) {
    if (p.proposalType === ProposalType.psk) psks.push(p.psk);
    else if (p.proposalType === ProposalType.externalInit) externalInit = { kemOutput: p.kemOutput };
    else if (p.proposalType === ProposalType.reinit) reinit = { groupId: p.groupId, version: p.version, cipherSuite: p.cipherSuite, extensions: p.extensions };
  }

  const checks = Promise.all(pending).then(() => undefined);
  checks.catch(() => undefined);
  return {
    checks,
    tree,
    extensions,
    extensionsChanged,
    added,
    removed,
    updated,
    psks,
    ...(externalInit === undefined ? {} : { externalInit }),
    ...(reinit === undefined ? {} : { reinit }),
    pathRequired: isPathRequired(list),
  };
}
