/**
 * Applying a verified commit to a group's public state (RFC 9420 §12.4.2)
 * without any secret: the same proposal rules and proposal application as a
 * member (processCommit.ts), the UpdatePath merged into the public tree with
 * its leaf validated (§7.3) and parent hashes checked (§7.9.2), the new tree
 * hash, and the new GroupContext with its confirmed transcript hash (§8.2),
 * which are computed from public data.
 *
 * What a non-member cannot check: the confirmation tag (MAC under the new
 * epoch's confirmation_key), that the path secrets are encrypted correctly,
 * that a PSK exists, and that an ExternalInit's kem_output matches the
 * group's external_pub. A member that cannot process the commit finds out.
 */
import { MlsError } from "../../errors.js";
import type { EncodedAuthenticatedContent } from "../../framing/context.js";
import { ContentType } from "../../messages/enums.js";
import type { Extension } from "../../messages/extension.js";
import type { Sender } from "../../messages/framing.js";
import { groupContextCodec, type GroupContext } from "../../messages/groupContext.js";
import type { LeafNode } from "../../messages/leafNode.js";
import type { ReInit } from "../../messages/proposal.js";
import { encode } from "../../codec/tls.js";
import { interimTranscriptHash } from "../../schedule/transcriptHash.js";
import { mergeUpdatePath } from "../../tree/treeKem.js";
import type { LeafIndex } from "../../tree/treeMath.js";
import type { CommitChanges } from "../applyProposals.js";
import { confirmedGroupContext } from "../commitSchedule.js";
import type { GroupConfig } from "../groupConfig.js";
import { applyCommitProposals, commitPathValidation, committerOf, provisionalGroupContext, resolveCommitProposals } from "../processCommit.js";
import { validateProposalList } from "../proposals.js";
import type { PublicGroupState } from "./publicGroupState.js";

/** What a validated commit did, as the DS sees it. */
export interface PublicCommitInfo extends CommitChanges {
  readonly sender: Sender;
  /** The committer's leaf in the new epoch (an external joiner's new leaf). */
  readonly committer: LeafIndex;
  readonly fromEpoch: bigint;
  readonly epoch: bigint;
  readonly pathIncluded: boolean;
  /** Set for an external commit (§12.4.3.2): the leaf the joiner took. */
  readonly externalJoiner?: { readonly leafIndex: LeafIndex; readonly leafNode: LeafNode };
  /** The new GroupContext extensions when a GroupContextExtensions proposal changed them. */
  readonly newExtensions?: readonly Extension[];
  /** A committed ReInit (§11.2): the group ends with this epoch. */
  readonly reinit?: ReInit;
  readonly authenticatedData: Uint8Array;
}

/**
 * §12.4.2 for a non-member: validates a commit whose signature was checked
 * (verifyPublicMessage) and derives the next public state (without a
 * GroupInfo: see checkGroupInfoForEpoch). `state` is untouched. Errors:
 * PROPOSAL_*, EXTERNAL_COMMIT_*, COMMIT_MISSING_PATH, TREE_*, LEAF_NODE_*,
 * UPDATE_PATH_INVALID, MESSAGE_INVALID_SENDER, MESSAGE_INVALID_CONFIRMATION_TAG.
 */
export async function applyPublicCommit(
  state: PublicGroupState,
  config: GroupConfig,
  ac: EncodedAuthenticatedContent,
): Promise<{ readonly next: PublicGroupState; readonly info: PublicCommitInfo }> {
  const { suite, groupContext } = state;
  const content = ac.content;
  if (content.contentType !== ContentType.commit) throw new MlsError("INVALID_ARGUMENT", "not a commit");
  const tag = ac.auth.confirmationTag;
  if (tag === undefined || tag.length !== suite.params.nh) throw new MlsError("MESSAGE_INVALID_CONFIRMATION_TAG", "a commit carries a confirmation tag of the suite's MAC length");
  const commit = content.commit;
  const sender = content.sender;
  const committerKind = committerOf(sender, commit);
  const list = resolveCommitProposals(state, commit, sender);
  validateProposalList({ suite, tree: state.tree, groupContext, committer: committerKind, ...(config.sameClient ? { sameClient: config.sameClient } : {}) }, list);
  const { applied, committer, joiner } = applyCommitProposals(state, config, commit, committerKind, list);
  const tree = applied.tree;
  if (commit.path !== undefined) {
    // §12.4.2: blank the committer's direct path, set the new public keys and the leaf; parent hashes checked.
    await mergeUpdatePath({ tree, sender: committer, updatePath: commit.path, groupId: groupContext.groupId, ...commitPathValidation(state, config, applied, committer) });
  }
  await applied.checks;
  const provisional: GroupContext = { ...provisionalGroupContext(groupContext, applied.extensions), treeHash: tree.treeHash() };
  const next = confirmedGroupContext(suite, state.interimTranscriptHash, provisional, ac);
  const nextState: PublicGroupState = {
    suite,
    groupContext: next,
    groupContextBytes: encode(groupContextCodec, next),
    tree,
    interimTranscriptHash: interimTranscriptHash(suite, next.confirmedTranscriptHash, tag),
    confirmationTag: tag,
    proposals: new Map(),
    ...(applied.reinit === undefined ? {} : { reinit: applied.reinit }),
  };
  const info: PublicCommitInfo = {
    sender,
    committer,
    fromEpoch: groupContext.epoch,
    epoch: next.epoch,
    proposals: list,
    added: applied.added,
    removed: applied.removed,
    updated: applied.updated,
    pathIncluded: commit.path !== undefined,
    ...(joiner === undefined ? {} : { externalJoiner: joiner }),
    ...(applied.extensionsChanged ? { newExtensions: applied.extensions } : {}),
    ...(applied.reinit === undefined ? {} : { reinit: applied.reinit }),
    authenticatedData: content.authenticatedData,
  };
  return { next: nextState, info };
}
