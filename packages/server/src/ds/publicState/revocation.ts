/**
 * Revocation reaching groups (issue 17 item 3, RFC 9420 §12.1.8.1): the DS
 * is listed in a group's external_senders and proposes the removal of a
 * revoked client's leaf itself. The proposal is validated by the DS's own
 * PublicGroup like any other, so members can commit it by reference.
 */
import { ApiError } from "@conclave/api";
import { bytesEqual, createExternalProposal, ExtensionType, externalSendersCodec, ProposalType, readExtension, SenderType, type LeafIndex, type PublicGroup } from "@conclave/mls";

export interface DsSigningKey {
  readonly signaturePublicKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
}

export interface RevocationProposal {
  /** MLSMessage(PublicMessage) to fan out to the group's members. */
  readonly message: Uint8Array;
  readonly proposalRef: Uint8Array;
  /** The group with the proposal cached (store it with the message). */
  readonly group: PublicGroup;
}

/**
 * A Remove proposal from the DS for the leaf holding `revokedSignatureKey`,
 * or undefined when no leaf holds it or when the DS's Remove of that leaf is
 * already pending in this epoch (so a repeated revocation or the sweep,
 * revocationSweep.ts, never sends it twice). FORBIDDEN when the DS is not among the
 * group's external_senders (the group did not give it that power).
 */
export async function revocationProposal(group: PublicGroup, revokedSignatureKey: Uint8Array, ds: DsSigningKey): Promise<RevocationProposal | undefined> {
  const leaf = group.findLeafBySignatureKey(revokedSignatureKey);
  if (leaf === undefined) return undefined;
  const senders = readExtension(group.groupContext.extensions, ExtensionType.externalSenders, externalSendersCodec) ?? [];
  const senderIndex = senders.findIndex((s) => bytesEqual(s.signatureKey, ds.signaturePublicKey));
  if (senderIndex < 0) throw new ApiError("FORBIDDEN", "the DS is not an external sender of this group");
  if (removalPending(group, leaf, senderIndex)) return undefined;
  const { message, ref } = await createExternalProposal(
    { suite: group.suite, groupId: group.groupId, epoch: group.epoch, proposal: { proposalType: ProposalType.remove, removed: leaf } },
    { senderIndex, signaturePrivateKey: ds.signaturePrivateKey },
  );
  const r = await group.processMessage(message);
  return { message, proposalRef: ref, group: r.state };
}

/** Whether the DS (external sender `senderIndex`) already proposed removing `leaf` in this epoch. */
function removalPending(group: PublicGroup, leaf: LeafIndex, senderIndex: number): boolean {
  return group
    .pendingProposals()
    .some((p) => p.sender.senderType === SenderType.external && p.sender.senderIndex === senderIndex && p.proposal.proposalType === ProposalType.remove && p.proposal.removed === leaf);
}
