/**
 * PublicMessage protection (RFC 9420 §6.2): signed, not encrypted; a member
 * sender adds membership_tag = MAC(membership_key, AuthenticatedContentTBM).
 *
 * Application data is never sent this way (§6: "Applications MUST use
 * PrivateMessage to encrypt application messages"), so both directions reject
 * it with MESSAGE_INVALID_CONTENT.
 */
import { bytesEqual } from "../codec/bytes.js";
import { asDecodeError, Reader, Writer } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { ContentType, ProtocolVersion, SenderType, WireFormat } from "../messages/enums.js";
import { framedContentAuthDataCodec, framedContentCodec, type FramedContent, type FramedContentAuthData, type PublicMessage } from "../messages/framing.js";
import { readMlsMessageHead } from "../messages/mlsMessage.js";
import { authenticatedContentTbm, checkSenderAndContent, requireValidMembershipTag, requireValidSignature, signerKey, type SignatureKeyLookup } from "./contentAuth.js";
import { encodeAuthData, encodeFramedContent, type EncodedAuthenticatedContent, type FramingContext } from "./context.js";

/** The epoch's FramingContext plus the membership key, which only member senders need (§6.2). */
export interface PublicMessageContext extends FramingContext {
  readonly membershipKey?: Uint8Array;
}

/** A PublicMessage decoded from MLSMessage bytes, keeping the FramedContent and auth encodings (no re-encoding to verify). */
export interface ReceivedPublicMessage {
  readonly message: PublicMessage;
  readonly contentBytes: Uint8Array;
  readonly authBytes: Uint8Array;
}

