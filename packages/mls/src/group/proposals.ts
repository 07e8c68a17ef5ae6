/**
 * Proposal list validation (RFC 9420 §12.2) and the per-proposal rules of
 * §12.1 that need no signature check, each failure with its own error code.
 * The checks that need the provisional tree (leaf node validity, key
 * uniqueness, required capabilities after a GroupContextExtensions) run while
 * the list is applied: see applyProposals.ts.
 */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { isDefaultProposalType, ProposalType, PskType, ResumptionPskUsage, SenderType } from "../messages/enums.js";
import type { Sender } from "../messages/framing.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { LeafNode } from "../messages/leafNode.js";
import type { Proposal } from "../messages/proposal.js";
import { preSharedKeyIdCodec, type PreSharedKeyId } from "../messages/psk.js";
import { KeySet } from "../tree/keyTable.js";
import type { PublicRatchetTree } from "../tree/ratchetTree.js";
import type { LeafIndex } from "../tree/treeMath.js";
import type { SameClient } from "./groupConfig.js";

/** A proposal of a commit, resolved: its sender, and its ProposalRef when it came by reference. */
export interface CommittedProposal {
  readonly proposal: Proposal;
  readonly sender: Sender;
  readonly ref?: Uint8Array;
  /** True when signatures and credentials were already checked on receipt (proposals by reference). */
  readonly verified?: boolean;
}

/** §12.4: proposal types that require the commit to carry a path (the "Path Required" column of §17.4). */
const PATH_NOT_REQUIRED = new Set<number>([ProposalType.add, ProposalType.psk, ProposalType.reinit]);

/**
 * §12.4: a path is required when the commit covers no proposal or any
 * proposal whose type requires one (everything but add, psk and reinit).
 */
export function isPathRequired(proposals: readonly { proposal: Proposal }[]): boolean {
  if (proposals.length === 0) return true;
  return proposals.some((p) => !PATH_NOT_REQUIRED.has(p.proposal.proposalType));
}

/** Throws COMMIT_MISSING_PATH when the commit needs a path and has none (§12.4). */
export function requirePathIfNeeded(proposals: readonly { proposal: Proposal }[], hasPath: boolean): void {
  if (!hasPath && isPathRequired(proposals)) {
    throw new MlsError("COMMIT_MISSING_PATH", "this commit must carry an UpdatePath (it is empty or covers a path-required proposal)");
  }
}

/** The leaf a member sender occupies, or undefined for other sender types. */
export function senderLeaf(sender: Sender): LeafIndex | undefined {
  return sender.senderType === SenderType.member ? sender.leafIndex : undefined;
}

/** Encoded PreSharedKeyID, the identity used to compare two PSKs. */
export function pskIdBytes(id: PreSharedKeyId): Uint8Array {
  return encode(preSharedKeyIdCodec, id);
}

/** What the per-proposal checks of §12.1 need to know about the group. */
export interface ProposalCheckContext {
  readonly suite: CipherSuite;
  readonly tree: PublicRatchetTree;
  readonly groupContext: GroupContext;
}

/**
 * §12.1.4: a PreSharedKey proposal must not carry a reinit or branch
 * resumption PSK (those only appear in a Welcome), and its nonce is Nh bytes.
 */
export function checkPskProposal(suite: CipherSuite, psk: PreSharedKeyId): void {
  if (psk.pskType === PskType.resumption && psk.usage !== ResumptionPskUsage.application) {
    throw new MlsError("PROPOSAL_PSK_INVALID_USAGE", "a PreSharedKey proposal may not use a reinit or branch resumption PSK");
  }
  if (psk.pskNonce.length !== suite.params.nh) {
    throw new MlsError("PROPOSAL_PSK_INVALID_NONCE", `psk_nonce must be ${suite.params.nh} bytes, got ${psk.pskNonce.length}`);
  }
}

/**
 * The §12.1 rules of one proposal that need no signature and no provisional
 * tree: Remove of a non-blank leaf, PSK usage and nonce, ReInit version, no
 * standalone ExternalInit, default types only, Update only from a member.
 * (KeyPackage and LeafNode validity are checked by applyProposals.)
 */
