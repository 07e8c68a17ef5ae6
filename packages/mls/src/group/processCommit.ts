/**
 * Processing a received Commit (RFC 9420 §12.4.2) into a StagedCommit: every
 * check runs and the new epoch is derived, but the group keeps its current
 * state until the application merges the staged commit.
 */
import { MlsError } from "../errors.js";
import type { EncodedAuthenticatedContent } from "../framing/context.js";
import { ContentType, ProposalOrRefType, ProposalType, SenderType } from "../messages/enums.js";
import type { Extension } from "../messages/extension.js";
import type { Sender } from "../messages/framing.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { Commit } from "../messages/commit.js";
import type { Proposal, ReInit } from "../messages/proposal.js";
import { constantTimeEqual, zeroize } from "../codec/bytes.js";
import { derivePskSecret } from "../schedule/pskSecret.js";
import { applyUpdatePath, type MergeUpdatePathOptions } from "../tree/treeKem.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import type { PrivateTreeKeys } from "../tree/privateTreeKeys.js";
import { leafToNode, type LeafIndex } from "../tree/treeMath.js";
import type { PublicRatchetTree } from "../tree/ratchetTree.js";
import type { LeafNode } from "../messages/leafNode.js";
import type { Credential } from "../messages/credential.js";
import { deriveExternalKeyPair, externalInitSecretReceive, zeroizeEpochSecrets } from "../schedule/keySchedule.js";
import { applyOptionsFor, startApplyingProposals, type AddedMember, type AppliedProposals, type ChangedMember, type CommitChanges } from "./applyProposals.js";
import { epochStateAfterCommit, runCommitSchedule } from "./commitSchedule.js";
import type { GroupConfig } from "./groupConfig.js";
import { ownLeaf, refKey, type GroupState } from "./groupState.js";
import { groupPskLookup, resolvePsks } from "./psk.js";
import { identicalCredentials } from "./resumption.js";
import { requirePathIfNeeded, validateProposalList, type CommittedProposal, type Committer } from "./proposals.js";

/** What a received commit does, for the application to inspect before merging it. */
export interface StagedCommitInfo extends CommitChanges {
  readonly sender: Sender;
  /** The epoch the commit leaves (the group's current epoch when it was staged). */
  readonly fromEpoch: bigint;
  /** The epoch it starts. */
  readonly epoch: bigint;
  /** The new GroupContext extensions when a GroupContextExtensions proposal changed them. */
  readonly newExtensions?: readonly Extension[];
  readonly pathIncluded: boolean;
  /** The commit removes us: merging it ends our membership. */
  readonly selfRemoved: boolean;
  /** The new member of an external commit (§12.4.3.2) and the leaf it took. */
  readonly externalJoiner?: { readonly leafIndex: LeafIndex; readonly leafNode: LeafNode };
  /** A committed ReInit (§11.2): after merging, the group must not be used to send; wait for the new group's Welcome. */
  readonly reinit?: ReInit;
  readonly authenticatedData: Uint8Array;
}

/** The internals a StagedCommit carries to the merge; not part of the public API. */
export interface StagedCommitState {
  /** The state the commit was staged against: merging into any other state is refused. */
  readonly base: GroupState;
  /** The new epoch's state; absent when the commit removed us. */
  readonly next?: GroupState;
}

/** Reads and forgets a StagedCommit's internals (set by its class's static block). */
let internalsOf!: (staged: StagedCommit) => StagedCommitState | undefined;
let forgetInternals!: (staged: StagedCommit) => void;

/** A StagedCommit's fields but selfRemoved. */
type StagedFields = Omit<StagedCommitInfo, "selfRemoved">;