/** Decodes an MLSMessage carrying a PublicMessage (§6), remembering the byte ranges that are signed and MACed. */
export function decodePublicMessage(mlsMessage: Uint8Array): ReceivedPublicMessage {
  const r = new Reader(mlsMessage);
  try {
    const wf = readMlsMessageHead(r);
    if (wf !== WireFormat.publicMessage) throw new MlsError("INVALID_ARGUMENT", `expected a PublicMessage, got wire format ${wf}`);
    const contentStart = r.offset;
    const content = framedContentCodec.decode(r);
    const authStart = r.offset;
    const auth = framedContentAuthDataCodec(content.contentType).decode(r);
    const authEnd = r.offset;
    const membershipTag = content.sender.senderType === SenderType.member ? r.opaque() : undefined;
    r.expectEnd();
    const message: PublicMessage = membershipTag === undefined ? { content, auth } : { content, auth, membershipTag };
    return { message, contentBytes: mlsMessage.slice(contentStart, authStart), authBytes: mlsMessage.slice(authStart, authEnd) };
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** A PublicMessage's fields with the encodings that are signed and MACed (the received bytes when given bytes, else encoded once). */
export interface PublicMessageParts {
  readonly content: FramedContent;
  readonly auth: FramedContentAuthData;
  readonly membershipTag?: Uint8Array;
  readonly contentBytes: Uint8Array;
  /** Absent for a decoded message: encoded when needed. */
  readonly authBytes?: Uint8Array;
}

/** The parts of a PublicMessage given as MLSMessage bytes (decoded, keeping the byte ranges) or already decoded. */
export function publicMessageParts(message: Uint8Array | PublicMessage): PublicMessageParts {
  if (message instanceof Uint8Array) {
    const rec = decodePublicMessage(message);
    return { ...rec.message, contentBytes: rec.contentBytes, authBytes: rec.authBytes };
  }
  return { ...message, contentBytes: encodeFramedContent(message.content) };
}

function checkGroupAndEpoch(ctx: FramingContext, content: FramedContent): void {
  if (!bytesEqual(content.groupId, ctx.groupId)) throw new MlsError("MESSAGE_WRONG_GROUP", "message is for another group");
  if (content.epoch !== ctx.epoch) throw new MlsError("MESSAGE_WRONG_EPOCH", `message is for epoch ${content.epoch}, not ${ctx.epoch}`);
}

function rejectApplication(content: FramedContent): void {
  if (content.contentType === ContentType.application) {
    throw new MlsError("MESSAGE_INVALID_CONTENT", "application data must not be sent as a PublicMessage (RFC 9420 §6)");
  }
}

function needMembershipKey(ctx: PublicMessageContext): Uint8Array {
  if (ctx.membershipKey === undefined) throw new MlsError("INVALID_ARGUMENT", "a member's PublicMessage needs the epoch's membership_key");
  return ctx.membershipKey;
}

/**
 * §6.2: wraps signed content (from `signFramedContent` with wire format
 * public_message) as an encoded MLSMessage(PublicMessage), adding the
 * membership tag for a member sender.
 */
export function protectPublicMessage(ctx: PublicMessageContext, ac: EncodedAuthenticatedContent): Uint8Array {
  if (ac.wireFormat !== WireFormat.publicMessage) throw new MlsError("INVALID_ARGUMENT", "content was signed for another wire format");
  rejectApplication(ac.content);
  checkGroupAndEpoch(ctx, ac.content);
  checkSenderAndContent(ac.content);
  const authBytes = encodeAuthData(ac);
  let tag: Uint8Array | undefined;
  if (ac.content.sender.senderType === SenderType.member) {
    tag = ctx.suite.mac(needMembershipKey(ctx), authenticatedContentTbm(ac, ctx.groupContext, authBytes).tbm);
  }
  const w = new Writer(4 + ac.contentBytes.length + authBytes.length + (tag === undefined ? 0 : tag.length + 2));
  w.u16(ProtocolVersion.mls10);
  w.u16(WireFormat.publicMessage);
  w.raw(ac.contentBytes);
  w.raw(authBytes);
  if (tag !== undefined) w.opaque(tag);
  return w.finish();
}

/**
 * §6.2: checks a PublicMessage for this epoch and returns its content.
 * `message` is the encoded MLSMessage (preferred: nothing is re-encoded) or a
 * decoded PublicMessage. Checks, in order: group and epoch
 * (MESSAGE_WRONG_GROUP / MESSAGE_WRONG_EPOCH), content allowed in a
 * PublicMessage and for the sender type (MESSAGE_INVALID_CONTENT /
 * MESSAGE_INVALID_SENDER), membership tag for members
 * (MESSAGE_INVALID_MEMBERSHIP_TAG), signature (MESSAGE_INVALID_SIGNATURE).
 * The confirmation tag of a commit is checked by whoever derives the new epoch.
 */
export async function unprotectPublicMessage(ctx: PublicMessageContext, message: Uint8Array | PublicMessage, signatureKey: SignatureKeyLookup): Promise<EncodedAuthenticatedContent> {
  const { content, auth, membershipTag, contentBytes, authBytes } = publicMessageParts(message);
  checkGroupAndEpoch(ctx, content);
  rejectApplication(content);
  checkSenderAndContent(content);

  const ac: EncodedAuthenticatedContent = { wireFormat: WireFormat.publicMessage, content, contentBytes, auth };
  const { tbm, tbsLength } = authenticatedContentTbm(ac, ctx.groupContext, authBytes);
  if (content.sender.senderType === SenderType.member) {
    if (membershipTag === undefined) throw new MlsError("MESSAGE_INVALID_MEMBERSHIP_TAG", "a member's PublicMessage has no membership_tag");
    requireValidMembershipTag(ctx.suite, needMembershipKey(ctx), tbm, membershipTag);
  } else if (membershipTag !== undefined) {
    throw new MlsError("MESSAGE_INVALID_MEMBERSHIP_TAG", "only a member's PublicMessage carries a membership_tag");
  }
  await requireValidSignature(ctx.suite, signerKey(content, signatureKey), tbm.subarray(0, tbsLength), auth.signature);
  return ac;
}
