/**
 * Content authentication (RFC 9420 §6.1) and the membership tag (§6.2).
 *
 *   FramedContentTBS        = version || wire_format || FramedContent || [GroupContext]
 *   signature               = SignWithLabel(sig_priv, "FramedContentTBS", FramedContentTBS)
 *   AuthenticatedContentTBM = FramedContentTBS || FramedContentAuthData
 *   membership_tag          = MAC(membership_key, AuthenticatedContentTBM)
 *
 * Both are assembled from the already-encoded FramedContent and GroupContext
 * (see context.ts), so nothing is encoded twice.
 */
import { constantTimeEqual } from "../codec/bytes.js";
import { Writer } from "../codec/tls.js";
import { writeLabelled, type CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ContentType, ProposalType, ProtocolVersion, SenderType, WireFormat } from "../messages/enums.js";
import { framedContentCodec, tbsIncludesGroupContext, type FramedContent, type Sender } from "../messages/framing.js";
import { encodeAuthData, framedContentSizeHint, writeU16, type EncodedAuthenticatedContent, type FramingWireFormat } from "./context.js";

export const FRAMED_CONTENT_TBS_LABEL = "FramedContentTBS";

/**
 * The signature public key a message from `sender` must verify under (§6.1):
 * a member's LeafNode signature key, or the `external_senders` entry at
 * `sender_index`. Return undefined for a blank leaf or an unknown sender; the
 * message is then rejected with MESSAGE_INVALID_SENDER. (For new_member_*
 * senders the key is in the message itself and this is not called.)
 */
export type SignatureKeyLookup = (sender: Sender) => Uint8Array | undefined;

/** The GroupContext a FramedContentTBS from `sender` covers (§6.1): members' and new_member_commit's only. */
function tbsGroupContext(sender: Sender, groupContext: Uint8Array | undefined): Uint8Array | undefined {
  if (!tbsIncludesGroupContext(sender)) return undefined;
  if (groupContext === undefined) throw new MlsError("INVALID_ARGUMENT", "FramedContentTBS for a member or new_member_commit sender needs the GroupContext");
  return groupContext;
}

/**
 * FramedContentTBS from its encoded parts, with `spare` bytes of room at the
 * end (the TBM appends the auth data there). Returns the buffer; the TBS is
 * its first `length - spare` bytes.
 */
function tbsBuffer(wireFormat: number, sender: Sender, contentBytes: Uint8Array, groupContext: Uint8Array | undefined, spare: number): Uint8Array {
  const ctx = tbsGroupContext(sender, groupContext);
  const tbsLength = 4 + contentBytes.length + (ctx?.length ?? 0);
  const out = new Uint8Array(tbsLength + spare);
  writeU16(out, 0, ProtocolVersion.mls10);
  writeU16(out, 2, wireFormat);
  out.set(contentBytes, 4);
  if (ctx !== undefined) out.set(ctx, 4 + contentBytes.length);
  return out;
}

/**
 * AuthenticatedContentTBM (§6.2) in one buffer, the FramedContentTBS being its
 * first `tbsLength` bytes, so a receiver checks the MAC and the signature
 * without building either twice.
 */
export function authenticatedContentTbm(
  ac: EncodedAuthenticatedContent,
  groupContext: Uint8Array | undefined,
  authBytes: Uint8Array = encodeAuthData(ac),
): { tbm: Uint8Array; tbsLength: number } {
  const buf = tbsBuffer(ac.wireFormat, ac.content.sender, ac.contentBytes, groupContext, authBytes.length);
  const tbsLength = buf.length - authBytes.length;
  buf.set(authBytes, tbsLength);
  return { tbm: buf, tbsLength };
}

/**
 * §6.1: signs `content` for sending as `wireFormat`. `groupContext` (encoded)
 * is required for member and new_member_commit senders. A commit's
 * confirmation tag is added afterwards with `withConfirmationTag`, once the
 * new epoch's confirmation key is known (§6.1, §8.2).
 */
