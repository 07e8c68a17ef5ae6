/**
 * Receiving a PublicMessage or PrivateMessage (RFC 9420 §6, §12.1, §12.4.2):
 * routing by group and epoch, unprotecting with the right epoch's keys,
 * checking a standalone proposal (§12.1) before caching it, and staging a
 * commit. Late application messages of a retained past epoch are decrypted
 * with that epoch's secret tree (§14).
 */
import { bytesEqual } from "../codec/bytes.js";
import { asDecodeError, Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { authenticatedContentBytes, type EncodedAuthenticatedContent } from "../framing/context.js";
import { tryParsePrivateMessage, unprotectPrivateMessage, type ParsedPrivateMessage } from "../framing/privateMessageOpen.js";
import { decodePublicMessage, unprotectPublicMessage } from "../framing/publicMessage.js";
import { ContentType, LeafNodeSource, ProposalType, SenderType, WireFormat } from "../messages/enums.js";
import type { Sender } from "../messages/framing.js";
import type { Proposal } from "../messages/proposal.js";
import { makeProposalRef } from "../messages/refs.js";
import { readMlsMessageHead } from "../messages/mlsMessage.js";
import { checkLeafNodeContents, checkLeafNodeKeysUnique, verifyLeafNodeSignature } from "../tree/leafNodeValidation.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { checkExtensionsSupported } from "./applyProposals.js";
import { nowOf, type GroupConfig } from "./groupConfig.js";
import { pastPrivateMessageContext, privateMessageContext, publicMessageContext, refKey, senderSignatureKey, type CachedProposal, type GroupState } from "./groupState.js";
import { checkCredential, validateKeyPackage } from "./keyPackage.js";
import { stageCommit, type StagedCommit } from "./processCommit.js";
import { checkProposalSync } from "./proposals.js";

/** What {@link Group.processMessage} returns for application data. */
export interface ReceivedApplicationMessage {
  readonly kind: "application";
  readonly sender: LeafIndex;
  /** The epoch the message was sent in (a past epoch for a late message). */
  readonly epoch: bigint;
  /**
   * A view of a buffer shared with other plaintexts received (the node
   * provider's synchronous AEAD decrypts into shared buffers): read it through
   * the view (byteOffset, byteLength), and copy it with slice() to keep it
   * apart; never pass on its `buffer`.
   */
  readonly data: Uint8Array;
  readonly authenticatedData: Uint8Array;
}

/** What {@link Group.processMessage} returns for a proposal (cached until a commit). */
export interface ReceivedProposal {
  readonly kind: "proposal";
  /** ProposalRef (§5.2): how a commit names this proposal. */
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
  readonly authenticatedData: Uint8Array;
}

/** What {@link Group.processMessage} returns for another member's commit: staged, merged by {@link Group.mergeStagedCommit}. */
export interface ReceivedCommit {
  readonly kind: "commit";
  readonly staged: StagedCommit;
}

export type ReceivedMessage = ReceivedApplicationMessage | ReceivedProposal | ReceivedCommit;

/** Header fields of an MLSMessage carrying a PublicMessage or PrivateMessage, read without decoding the body. */
export interface Envelope {
  readonly wireFormat: typeof WireFormat.publicMessage | typeof WireFormat.privateMessage;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  /** Known from the header for a PrivateMessage; for a PublicMessage after decoding. */
  readonly contentType: ContentType;
  readonly authenticatedData: Uint8Array;
  /** Members only send PrivateMessages; a PublicMessage may come from outside the group. */
  readonly fromMember: boolean;
  /** A well-formed PrivateMessage, parsed once here for unprotecting (undefined otherwise: unprotecting then reports what is wrong). */
  readonly privateMessage?: ParsedPrivateMessage;
}

/** The header of an MLSMessage carrying a PublicMessage or PrivateMessage (DECODE_* when malformed). */
export function readEnvelope(bytes: Uint8Array): Envelope {
  // The usual case, a well-formed PrivateMessage, is decoded in one pass; anything else is read field by field below.
  const p = bytes.length > 3 && bytes[3] === WireFormat.privateMessage ? tryParsePrivateMessage(bytes) : undefined;
  if (p !== undefined) {
    return {
      wireFormat: WireFormat.privateMessage,
      groupId: p.groupId,
      epoch: p.epoch,
      contentType: p.contentType,
      authenticatedData: p.authenticatedData,
      fromMember: true,
      privateMessage: p,
    };
  }
  const r = new Reader(bytes);
  try {
    const wireFormat = readMlsMessageHead(r);
    if (wireFormat === WireFormat.privateMessage) {
      const groupId = r.opaque();
      const epoch = r.u64();
      const contentType = r.u8();
      if (contentType < 1 || contentType > 3) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown ContentType ${contentType}`);
      return { wireFormat, groupId, epoch, contentType: contentType as ContentType, authenticatedData: r.opaque(), fromMember: true };
    }
    if (wireFormat === WireFormat.publicMessage) {
      const c = decodePublicMessage(bytes).message.content;
      return { wireFormat, groupId: c.groupId, epoch: c.epoch, contentType: c.contentType, authenticatedData: c.authenticatedData, fromMember: c.sender.senderType === SenderType.member };
    }
    throw new MlsError("INVALID_ARGUMENT", `processMessage takes a PublicMessage or PrivateMessage, not wire format ${wireFormat}`);
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** A late application message of a past epoch we still keep (§14). */
async function receiveLate(state: GroupState, env: Envelope, bytes: Uint8Array): Promise<ReceivedApplicationMessage> {
  const past = state.pastEpochs.find((p) => p.epoch === env.epoch);
  if (past === undefined) throw new MlsError("GROUP_EPOCH_EXPIRED", `epoch ${env.epoch} is outside the retention window`);
  const ac = await unprotectPrivateMessage(pastPrivateMessageContext(state.suite, past), env.privateMessage ?? bytes, (s) =>
    s.senderType === SenderType.member ? past.signatureKeys.get(s.leafIndex) : undefined,
  );
  return applicationResult(ac, env.epoch);
}

function applicationResult(ac: EncodedAuthenticatedContent, epoch: bigint): ReceivedApplicationMessage {
  const c = ac.content;
  if (c.contentType !== ContentType.application || c.sender.senderType !== SenderType.member) throw new MlsError("MESSAGE_INVALID_CONTENT", "not an application message");
  return { kind: "application", sender: c.sender.leafIndex, epoch, data: c.applicationData, authenticatedData: c.authenticatedData };
}

/**
 * Unprotects and routes one message. Nothing in `state` changes except the
 * secret tree (a consumed key) and, for a proposal, the proposal cache.
 */
export async function receiveMessage(state: GroupState, config: GroupConfig, bytes: Uint8Array): Promise<ReceivedMessage> {
  const env = readEnvelope(bytes);
  if (!bytesEqual(env.groupId, state.groupContext.groupId)) throw new MlsError("MESSAGE_WRONG_GROUP", "message is for another group");
  const current = state.groupContext.epoch;
  if (env.epoch !== current || !state.active) {
    if (env.epoch <= current && env.wireFormat === WireFormat.privateMessage && env.contentType === ContentType.application) return receiveLate(state, env, bytes);
    if (!state.active) throw new MlsError("GROUP_INACTIVE", "we are no longer a member of this group");
    throw new MlsError("MESSAGE_WRONG_EPOCH", `message is for epoch ${env.epoch}, the group is at ${current}`);
  }
  // Wire-format policy binds members; outsiders (external senders, new members) can only use PublicMessage.
  if (env.contentType !== ContentType.application && env.fromMember && config.acceptHandshake !== "any") {
    const want = config.acceptHandshake === "private" ? WireFormat.privateMessage : WireFormat.publicMessage;
    if (env.wireFormat !== want) throw new MlsError("MESSAGE_WIRE_FORMAT_REJECTED", `handshake messages must be ${config.acceptHandshake}`);
  }
  const lookup = (s: Sender): Uint8Array | undefined => senderSignatureKey(state, s);
  const ac =
    env.wireFormat === WireFormat.publicMessage
      ? await unprotectPublicMessage(publicMessageContext(state), bytes, lookup)
      : await unprotectPrivateMessage(privateMessageContext(state), env.privateMessage ?? bytes, lookup);
  switch (ac.content.contentType) {
    case ContentType.application:
      return applicationResult(ac, current);
    case ContentType.proposal:
      // draft-ietf-mls-extensions "SelfRemove": "these proposals MUST be sent in an MLS PublicMessage".
      if (ac.content.proposal.proposalType === ProposalType.selfRemove && env.wireFormat !== WireFormat.publicMessage) {
        throw new MlsError("MESSAGE_WIRE_FORMAT_REJECTED", "a SelfRemove must be sent as a PublicMessage");
      }
      return receiveProposal(state, config, ac, ac.content.proposal);
    case ContentType.commit:
      return { kind: "commit", staged: await stageCommit(state, config, ac) };
  }
}

/**
 * The §12.1 checks of one proposal against the current epoch, the ones a
 * commit would repeat, done once on receipt so a commit referencing the
 * proposal need not verify its signatures again.
 */
export async function checkProposalOnReceipt(state: Pick<GroupState, "suite" | "tree" | "groupContext">, config: GroupConfig, p: Proposal, sender: Sender): Promise<void> {
  const { suite, tree, groupContext } = state;
  checkProposalSync({ suite, tree, groupContext }, p, sender);
  const groupId = groupContext.groupId;
  const { inUse, supportedByAll } = tree.credentialTypes();
  const requirements = { groupContextExtensions: groupContext.extensions, credentialTypesInUse: inUse, credentialTypesSupportedByAll: supportedByAll };
  switch (p.proposalType) {
    case ProposalType.add: {
      const now = nowOf(config);
      await validateKeyPackage(suite, p.keyPackage, {
        ...requirements,
        groupId,
        ...(now === undefined ? {} : { now }),
        ...(config.maxLifetime === undefined ? {} : { maxLifetime: config.maxLifetime }),
        ...(config.validateCredential === undefined ? {} : { validateCredential: config.validateCredential }),
      });
      return;
    }
    case ProposalType.update: {
      if (sender.senderType !== SenderType.member) throw new MlsError("PROPOSAL_INVALID_SENDER", "only a member can send an Update");
      const leafIndex = sender.leafIndex;
      checkLeafNodeContents(p.leafNode, { ...requirements, expectedSource: LeafNodeSource.update });
      checkLeafNodeKeysUnique(tree, p.leafNode, leafIndex);
      await checkCredential(config.validateCredential, p.leafNode.credential, p.leafNode.signatureKey, { kind: "update", groupId, leafIndex });
      if (!(await verifyLeafNodeSignature(suite, p.leafNode, { groupId, leafIndex }))) {
        throw new MlsError("TREE_INVALID_LEAF_SIGNATURE", "the Update's leaf node signature does not verify");
      }
      return;
    }
    case ProposalType.externalInit:
      throw new MlsError("PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED", "an ExternalInit is only valid inside an external commit");
    case ProposalType.groupContextExtensions:
      checkExtensionsSupported(tree, p.extensions, new Set());
      return;
    default:
      return;
  }
}

async function receiveProposal(state: GroupState, config: GroupConfig, ac: EncodedAuthenticatedContent, proposal: Proposal): Promise<ReceivedProposal> {
  const sender = ac.content.sender;
  const ref = makeProposalRef(state.suite, authenticatedContentBytes(ac));
  const key = refKey(ref);
  const known = state.proposals.get(key);
  if (known === undefined) {
    await checkProposalOnReceipt(state, config, proposal, sender);
    if (config.acceptProposal !== undefined && !(await config.acceptProposal({ proposal, sender, epoch: state.groupContext.epoch, via: "received" }))) {
      throw new MlsError("PROPOSAL_REJECTED_BY_POLICY", `the application refused a proposal of type ${proposal.proposalType}`);
    }
    const cached: CachedProposal = { ref, proposal, sender, own: false };
    state.proposals.set(key, cached);
  }
  return { kind: "proposal", ref, proposal, sender, authenticatedData: ac.content.authenticatedData };
}