export function checkProposalSync(ctx: ProposalCheckContext, p: Proposal, sender: Sender): void {
  switch (p.proposalType) {
    case ProposalType.add:
      return;
    case ProposalType.update:
      if (sender.senderType !== SenderType.member) throw new MlsError("PROPOSAL_INVALID_SENDER", "only a member can send an Update");
      return;
    case ProposalType.remove:
      if (!ctx.tree.hasLeaf(p.removed) || ctx.tree.leafNode(p.removed) === undefined) {
        throw new MlsError("PROPOSAL_REMOVE_BLANK_LEAF", `Remove names leaf ${p.removed}, which is blank or outside the tree`);
      }
      return;
    case ProposalType.psk:
      return checkPskProposal(ctx.suite, p.psk);
    case ProposalType.reinit:
      // §12.1.5: "invalid if the version field is less than the version for the current group".
      if (p.version < ctx.groupContext.version) throw new MlsError("PROPOSAL_REINIT_INVALID_VERSION", "ReInit would downgrade the protocol version");
      return;
    case ProposalType.externalInit:
      return;
    case ProposalType.groupContextExtensions:
      return;
    case ProposalType.selfRemove:
      // draft-ietf-mls-extensions "SelfRemove": only a member removes itself (External: N), and only in a
      // self-remove-capable group, one whose every member lists the type in its capabilities.
      if (sender.senderType !== SenderType.member) throw new MlsError("PROPOSAL_INVALID_SENDER", "only a member can send a SelfRemove");
      if (!isSelfRemoveCapable(ctx.tree)) throw new MlsError("PROPOSAL_UNSUPPORTED_TYPE", "SelfRemove needs every member to support it in its capabilities");
      return;
    default:
      // §12.2: a non-default proposal type must be supported by every member that processes the commit.
      // We implement none, so our own leaf does not list any: the proposal cannot be valid.
      if (!isDefaultProposalType(p.proposalType)) throw new MlsError("PROPOSAL_UNSUPPORTED_TYPE", `proposal type ${p.proposalType} is not supported`);
      return;
  }
}

/** draft-ietf-mls-extensions "SelfRemove": every member's leaf capabilities list the self_remove proposal type. */
export function isSelfRemoveCapable(tree: PublicRatchetTree): boolean {
  for (const m of tree.members()) {
    if (!m.leafNode.capabilities.proposals.includes(ProposalType.selfRemove)) return false;
  }
  return true;
}

/** The committer: a member at a leaf, or a new member joining by external commit. */
export type Committer = { readonly kind: "member"; readonly leafIndex: LeafIndex } | { readonly kind: "external" };

export interface ProposalListContext extends ProposalCheckContext {
  readonly committer: Committer;
  /** RFC 9420 §12.2 "same client according to the application"; default: same signature key. */
  readonly sameClient?: SameClient;
}

/**
 * RFC 9420 §12.2: the list rules for a regular commit or an external commit,
 * plus the synchronous per-proposal rules. Throws the first violation.
 */
export function validateProposalList(ctx: ProposalListContext, list: readonly CommittedProposal[]): void {
  for (const item of list) {
    if (item.proposal.proposalType === ProposalType.externalInit && ctx.committer.kind === "member") {
      throw new MlsError("PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED", "an ExternalInit may only appear in an external commit");
    }
    checkProposalSync(ctx, item.proposal, item.sender);
  }
  if (ctx.committer.kind === "external") validateExternalCommitList(list);
  else validateMemberCommitList(ctx, ctx.committer.leafIndex, list);
  checkDuplicatePsks(list);
}

function checkDuplicatePsks(list: readonly CommittedProposal[]): void {
  const seen: Uint8Array[] = [];
  for (const { proposal: p } of list) {
    if (p.proposalType !== ProposalType.psk) continue;
    const id = pskIdBytes(p.psk);
    if (seen.some((s) => bytesEqual(s, id))) throw new MlsError("PROPOSAL_DUPLICATE_PSK", "two PreSharedKey proposals name the same PSK");
    seen.push(id);
  }
}

/** §12.2, external commit: exactly one ExternalInit, at most one Remove, any PreSharedKeys, nothing else. */
function validateExternalCommitList(list: readonly CommittedProposal[]): void {
  let externalInits = 0;
  let removes = 0;
  for (const item of list) {
    if (item.ref !== undefined) throw new MlsError("EXTERNAL_COMMIT_PROPOSAL_BY_REFERENCE", "an external commit may not include proposals by reference");
    switch (item.proposal.proposalType) {
      case ProposalType.externalInit:
        externalInits++;
        break;
      case ProposalType.remove:
        removes++;
        break;
      case ProposalType.psk:
        break;
      default:
        throw new MlsError("EXTERNAL_COMMIT_INVALID_PROPOSALS", `an external commit may not include a proposal of type ${item.proposal.proposalType}`);
    }
  }
  if (externalInits !== 1) throw new MlsError("EXTERNAL_COMMIT_INVALID_PROPOSALS", `an external commit needs exactly one ExternalInit, it has ${externalInits}`);
  if (removes > 1) throw new MlsError("EXTERNAL_COMMIT_INVALID_PROPOSALS", "an external commit may remove at most one (old) member");
}