export async function signFramedContent(
  suite: CipherSuite,
  signaturePrivateKey: Uint8Array,
  wireFormat: FramingWireFormat,
  content: FramedContent,
  groupContext: Uint8Array | undefined,
  confirmationTag?: Uint8Array,
  lend = false,
): Promise<EncodedAuthenticatedContent> {
  const { contentBytes, signature } = startSigningFramedContent(suite, signaturePrivateKey, wireFormat, content, groupContext, lend);
  const auth = confirmationTag === undefined ? { signature: await signature } : { signature: await signature, confirmationTag };
  return { wireFormat, content, contentBytes, auth };
}

/**
 * {@link signFramedContent} up to the signature, which it returns under way
 * with the encoded content: a caller that goes on once it is made (a
 * PrivateMessage sealed in the run the signature resolves in) then takes one
 * promise hop, not one per async function. With `lend`, `contentBytes` is a
 * view of lent scratch that the caller gives back with returnScratch() once
 * the signature has settled.
 * @throws MlsError INVALID_ARGUMENT (no GroupContext for a member sender), MESSAGE_INVALID_SENDER, ENCODE_INVALID.
 */
export function startSigningFramedContent(
  suite: CipherSuite,
  signaturePrivateKey: Uint8Array,
  wireFormat: FramingWireFormat,
  content: FramedContent,
  groupContext: Uint8Array | undefined,
  lend: boolean,
): { contentBytes: Uint8Array; signature: Promise<Uint8Array> } {
  if (wireFormat !== WireFormat.publicMessage && wireFormat !== WireFormat.privateMessage) {
    throw new MlsError("INVALID_ARGUMENT", `wire format ${wireFormat as number} carries no FramedContent`);
  }
  checkSenderAndContent(content);
  const { signContent, contentBytes } = framedContentSignContent(
    wireFormat,
    content.sender,
    (w) => framedContentCodec.encode(w, content),
    groupContext,
    framedContentSizeHint(content),
    lend,
  );
  return { contentBytes, signature: suite.sign(signaturePrivateKey, signContent) };
}

/**
 * §5.1.2 SignContent for a FramedContentTBS (§6.1), with the FramedContent
 * written in place by `writeContent`: the bytes SignWithLabel signs, built in
 * one buffer. `contentBytes` (the encoded FramedContent) is a view of it.
 * With `lend`, both are views of lent scratch (Writer.lend()), for content
 * not kept once signed or verified and sealed: the caller gives it back with
 * returnScratch().
 */
export function framedContentSignContent(
  wireFormat: FramingWireFormat,
  sender: Sender,
  writeContent: (w: Writer) => void,
  groupContext: Uint8Array | undefined,
  sizeHint: number,
  lend = false,
): { signContent: Uint8Array; contentBytes: Uint8Array } {
  const ctx = tbsGroupContext(sender, groupContext);
  const ctxLength = ctx?.length ?? 0;
  const w = new Writer(sizeHint + ctxLength + 32);
  let contentLength = 0;
  writeLabelled(w, FRAMED_CONTENT_TBS_LABEL, (v) => {
    v.u16(ProtocolVersion.mls10);
    v.u16(wireFormat);
    const start = v.length;
    writeContent(v);
    contentLength = v.length - start;
    if (ctx !== undefined) v.raw(ctx);
  });
  const signContent = lend ? w.lend() : w.finish();
  const end = signContent.length - ctxLength;
  return { signContent, contentBytes: signContent.subarray(end - contentLength, end) };
}