/** A processed commit waiting to be merged (`Group.mergeStagedCommit`) or dropped. */
export class StagedCommit implements StagedCommitInfo {
  /** The committer. */
  readonly sender!: Sender;
  /** The epoch the commit leaves. */
  readonly fromEpoch!: bigint;
  /** The epoch it starts. */
  readonly epoch!: bigint;
  /** The proposals it applies, by value and by reference. */
  readonly proposals!: readonly CommittedProposal[];
  /** Members it adds. */
  readonly added!: readonly AddedMember[];
  /** Members it removes. */
  readonly removed!: readonly ChangedMember[];
  /** Members whose leaf it updates. */
  readonly updated!: readonly ChangedMember[];
  /** The new GroupContext extensions, when it changes them. */
  readonly newExtensions?: readonly Extension[];
  /** Whether it carries an UpdatePath. */
  readonly pathIncluded!: boolean;
  /** It removes us: merging it ends our membership. */
  readonly selfRemoved!: boolean;
  /** The new member of an external commit and its leaf. */
  readonly externalJoiner?: { readonly leafIndex: LeafIndex; readonly leafNode: LeafNode };
  /** A committed ReInit (§11.2). */
  readonly reinit?: ReInit;
  /** The commit's authenticated_data. */
  readonly authenticatedData!: Uint8Array;

  /**
   * Not part of the public API. A private field, not a WeakMap: V8's young-generation collector keeps a WeakMap's
   * entries alive, and every processed commit's next state was promoted to the old generation with it.
   */
  #internals: StagedCommitState | undefined;

