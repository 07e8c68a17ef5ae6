/**
 * What message protection (RFC 9420 §6) needs from the current epoch, and the
 * AuthenticatedContent (§6) it produces and consumes, carried together with the
 * encoding of its FramedContent.
 *
 * Speed: the FramedContent is encoded once per message. Its bytes are reused
 * for FramedContentTBS (§6.1), AuthenticatedContentTBM (§6.2), the
 * PublicMessage or PrivateMessageContent on the wire (§6.2, §6.3), the
 * transcript hash input (§8.2) and the ProposalRef (§5.2). The GroupContext is
 * encoded once per epoch by whoever builds the {@link FramingContext}.
 */
import { decode, encode, Writer } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { encodeConfirmedTranscriptHashInput } from "../schedule/transcriptHash.js";
import { MlsError } from "../errors.js";
import { ContentType, SenderType, type WireFormat } from "../messages/enums.js";
import { framedContentAuthDataCodec, framedContentCodec, type AuthenticatedContent, type FramedContent } from "../messages/framing.js";
import { groupContextCodec, type GroupContext } from "../messages/groupContext.js";

/** The epoch a message is protected for: the suite and the encoded GroupContext, with its group_id and epoch pulled out. */
export interface FramingContext {
  readonly suite: CipherSuite;
  /** The encoded GroupContext of this epoch (covered by FramedContentTBS for member and new_member_commit senders, §6.1). */
  readonly groupContext: Uint8Array;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
}

/**
 * Builds a {@link FramingContext} for `suite` from a GroupContext (encoded once
 * here) or from its encoding (validated by decoding it once). Throws
 * INVALID_ARGUMENT when the GroupContext names another cipher suite.
 */
export function createFramingContext(suite: CipherSuite, groupContext: GroupContext | Uint8Array): FramingContext {
  const bytes = groupContext instanceof Uint8Array ? groupContext.slice() : encode(groupContextCodec, groupContext);
  const gc = groupContext instanceof Uint8Array ? decode(groupContextCodec, bytes) : groupContext;
  if (gc.cipherSuite !== suite.id) {
    throw new MlsError("INVALID_ARGUMENT", `GroupContext is for cipher suite ${gc.cipherSuite}, not ${suite.id}`);
  }
  return { suite, groupContext: bytes, groupId: gc.groupId.slice(), epoch: gc.epoch };
}

/**
 * An AuthenticatedContent (§6) plus `contentBytes`, the encoding of `content`.
 * The bytes are what is signed and MACed: treat the object as immutable (make a
 * new one with {@link withConfirmationTag} rather than editing `auth`).
 */
export interface EncodedAuthenticatedContent extends AuthenticatedContent {
  readonly contentBytes: Uint8Array;
}

/** Wire formats that carry an AuthenticatedContent (§6). */
export type FramingWireFormat = typeof WireFormat.publicMessage | typeof WireFormat.privateMessage;

/** Room to start a FramedContent's encoding in: its variable-size fields plus headers (proposals and commits grow the buffer as needed). */
export function framedContentSizeHint(content: FramedContent): number {
  return 256 + (content.contentType === ContentType.application ? content.applicationData.length : 0) + content.authenticatedData.length;
}

/** Encodes a FramedContent once, so it can be signed and protected without re-encoding. */
export function encodeFramedContent(content: FramedContent): Uint8Array {
  const w = new Writer(framedContentSizeHint(content));
  framedContentCodec.encode(w, content);
  return w.finish();
}

/** The same content with the commit's confirmation tag set (§6.1): computed after signing, from the new epoch. */
export function withConfirmationTag(ac: EncodedAuthenticatedContent, confirmationTag: Uint8Array): EncodedAuthenticatedContent {
  if (ac.content.contentType !== ContentType.commit) throw new MlsError("INVALID_ARGUMENT", "only a commit carries a confirmation_tag");
  return { wireFormat: ac.wireFormat, content: ac.content, contentBytes: ac.contentBytes, auth: { signature: ac.auth.signature, confirmationTag } };
}

/** Encoded FramedContentAuthData (§6.1) for the content's type. */
export function encodeAuthData(ac: AuthenticatedContent): Uint8Array {
  const w = new Writer(ac.auth.signature.length + (ac.auth.confirmationTag?.length ?? 0) + 8);
  framedContentAuthDataCodec(ac.content.contentType).encode(w, ac.auth);
  return w.finish();
}

/** The encoded AuthenticatedContent (§6): the input of MakeProposalRef (§5.2). */
export function authenticatedContentBytes(ac: EncodedAuthenticatedContent): Uint8Array {
  const auth = encodeAuthData(ac);
  const out = new Uint8Array(2 + ac.contentBytes.length + auth.length);
  writeU16(out, 0, ac.wireFormat);
  out.set(ac.contentBytes, 2);
  out.set(auth, 2 + ac.contentBytes.length);
  return out;
}

/** §8.2: ConfirmedTranscriptHashInput = wire_format || FramedContent || signature<V>, for a commit. */
export function confirmedTranscriptHashInputOf(ac: EncodedAuthenticatedContent): Uint8Array {
  if (ac.content.contentType !== ContentType.commit) throw new MlsError("INVALID_ARGUMENT", "ConfirmedTranscriptHashInput is defined for commits only");
  return encodeConfirmedTranscriptHashInput(ac.wireFormat, ac.contentBytes, ac.auth.signature);
}

/** Big-endian uint16 into `buf` at `at`. */
export function writeU16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
}

/** Length of an MLS varint header (§2.1.2) starting at `at`, and the value it carries. */
function readVarint(buf: Uint8Array, at: number): [value: number, size: number] {
  const first = buf[at]!;
  const size = 1 << (first >> 6);
  let v = first & 0x3f;
  for (let i = 1; i < size; i++) v = v * 256 + buf[at + i]!;
  return [v, size];
}

/**
 * Offset of the content body (application_data / proposal / commit) inside an
 * encoded FramedContent: past group_id, epoch, sender, authenticated_data and
 * content_type. The body is also the head of PrivateMessageContent (§6.3.1).
 */
export function framedContentBodyOffset(contentBytes: Uint8Array): number {
  let at = 0;
  const [gidLen, gidSize] = readVarint(contentBytes, at);
  at += gidSize + gidLen + 8; // group_id<V>, uint64 epoch
  const senderType = contentBytes[at]!;
  at += senderType === SenderType.member || senderType === SenderType.external ? 5 : 1;
  const [adLen, adSize] = readVarint(contentBytes, at);
  at += adSize + adLen + 1; // authenticated_data<V>, content_type
  if (at > contentBytes.length) throw new MlsError("INVALID_ARGUMENT", "contentBytes is not an encoded FramedContent");
  return at;
}
