/**
 * Proposals from outside the group (RFC 9420 §12.1.8): an `external` sender
 * listed in the group's external_senders extension (a DS or an admin
 * service), or a `new_member_proposal` sender asking to be added with its own
 * KeyPackage. Both travel as PublicMessage without membership tag and sign
 * without the GroupContext (§6.1), so all they need is the group id and epoch.
 */
import { encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { signFramedContent } from "../framing/contentAuth.js";
import { authenticatedContentBytes, createFramingContext } from "../framing/context.js";
import { protectPublicMessage } from "../framing/publicMessage.js";
import { ContentType, ProposalType, ProtocolVersion, SenderType, WireFormat } from "../messages/enums.js";
import type { Sender } from "../messages/framing.js";
import { groupContextCodec } from "../messages/groupContext.js";
import type { KeyPackage } from "../messages/keyPackage.js";
import type { Proposal } from "../messages/proposal.js";
import { makeProposalRef } from "../messages/refs.js";

/** What {@link createExternalProposal} signs: the proposal, for a group and epoch (RFC 9420 §12.1.8). */
export interface ExternalProposalInput {
  readonly suite: CipherSuite;
  readonly groupId: Uint8Array;
  /** The group's current epoch. */
  readonly epoch: bigint;
  readonly proposal: Proposal;
  readonly authenticatedData?: Uint8Array;
}

/** An external sender's position in external_senders and its signing key. */
export interface ExternalSenderKey {
  readonly senderIndex: number;
  readonly signaturePrivateKey: Uint8Array;
}

async function signExternal(input: ExternalProposalInput, sender: Sender, signaturePrivateKey: Uint8Array): Promise<{ message: Uint8Array; ref: Uint8Array }> {
  const { suite } = input;
  const content = await signFramedContent(
    suite,
    signaturePrivateKey,
    WireFormat.publicMessage,
    { groupId: input.groupId, epoch: input.epoch, sender, authenticatedData: input.authenticatedData ?? new Uint8Array(0), contentType: ContentType.proposal, proposal: input.proposal },
    undefined,
  );
  // The framing context only lends the group id and epoch here: no GroupContext is signed or MACed for these senders.
  const ctx = createFramingContext(
    suite,
    encode(groupContextCodec, {
      version: ProtocolVersion.mls10,
      cipherSuite: suite.id,
      groupId: input.groupId,
      epoch: input.epoch,
      treeHash: new Uint8Array(0),
      confirmedTranscriptHash: new Uint8Array(0),
      extensions: [],
    }),
  );
  return { message: protectPublicMessage(ctx, content), ref: makeProposalRef(suite, authenticatedContentBytes(content)) };
}

/**
 * §12.1.8: a proposal from an entry of external_senders (Add, Remove, PSK,
 * ReInit or GroupContextExtensions only).
 * @throws MlsError `MESSAGE_INVALID_SENDER` (another proposal type), `CRYPTO_INVALID_KEY` (a signature key the suite cannot use).
 */
export function createExternalProposal(input: ExternalProposalInput, sender: ExternalSenderKey): Promise<{ message: Uint8Array; ref: Uint8Array }> {
  return signExternal(input, { senderType: SenderType.external, senderIndex: sender.senderIndex }, sender.signaturePrivateKey);
}

/**
 * §12.1.8: a would-be member's own Add, signed with its KeyPackage's signature key.
 * @throws MlsError `INVALID_ARGUMENT` (synchronously: a KeyPackage of another cipher suite), `CRYPTO_INVALID_KEY`.
 */
export function createNewMemberProposal(
  input: Omit<ExternalProposalInput, "proposal">,
  keyPackage: KeyPackage,
  signaturePrivateKey: Uint8Array,
): Promise<{ message: Uint8Array; ref: Uint8Array }> {
  if (keyPackage.cipherSuite !== input.suite.id) throw new MlsError("INVALID_ARGUMENT", "the KeyPackage is for another cipher suite");
  return signExternal({ ...input, proposal: { proposalType: ProposalType.add, keyPackage } }, { senderType: SenderType.newMemberProposal }, signaturePrivateKey);
}
