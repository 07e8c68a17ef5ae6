/**
 * RFC 9420 §6, §6.1, §6.2: Sender, FramedContent, FramedContentAuthData,
 * FramedContentTBS, AuthenticatedContent, AuthenticatedContentTBM, PublicMessage.
 * (PrivateMessage and its inner structs are in privateMessage.ts.)
 *
 * Three fields exist only in some contexts, exactly as the RFC's selects say:
 * - FramedContentAuthData.confirmation_tag: only when content_type is commit (§6.1);
 * - FramedContentTBS.context: only for member and new_member_commit senders (§6.1);
 * - PublicMessage.membership_tag: only for member senders (§6.2).
 * Encoding checks that the optional field is present exactly when required
 * (ENCODE_INVALID otherwise) so nothing is silently dropped.
 */
import { Writer, type Codec, type Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { type Commit, commitCodec } from "./commit.js";
import { ContentType, contentTypeCodec, protocolVersionCodec, ProtocolVersion, SenderType, wireFormatCodec, type WireFormat } from "./enums.js";
import { groupContextCodec, type GroupContext } from "./groupContext.js";
import { proposalCodec, type Proposal } from "./proposal.js";

// ---------------------------------------------------------------------------
// Sender (§6)

/** Who sent a message (RFC 9420 §6): a member's leaf, an external sender, or a new member. */
export type Sender =
  | { senderType: typeof SenderType.member; leafIndex: LeafIndex }
  | { senderType: typeof SenderType.external; senderIndex: number }
  | { senderType: typeof SenderType.newMemberProposal }
  | { senderType: typeof SenderType.newMemberCommit };

export const senderCodec: Codec<Sender> = {
  encode(w, s) {
    w.u8(s.senderType);
    switch (s.senderType) {
      case SenderType.member:
        return w.u32(s.leafIndex);
      case SenderType.external:
        return w.u32(s.senderIndex);
      case SenderType.newMemberProposal:
      case SenderType.newMemberCommit:
        return;
      default:
        throw new MlsError("ENCODE_INVALID", `unknown sender type ${(s as { senderType: number }).senderType}`);
    }
  },
  decode(r) {
    const t = r.u8();
    switch (t) {
      case SenderType.member:
        return { senderType: t, leafIndex: r.u32() as LeafIndex };
      case SenderType.external:
        return { senderType: t, senderIndex: r.u32() };
      case SenderType.newMemberProposal:
      case SenderType.newMemberCommit:
        return { senderType: t };
      default:
        throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown SenderType ${t}`);
    }
  },
};

// ---------------------------------------------------------------------------
// The content select shared by FramedContent and PrivateMessageContent

export type FramedContentBody =
  | { contentType: typeof ContentType.application; applicationData: Uint8Array }
  | { contentType: typeof ContentType.proposal; proposal: Proposal }
  | { contentType: typeof ContentType.commit; commit: Commit };

/** Writes the body selected by content_type (without the content_type octet itself). */
export function writeContentBody(w: Writer, b: FramedContentBody): void {
  switch (b.contentType) {
    case ContentType.application:
      return w.opaque(b.applicationData);
    case ContentType.proposal:
      return proposalCodec.encode(w, b.proposal);
    case ContentType.commit:
      return commitCodec.encode(w, b.commit);
    default:
      throw new MlsError("ENCODE_INVALID", `unknown content type ${(b as { contentType: number }).contentType}`);
  }
}

/** Reads the body selected by `contentType` (already read or known from context). */
export function readContentBody(r: Reader, contentType: ContentType): FramedContentBody {
  switch (contentType) {
    case ContentType.application:
      return { contentType, applicationData: r.opaque() };
    case ContentType.proposal:
      return { contentType, proposal: proposalCodec.decode(r) };
    case ContentType.commit:
      return { contentType, commit: commitCodec.decode(r) };
    default:
      throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown ContentType ${contentType as number}`);
  }
}

// ---------------------------------------------------------------------------
// FramedContent (§6)

export interface FramedContentHeader {
  groupId: Uint8Array;
  epoch: bigint;
  sender: Sender;
  authenticatedData: Uint8Array;
}

export type FramedContent = FramedContentHeader & FramedContentBody;

export const framedContentCodec: Codec<FramedContent> = {
  encode(w, c) {
    w.opaque(c.groupId);
    w.u64(c.epoch);
    senderCodec.encode(w, c.sender);
    w.opaque(c.authenticatedData);
    contentTypeCodec.encode(w, c.contentType);
    writeContentBody(w, c);
  },
  decode(r) {
    const groupId = r.opaque();
    const epoch = r.u64();
    const sender = senderCodec.decode(r);
    const authenticatedData = r.opaque();
    const body = readContentBody(r, contentTypeCodec.decode(r));
    return { groupId, epoch, sender, authenticatedData, ...body };
  },
};

// ---------------------------------------------------------------------------
// FramedContentAuthData (§6.1)

export interface FramedContentAuthData {
  /** SignWithLabel(., "FramedContentTBS", FramedContentTBS). */
  signature: Uint8Array;
  /** MAC(confirmation_key, confirmed_transcript_hash): present iff content_type is commit. */
  confirmationTag?: Uint8Array;
}

function writeAuth(w: Writer, a: FramedContentAuthData, contentType: ContentType): void {
  w.opaque(a.signature);
  if (contentType === ContentType.commit) {
    if (a.confirmationTag === undefined) throw new MlsError("ENCODE_INVALID", "a commit's FramedContentAuthData needs a confirmation_tag");
    w.opaque(a.confirmationTag);
  } else if (a.confirmationTag !== undefined) {
    throw new MlsError("ENCODE_INVALID", "confirmation_tag is only carried for commits");
  }
}

function readAuth(r: Reader, contentType: ContentType): FramedContentAuthData {
  const signature = r.opaque();
  if (contentType === ContentType.commit) return { signature, confirmationTag: r.opaque() };
  return { signature };
}

const authCodecs = new Map<ContentType, Codec<FramedContentAuthData>>(
  ([ContentType.application, ContentType.proposal, ContentType.commit] as const).map((t) => [t, { encode: (w, a) => writeAuth(w, a, t), decode: (r) => readAuth(r, t) }]),
);

/** FramedContentAuthData's shape depends on the enclosing content_type, so its codec is chosen by it. */
export function framedContentAuthDataCodec(contentType: ContentType): Codec<FramedContentAuthData> {
  const c = authCodecs.get(contentType);
  if (c === undefined) throw new MlsError("INVALID_ARGUMENT", `unknown content type ${contentType as number}`);
  return c;
}

// ---------------------------------------------------------------------------
// FramedContentTBS (§6.1)

export interface FramedContentTBS {
  /** version is always mls10 on the wire; it is not carried here. */
  wireFormat: WireFormat;
  content: FramedContent;
  /** The current GroupContext: present iff the sender is member or new_member_commit. */
  context?: GroupContext;
}

/** True when FramedContentTBS (and the signature) covers the GroupContext for this sender (§6.1). */
export function tbsIncludesGroupContext(sender: Sender): boolean {
  return sender.senderType === SenderType.member || sender.senderType === SenderType.newMemberCommit;
}

function writeTbs(w: Writer, t: FramedContentTBS): void {
  protocolVersionCodec.encode(w, ProtocolVersion.mls10);
  wireFormatCodec.encode(w, t.wireFormat);
  framedContentCodec.encode(w, t.content);
  if (tbsIncludesGroupContext(t.content.sender)) {
    if (t.context === undefined) throw new MlsError("ENCODE_INVALID", "FramedContentTBS for a member/new_member_commit sender needs the GroupContext");
    groupContextCodec.encode(w, t.context);
  } else if (t.context !== undefined) {
    throw new MlsError("ENCODE_INVALID", "FramedContentTBS carries no GroupContext for external/new_member_proposal senders");
  }
}

function readTbs(r: Reader): FramedContentTBS {
  protocolVersionCodec.decode(r);
  const wireFormat = wireFormatCodec.decode(r);
  const content = framedContentCodec.decode(r);
  if (tbsIncludesGroupContext(content.sender)) return { wireFormat, content, context: groupContextCodec.decode(r) };
  return { wireFormat, content };
}

export const framedContentTbsCodec: Codec<FramedContentTBS> = { encode: writeTbs, decode: readTbs };

/** The bytes SignWithLabel(., "FramedContentTBS", .) covers. */
export function framedContentTbsBytes(t: FramedContentTBS): Uint8Array {
  const w = new Writer(512);
  writeTbs(w, t);
  return w.finish();
}

// ---------------------------------------------------------------------------
// AuthenticatedContent (§6) and AuthenticatedContentTBM (§6.2)

export interface AuthenticatedContent {
  wireFormat: WireFormat;
  content: FramedContent;
  auth: FramedContentAuthData;
}

export const authenticatedContentCodec: Codec<AuthenticatedContent> = {
  encode(w, a) {
    wireFormatCodec.encode(w, a.wireFormat);
    framedContentCodec.encode(w, a.content);
    writeAuth(w, a.auth, a.content.contentType);
  },
  decode(r) {
    const wireFormat = wireFormatCodec.decode(r);
    const content = framedContentCodec.decode(r);
    return { wireFormat, content, auth: readAuth(r, content.contentType) };
  },
};

export interface AuthenticatedContentTBM {
  contentTbs: FramedContentTBS;
  auth: FramedContentAuthData;
}

export const authenticatedContentTbmCodec: Codec<AuthenticatedContentTBM> = {
  encode(w, t) {
    writeTbs(w, t.contentTbs);
    writeAuth(w, t.auth, t.contentTbs.content.contentType);
  },
  decode(r) {
    const contentTbs = readTbs(r);
    return { contentTbs, auth: readAuth(r, contentTbs.content.contentType) };
  },
};

/** The bytes membership_tag = MAC(membership_key, AuthenticatedContentTBM) covers (§6.2). */
export function authenticatedContentTbmBytes(t: AuthenticatedContentTBM): Uint8Array {
  const w = new Writer(1024);
  authenticatedContentTbmCodec.encode(w, t);
  return w.finish();
}

// ---------------------------------------------------------------------------
// PublicMessage (§6.2)

/** A PublicMessage (RFC 9420 §6.2): signed, not encrypted. */
export interface PublicMessage {
  content: FramedContent;
  auth: FramedContentAuthData;
  /** MAC(membership_key, AuthenticatedContentTBM): present iff the sender is a member. */
  membershipTag?: Uint8Array;
}

/** TLS codec of {@link PublicMessage}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const publicMessageCodec: Codec<PublicMessage> = {
  encode(w, m) {
    framedContentCodec.encode(w, m.content);
    writeAuth(w, m.auth, m.content.contentType);
    if (m.content.sender.senderType === SenderType.member) {
      if (m.membershipTag === undefined) throw new MlsError("ENCODE_INVALID", "a member's PublicMessage needs a membership_tag");
      w.opaque(m.membershipTag);
    } else if (m.membershipTag !== undefined) {
      throw new MlsError("ENCODE_INVALID", "membership_tag is only carried for member senders");
    }
  },
  decode(r) {
    const content = framedContentCodec.decode(r);
    const auth = readAuth(r, content.contentType);
    if (content.sender.senderType === SenderType.member) return { content, auth, membershipTag: r.opaque() };
    return { content, auth };
  },
};