/** §6.1: VerifyWithLabel(signature_key, "FramedContentTBS", FramedContentTBS, signature). */
export async function verifyFramedContentSignature(
  suite: CipherSuite,
  signaturePublicKey: Uint8Array,
  ac: EncodedAuthenticatedContent,
  groupContext: Uint8Array | undefined,
): Promise<boolean> {
  const tbs = tbsBuffer(ac.wireFormat, ac.content.sender, ac.contentBytes, groupContext, 0);
  return suite.verifyWithLabel(signaturePublicKey, FRAMED_CONTENT_TBS_LABEL, tbs, ac.auth.signature);
}

/** Verifies a signature over an already-built TBS; MESSAGE_INVALID_SIGNATURE when it does not hold. */
export async function requireValidSignature(suite: CipherSuite, key: Uint8Array, tbs: Uint8Array, signature: Uint8Array): Promise<void> {
  if (!(await suite.verifyWithLabel(key, FRAMED_CONTENT_TBS_LABEL, tbs, signature))) {
    throw new MlsError("MESSAGE_INVALID_SIGNATURE", "FramedContent signature does not verify");
  }
}

/** Constant-time membership tag check (§6.2); MESSAGE_INVALID_MEMBERSHIP_TAG when it fails. */
export function requireValidMembershipTag(suite: CipherSuite, membershipKey: Uint8Array, tbm: Uint8Array, tag: Uint8Array): void {
  if (!constantTimeEqual(suite.mac(membershipKey, tbm), tag)) {
    throw new MlsError("MESSAGE_INVALID_MEMBERSHIP_TAG", "membership_tag does not match");
  }
}

/** RFC 9420 §17.4 "External" column: proposal types an external sender may send. */
const EXTERNAL_SENDER_PROPOSALS = new Set<number>([ProposalType.add, ProposalType.remove, ProposalType.psk, ProposalType.reinit, ProposalType.groupContextExtensions]);

/**
 * §6.1: which content a sender type may carry. external: a proposal of a type
 * allowed for external senders; new_member_proposal: an Add; new_member_commit:
 * a commit. MESSAGE_INVALID_SENDER otherwise.
 */
export function checkSenderAndContent(content: FramedContent): void {
  const s = content.sender;
  switch (s.senderType) {
    case SenderType.member:
      return;
    case SenderType.external:
      if (content.contentType === ContentType.proposal && EXTERNAL_SENDER_PROPOSALS.has(content.proposal.proposalType)) return;
      throw new MlsError("MESSAGE_INVALID_SENDER", "an external sender may only send proposals of the types allowed for external senders");
    case SenderType.newMemberProposal:
      if (content.contentType === ContentType.proposal && content.proposal.proposalType === ProposalType.add) return;
      throw new MlsError("MESSAGE_INVALID_SENDER", "a new_member_proposal sender may only send an Add proposal");
    case SenderType.newMemberCommit:
      if (content.contentType === ContentType.commit) return;
      throw new MlsError("MESSAGE_INVALID_SENDER", "a new_member_commit sender may only send a commit");
    default:
      throw new MlsError("MESSAGE_INVALID_SENDER", `unknown sender type ${(s as { senderType: number }).senderType}`);
  }
}

/**
 * The key that signed `content` (§6.1): for new members it is inside the
 * message (the Add's KeyPackage, the Commit's UpdatePath leaf), otherwise the
 * caller's lookup. MESSAGE_INVALID_SENDER when there is none.
 */
export function signerKey(content: FramedContent, lookup: SignatureKeyLookup): Uint8Array {
  const s = content.sender;
  let key: Uint8Array | undefined;
  if (s.senderType === SenderType.newMemberProposal) {
    key = content.contentType === ContentType.proposal && content.proposal.proposalType === ProposalType.add ? content.proposal.keyPackage.leafNode.signatureKey : undefined;
  } else if (s.senderType === SenderType.newMemberCommit) {
    key = content.contentType === ContentType.commit ? content.commit.path?.leafNode.signatureKey : undefined;
  } else {
    key = lookup(s);
  }
  if (key === undefined) throw new MlsError("MESSAGE_INVALID_SENDER", "no signature key for the message's sender");
  return key;
}