  static {
    internalsOf = (staged) => (#internals in staged ? staged.#internals : undefined);
    forgetInternals = (staged) => {
      if (#internals in staged) staged.#internals = undefined;
    };
  }

  /** @internal */
  constructor(info: StagedFields, selfRemoved: boolean, state: StagedCommitState) {
    Object.assign(this, info);
    this.selfRemoved = selfRemoved;
    this.#internals = state;
  }
}

/** The internal state of a StagedCommit made by this module. */
export function stagedCommitState(staged: StagedCommit): StagedCommitState {
  const s = internalsOf(staged);
  if (s === undefined) throw new MlsError("GROUP_STALE_STAGED_COMMIT", "not a live StagedCommit (discarded, or not made by this library)");
  return s;
}

/** Forgets a staged commit (after it was discarded): it can no longer be merged. */
export function forgetStagedCommit(staged: StagedCommit): StagedCommitState | undefined {
  const s = internalsOf(staged);
  forgetInternals(staged);
  return s;
}

/** A proposal received in the current epoch as a commit may reference it: member and public (DS) caches both fit. */
export interface ReferencedProposal {
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
}

/** Turns the commit's ProposalOrRefs into proposals with their senders (§12.4): references must name a cached proposal. */
export function resolveCommitProposals(state: { readonly proposals: ReadonlyMap<string, ReferencedProposal> }, commit: Commit, committer: Sender): CommittedProposal[] {
  return commit.proposals.map((por): CommittedProposal => {
    if (por.type === ProposalOrRefType.proposal) return { proposal: por.proposal, sender: committer };
    const cached = state.proposals.get(refKey(por.reference));
    if (cached === undefined) throw new MlsError("PROPOSAL_UNKNOWN_REFERENCE", "the commit references a proposal we have not received in this epoch");
    return { proposal: cached.proposal, sender: cached.sender, ref: cached.ref, verified: true };
  });
}

/** The private keys to process the commit with: ours, with the leaf key of our own Update if the commit covers it. */
function keysAfterProposals(state: GroupState, applied: AppliedProposals, list: readonly CommittedProposal[]): PrivateTreeKeys {
  const keys = state.privateKeys.clone();
  const me = ownLeaf(state);
  if (applied.updated.some((u) => u.leafIndex === me)) {
    const own = list.find((c) => c.proposal.proposalType === ProposalType.update && c.sender.senderType === SenderType.member && c.sender.leafIndex === me);
    const cached = own?.ref === undefined ? undefined : state.proposals.get(refKey(own.ref));
    if (cached?.updateKeyPair === undefined) throw new MlsError("UPDATE_PATH_NO_DECRYPTION_KEY", "the commit covers an Update of our leaf whose private key we do not hold");
    keys.set(leafToNode(me), { privateKey: cached.updateKeyPair.privateKey.slice(), publicKey: cached.updateKeyPair.publicKey });
  }
  keys.prune(applied.tree);
  return keys;
}

/** Checks a message's application-policy callbacks; PROPOSAL_/COMMIT_REJECTED_BY_POLICY when refused. */
async function runPolicy(config: GroupConfig, state: GroupState, sender: Sender, list: readonly CommittedProposal[], authenticatedData: Uint8Array): Promise<void> {
  const epoch = state.groupContext.epoch;
  if (config.acceptProposal !== undefined) {
    for (const c of list) {
      if (c.ref !== undefined) continue; // accepted when it was received
      if (!(await config.acceptProposal({ proposal: c.proposal, sender: c.sender, epoch, via: "committed" }))) {
        throw new MlsError("PROPOSAL_REJECTED_BY_POLICY", `the application refused a committed proposal of type ${c.proposal.proposalType}`);
      }
    }
  }
  if (config.acceptCommit !== undefined && !(await config.acceptCommit({ sender, fromEpoch: epoch, proposals: list, authenticatedData }))) {
    throw new MlsError("COMMIT_REJECTED_BY_POLICY", "the application refused the commit");
  }
}

/**
 * §12.2: a resync external commit's new leaf must be acceptable for the
 * member it removes, by default the same credential (config.sameIdentity).
 */
export function checkResync(removed: readonly ChangedMember[], credential: Credential, config: GroupConfig): void {
  const same = config.sameIdentity ?? identicalCredentials;
  for (const r of removed) {
    if (!same(r.leafNode.credential, credential)) {
      throw new MlsError("EXTERNAL_COMMIT_RESYNC_IDENTITY", `an external commit may only remove an old appearance of its sender, not leaf ${r.leafIndex}`);
    }
  }
}

/** §12.4.3.2: the leftmost blank leaf, the tree extended by one level when it has none. */
export function takeBlankLeaf(tree: PublicRatchetTree): LeafIndex {
  const l = tree.leftmostBlankLeaf();
  if (l !== undefined) return l;
  const next = tree.leafCount as LeafIndex;
  tree.extend();
  return next;
}

/** §8.3, member side: init_secret from the ExternalInit's kem_output and the epoch's external key pair. */
async function externalInitSecretOf(state: GroupState, kemOutput: Uint8Array): Promise<Uint8Array> {
  const kp = await deriveExternalKeyPair(state.suite, state.keys.externalSecret);
  try {
    return await externalInitSecretReceive(state.suite, kp.privateKey, kemOutput);
  } finally {
    zeroize(kp.privateKey);
  }
}

/** The committer of a commit (§12.4.2): a member, or a new member by external commit, which may reference no proposal (§12.4.3.2). */
export function committerOf(sender: Sender, commit: Commit): Committer {
  if (sender.senderType === SenderType.member) return { kind: "member", leafIndex: sender.leafIndex };
  if (sender.senderType === SenderType.newMemberCommit) {
    if (commit.proposals.some((p) => p.type === ProposalOrRefType.reference)) {
      throw new MlsError("EXTERNAL_COMMIT_PROPOSAL_BY_REFERENCE", "an external commit may not include proposals by reference");
    }
    return { kind: "external" };
  }
  throw new MlsError("MESSAGE_INVALID_SENDER", "a commit comes from a member or a new member");
}

/** The epoch a commit's proposals lead to, before its path: the committer's leaf and, for an external commit, the joiner. */
export interface CommitProposalsApplied {
  /** The provisional tree and the rest (signature and credential checks still running in `applied.checks`). */
  readonly applied: AppliedProposals & { readonly checks: Promise<void> };
  readonly committer: LeafIndex;
  readonly joiner?: { readonly leafIndex: LeafIndex; readonly leafNode: LeafNode };
}

/**
 * §12.4.2 after the list checks, the same for a member and for a public
 * (DS) view: applies the proposals to a copy of the tree, requires a path
 * where §12.4 does, places an external joiner at the leftmost blank leaf
 * (§12.4.3.2) and checks that a resync removes only the joiner's own old leaf.
 */
export function applyCommitProposals(
  state: { suite: CipherSuite; tree: PublicRatchetTree; groupContext: GroupContext },
  config: GroupConfig,
  commit: Commit,
  committerKind: Committer,
  list: readonly CommittedProposal[],
): CommitProposalsApplied {
  const applied = startApplyingProposals(applyOptionsFor(state, config), list);
  requirePathIfNeeded(list, commit.path !== undefined);
  if (committerKind.kind === "member") return { applied, committer: committerKind.leafIndex };
  const committer = takeBlankLeaf(applied.tree);
  const joiner = { leafIndex: committer, leafNode: commit.path!.leafNode };
  checkResync(applied.removed, joiner.leafNode.credential, config);
  return { applied, committer, joiner };
}

/** §12.4.1: the provisional GroupContext (new epoch and extensions, old confirmed transcript hash); the path sets its tree hash. */
export function provisionalGroupContext(gc: GroupContext, extensions: Extension[]): Omit<GroupContext, "treeHash"> {
  return {
    version: gc.version,
    cipherSuite: gc.cipherSuite,
    groupId: gc.groupId,
    epoch: gc.epoch + 1n,
    confirmedTranscriptHash: gc.confirmedTranscriptHash,
    extensions,
  };
}

/** The UpdatePath's recipients to skip and the §7.3 checks of the committer's new LeafNode, credential callback included. */
export function commitPathValidation(
  state: { tree: PublicRatchetTree; groupContext: GroupContext },
  config: GroupConfig,
  applied: AppliedProposals,
  committer: LeafIndex,
): Pick<MergeUpdatePathOptions, "excludedLeaves" | "leafNodeValidation"> {
  const validator = config.validateCredential;
  const groupId = state.groupContext.groupId;
  const { inUse, supportedByAll } = state.tree.credentialTypes();
  return {
    excludedLeaves: applied.added.map((a) => a.leafIndex),
    leafNodeValidation: {
      groupContextExtensions: applied.extensions,
      credentialTypesInUse: inUse,
      credentialTypesSupportedByAll: supportedByAll,
      ...(validator === undefined ? {} : { validateCredential: (c, k) => Promise.resolve(validator(c, k, { kind: "commit", groupId, leafIndex: committer })).catch(() => false) }),
    },
  };
}

/**
 * §12.4.2: validates a verified (signature, membership tag / decryption done)
 * commit of the current epoch and derives the epoch it starts. Nothing in
 * `state` changes. Errors: PROPOSAL_*, COMMIT_*, TREE_*, LEAF_NODE_*,
 * UPDATE_PATH_*, MESSAGE_INVALID_CONFIRMATION_TAG.
 */
export async function stageCommit(state: GroupState, config: GroupConfig, ac: EncodedAuthenticatedContent): Promise<StagedCommit> {
  const { suite } = state;
  const content = ac.content;
  if (content.contentType !== ContentType.commit) throw new MlsError("INVALID_ARGUMENT", "not a commit");
  const commit = content.commit;
  const sender = content.sender;
  const me = ownLeaf(state);
  const committerKind = committerOf(sender, commit);
  if (committerKind.kind === "member" && committerKind.leafIndex === me) throw new MlsError("COMMIT_FROM_SELF", "a commit from our own leaf that is not our pending commit");

  const list = resolveCommitProposals(state, commit, sender);
  validateProposalList({ suite, tree: state.tree, groupContext: state.groupContext, committer: committerKind, ...(config.sameClient ? { sameClient: config.sameClient } : {}) }, list);
  await runPolicy(config, state, sender, list, content.authenticatedData);
  // Signature and credential checks of added/updated members run while the path is decrypted; awaited before staging.
  const { applied, committer, joiner } = applyCommitProposals(state, config, commit, committerKind, list);
  const lookup = groupPskLookup(config, state.groupContext.groupId, state.resumptionPsks);
  const pskEntries = resolvePsks(lookup, applied.psks);

  // The optional fields are listed, undefined when absent, as the StagedCommit fields they fill are: conditional
  // spreads in the literal defined each later field through a V8 runtime call.
  const base: StagedFields = {
    sender,
    externalJoiner: joiner,
    fromEpoch: state.groupContext.epoch,
    epoch: state.groupContext.epoch + 1n,
    proposals: list,
    added: applied.added,
    removed: applied.removed,
    updated: applied.updated,
    newExtensions: applied.extensionsChanged ? applied.extensions : undefined,
    pathIncluded: commit.path !== undefined,
    reinit: applied.reinit,
    authenticatedData: content.authenticatedData,
  };
  if (applied.removed.some((r) => r.leafIndex === me)) {
    // §12.4.2: "clients need to be prepared to receive a valid Commit message that removes them". We cannot
    // decrypt the path (our leaf is gone), so the new epoch is not derived.
    await applied.checks;
    return new StagedCommit(base, true, { base: state });
  }

  const provisional = provisionalGroupContext(state.groupContext, applied.extensions);
  const tree = applied.tree;
  let keys = keysAfterProposals(state, applied, list);
  let commitSecret: Uint8Array;
  let provisionalContext: GroupContext;
  if (commit.path !== undefined) {
    let out;
    try {
      // keys is this commit's own copy (keysAfterProposals): the path keys go into it in place.
      out = await applyUpdatePath({
        tree,
        sender: committer,
        updatePath: commit.path,
        groupContext: provisional,
        privateKeys: keys,
        updateKeysInPlace: true,
        ...commitPathValidation(state, config, applied, committer),
      });
    } catch (e) {
      keys.destroy();
      throw e;
    }
    keys = out.privateKeys;
    commitSecret = out.commitSecret;
    zeroize(out.pathSecret);
    provisionalContext = out.groupContext;
  } else {
    commitSecret = new Uint8Array(suite.params.nh);
    provisionalContext = { ...provisional, treeHash: tree.treeHash() };
  }

  const pskSecret = derivePskSecret(suite, pskEntries);
  // §8.3: an external commit replaces init_secret by the secret exported from its ExternalInit.
  const initSecret = applied.externalInit === undefined ? state.keys.initSecret : await externalInitSecretOf(state, applied.externalInit.kemOutput);
  const out = runCommitSchedule({
    suite,
    interimTranscriptHash: state.interimTranscriptHash,
    initSecret,
    provisional: provisionalContext,
    content: ac,
    commitSecret,
    pskSecret,
  });
  zeroize(commitSecret);
  zeroize(pskSecret);
  if (initSecret !== state.keys.initSecret) zeroize(initSecret);
  const tag = ac.auth.confirmationTag;
  if (tag === undefined || !constantTimeEqual(tag, out.confirmationTag)) {
    keys.destroy();
    zeroizeEpochSecrets(out.secrets);
    throw new MlsError("MESSAGE_INVALID_CONFIRMATION_TAG", "the commit's confirmation tag does not match the epoch it derives");
  }
  try {
    await applied.checks;
  } catch (e) {
    keys.destroy();
    zeroizeEpochSecrets(out.secrets);
    throw e;
  }
  const next = epochStateAfterCommit(
    suite,
    out,
    { tree, privateKeys: keys, signaturePrivateKey: state.signaturePrivateKey, previous: state, ...(applied.reinit === undefined ? {} : { reinit: applied.reinit }) },
    config,
  );
  return new StagedCommit(base, false, { base: state, next });
}
