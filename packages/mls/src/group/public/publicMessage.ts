/**
 * Checking a PublicMessage as a non-member (RFC 9420 §6.1, §6.2): everything
 * but the membership tag, which is a MAC under the epoch's membership_key
 * that only members hold. A DS therefore authenticates a member's handshake
 * by its signature alone (RFC 9750 §6): it knows the message was signed by
 * the key of the leaf it names, not that the signer holds the epoch secrets.
 */
import { bytesEqual } from "../../codec/bytes.js";
import { MlsError } from "../../errors.js";
import { authenticatedContentTbm, checkSenderAndContent, requireValidSignature, signerKey } from "../../framing/contentAuth.js";
import type { EncodedAuthenticatedContent } from "../../framing/context.js";
import { publicMessageParts } from "../../framing/publicMessage.js";
import { ContentType, SenderType, WireFormat } from "../../messages/enums.js";
import type { PublicMessage } from "../../messages/framing.js";
import { senderSignatureKey } from "../groupState.js";
import type { PublicGroupState } from "./publicGroupState.js";

/** Wire format of an MLSMessage from its header; PublicMessage is the only one a non-member can check. */
function requirePublicWireFormat(bytes: Uint8Array): void {
  if (bytes.length < 4) throw new MlsError("DECODE_TRUNCATED", "an MLSMessage starts with version and wire format");
  const wf = (bytes[2]! << 8) | bytes[3]!;
  if (wf !== WireFormat.publicMessage) {
    throw new MlsError("MESSAGE_WIRE_FORMAT_REJECTED", `a non-member can only validate a PublicMessage handshake, got wire format ${wf}`);
  }
}

/**
 * §6.2 as far as a non-member can: group id and epoch, no application data in
 * a PublicMessage, content allowed for the sender type, a membership tag
 * present exactly for member senders (its value is not checkable here), and
 * the signature against the sender's leaf, external_senders entry, or the key
 * inside the message for new members (§6.1). Errors: MESSAGE_WIRE_FORMAT_REJECTED,
 * MESSAGE_WRONG_GROUP, MESSAGE_WRONG_EPOCH, MESSAGE_INVALID_CONTENT,
 * MESSAGE_INVALID_SENDER, MESSAGE_INVALID_MEMBERSHIP_TAG, MESSAGE_INVALID_SIGNATURE, DECODE_*.
 */
export async function verifyPublicMessage(state: PublicGroupState, message: Uint8Array | PublicMessage): Promise<EncodedAuthenticatedContent> {
  if (message instanceof Uint8Array) requirePublicWireFormat(message);
  const { content, auth, membershipTag, contentBytes, authBytes } = publicMessageParts(message);
  if (!bytesEqual(content.groupId, state.groupContext.groupId)) throw new MlsError("MESSAGE_WRONG_GROUP", "message is for another group");
  if (content.epoch !== state.groupContext.epoch) {
    throw new MlsError("MESSAGE_WRONG_EPOCH", `message is for epoch ${content.epoch}, the group is at ${state.groupContext.epoch}`);
  }
  if (content.contentType === ContentType.application) {
    throw new MlsError("MESSAGE_INVALID_CONTENT", "application data must not be sent as a PublicMessage (RFC 9420 §6)");
  }
  checkSenderAndContent(content);
  const isMember = content.sender.senderType === SenderType.member;
  if (isMember !== (membershipTag !== undefined)) {
    throw new MlsError("MESSAGE_INVALID_MEMBERSHIP_TAG", "a membership_tag is carried by, and only by, a member's PublicMessage");
  }
  const ac: EncodedAuthenticatedContent = { wireFormat: WireFormat.publicMessage, content, contentBytes, auth };
  const { tbm, tbsLength } = authenticatedContentTbm(ac, state.groupContextBytes, authBytes);
  await requireValidSignature(
    state.suite,
    signerKey(content, (s) => senderSignatureKey(state, s)),
    tbm.subarray(0, tbsLength),
    auth.signature,
  );
  return ac;
}