/** §12.2, regular commit. */
function validateMemberCommitList(ctx: ProposalListContext, committer: LeafIndex, list: readonly CommittedProposal[]): void {
  const touched = new Set<number>(); // leaves with an Update or a Remove
  const removed = new Set<number>();
  let gce = 0;
  let reinit = 0;
  for (const { proposal: p, sender, ref } of list) {
    let leaf: number | undefined;
    if (p.proposalType === ProposalType.update) {
      leaf = senderLeaf(sender);
      if (leaf === committer) throw new MlsError("PROPOSAL_UPDATE_BY_COMMITTER", "a commit may not include an Update from its committer");
    } else if (p.proposalType === ProposalType.remove) {
      leaf = p.removed;
      if (leaf === committer) throw new MlsError("PROPOSAL_REMOVE_COMMITTER", "a commit may not remove its committer");
      removed.add(leaf);
    } else if (p.proposalType === ProposalType.selfRemove) {
      // draft-ietf-mls-extensions "SelfRemove": "only allowed in a Commit by reference"; it removes its sender,
      // so a Remove or Update for the same leaf in the same commit is a duplicate.
      if (ref === undefined) throw new MlsError("PROPOSAL_SELF_REMOVE_BY_VALUE", "a SelfRemove may only be committed by reference");
      leaf = senderLeaf(sender);
      if (leaf === committer) throw new MlsError("PROPOSAL_REMOVE_COMMITTER", "a commit may not include its committer's SelfRemove");
      if (leaf !== undefined) removed.add(leaf);
    } else if (p.proposalType === ProposalType.groupContextExtensions) {
      gce++;
    } else if (p.proposalType === ProposalType.reinit) {
      reinit++;
    }
    if (leaf !== undefined) {
      if (touched.has(leaf)) throw new MlsError("PROPOSAL_DUPLICATE_UPDATE_OR_REMOVE", `more than one Update/Remove for leaf ${leaf}`);
      touched.add(leaf);
    }
  }
  if (gce > 1) throw new MlsError("PROPOSAL_MULTIPLE_GROUP_CONTEXT_EXTENSIONS", "more than one GroupContextExtensions proposal");
  if (reinit > 0 && list.length > 1) throw new MlsError("PROPOSAL_REINIT_NOT_ALONE", "a ReInit must be the only proposal of its commit");
  checkAdds(ctx, list, removed);
}

/** §12.2: no two Adds for the same client, and no Add for a client already in the group unless it is removed too. */
function checkAdds(ctx: ProposalListContext, list: readonly CommittedProposal[], removed: ReadonlySet<number>): void {
  const adds: LeafNode[] = [];
  for (const c of list) if (c.proposal.proposalType === ProposalType.add) adds.push(c.proposal.keyPackage.leafNode);
  if (adds.length === 0) return;
  const same = ctx.sameClient;
  if (same === undefined) {
    // Default identity is the signature key: a set by key hash finds repeats in O(n).
    const seen = new KeySet();
    for (const leaf of adds) if (!seen.add(leaf.signatureKey)) throw new MlsError("PROPOSAL_DUPLICATE_ADD", "two Add proposals are for the same client");
  } else {
    for (let i = 0; i < adds.length; i++) {
      for (let j = 0; j < i; j++) {
        if (same(adds[i]!, adds[j]!)) throw new MlsError("PROPOSAL_DUPLICATE_ADD", "two Add proposals are for the same client");
      }
    }
  }
  if (same === undefined) {
    // Signature keys are indexed by the tree: O(1) per Add.
    for (const leaf of adds) {
      const existing = ctx.tree.findLeafBySignatureKey(leaf.signatureKey);
      if (existing !== undefined && !removed.has(existing)) {
        throw new MlsError("PROPOSAL_ADD_EXISTING_MEMBER", `an Add is for the client already at leaf ${existing}`);
      }
    }
    return;
  }
  for (const m of ctx.tree.members()) {
    if (removed.has(m.leafIndex)) continue;
    for (const leaf of adds) {
      if (same(leaf, m.leafNode)) throw new MlsError("PROPOSAL_ADD_EXISTING_MEMBER", `an Add is for the client already at leaf ${m.leafIndex}`);
    }
  }
}
