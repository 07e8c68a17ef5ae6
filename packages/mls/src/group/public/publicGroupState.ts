/**
 * What a non-member (the Delivery Service) holds of a group (RFC 9750 §6,
 * draft-robert-mls-delivery-service "group metadata assistance"): the public
 * ratchet tree, the GroupContext, the interim transcript hash, the proposals
 * of the current epoch a commit may reference, and the latest GroupInfo.
 * No secret of any epoch is here. A state is replaced, never edited.
 */
import type { CipherSuite } from "../../crypto/cipherSuite.js";
import type { GroupContext } from "../../messages/groupContext.js";
import type { ReInit } from "../../messages/proposal.js";
import type { PublicRatchetTree } from "../../tree/ratchetTree.js";
import type { ReferencedProposal } from "../processCommit.js";

export interface PublicGroupState {
  readonly suite: CipherSuite;
  readonly groupContext: GroupContext;
  /** The encoded GroupContext: what member and new_member_commit signatures cover (§6.1). */
  readonly groupContextBytes: Uint8Array;
  readonly tree: PublicRatchetTree;
  /** interim_transcript_hash of the current epoch (§8.2), from the confirmation tag the commit carried. */
  readonly interimTranscriptHash: Uint8Array;
  /** The confirmation tag of the commit that started this epoch (unverifiable without epoch secrets). */
  readonly confirmationTag: Uint8Array;
  /** MLSMessage(GroupInfo) of the current epoch, when one was checked against it. */
  readonly groupInfo?: Uint8Array;
  /** Proposals received in this epoch, by hex ProposalRef (§12.1), checked on receipt. */
  readonly proposals: ReadonlyMap<string, ReferencedProposal>;
  /** Set once a commit covered a ReInit (§11.2): the group takes no more handshakes. */
  readonly reinit?: ReInit;
}
