/**
 * RFC 9420 §6.3: PrivateMessage, PrivateMessageContent (with its padding
 * rule), SenderData, SenderDataAAD and PrivateContentAAD.
 */
import { Writer, type Codec, type Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { ContentType, contentTypeCodec } from "./enums.js";
import { framedContentAuthDataCodec, readContentBody, writeContentBody, type FramedContentAuthData, type FramedContentBody } from "./framing.js";

/** A PrivateMessage (RFC 9420 §6.3): encrypted content and sender data. */
export interface PrivateMessage {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentType;
  authenticatedData: Uint8Array;
  encryptedSenderData: Uint8Array;
  ciphertext: Uint8Array;
}

/** TLS codec of {@link PrivateMessage}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const privateMessageCodec: Codec<PrivateMessage> = {
  encode(w, m) {
    w.opaque(m.groupId);
    w.u64(m.epoch);
    contentTypeCodec.encode(w, m.contentType);
    w.opaque(m.authenticatedData);
    w.opaque(m.encryptedSenderData);
    w.opaque(m.ciphertext);
  },
  decode(r) {
    const groupId = r.opaque();
    const epoch = r.u64();
    const contentType = contentTypeCodec.decode(r);
    const authenticatedData = r.opaque();
    const encryptedSenderData = r.opaque();
    return { groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext: r.opaque() };
  },
};

/**
 * The plaintext of PrivateMessage.ciphertext: the content selected by
 * PrivateMessage.content_type, the auth data, then `paddingLength` zero bytes.
 */
export type PrivateMessageContent = FramedContentBody & {
  auth: FramedContentAuthData;
  /** Number of zero bytes of padding (opaque padding[length_of_padding]). */
  paddingLength: number;
};

function makeContentCodec(contentType: ContentType): Codec<PrivateMessageContent> {
  const auth = framedContentAuthDataCodec(contentType);
  return {
    encode(w, c) {
      if (c.contentType !== contentType) throw new MlsError("ENCODE_INVALID", `content type ${c.contentType} given to the codec for ${contentType}`);
      if (!Number.isInteger(c.paddingLength) || c.paddingLength < 0) throw new MlsError("ENCODE_INVALID", `bad padding length ${c.paddingLength}`);
      writeContentBody(w, c);
      auth.encode(w, c.auth);
      w.raw(new Uint8Array(c.paddingLength));
    },
    decode(r) {
      const body = readContentBody(r, contentType);
      const a = auth.decode(r);
      // RFC 9420 §6.3.1: the padding is whatever remains and MUST be all zero.
      const paddingLength = r.remaining;
      const padding = r.raw(paddingLength);
      let acc = 0;
      for (let i = 0; i < padding.length; i++) acc |= padding[i]!;
      if (acc !== 0) throw new MlsError("MESSAGE_INVALID_PADDING", "PrivateMessageContent padding has a non-zero byte");
      return { ...body, auth: a, paddingLength };
    },
  };
}

const contentCodecs = new Map<ContentType, Codec<PrivateMessageContent>>(([ContentType.application, ContentType.proposal, ContentType.commit] as const).map((t) => [t, makeContentCodec(t)]));

/**
 * PrivateMessageContent has no content_type of its own (it comes from
 * PrivateMessage.content_type) and its padding runs to the end of the
 * plaintext, so decode it alone: `decode(privateMessageContentCodec(t), plaintext)`.
 */
export function privateMessageContentCodec(contentType: ContentType): Codec<PrivateMessageContent> {
  const c = contentCodecs.get(contentType);
  if (c === undefined) throw new MlsError("INVALID_ARGUMENT", `unknown content type ${contentType as number}`);
  return c;
}

/** Encodes a PrivateMessageContent (the content type is taken from the value). */
export function encodePrivateMessageContent(c: PrivateMessageContent): Uint8Array {
  const w = new Writer(256 + c.paddingLength);
  privateMessageContentCodec(c.contentType).encode(w, c);
  return w.finish();
}

export interface SenderData {
  leafIndex: LeafIndex;
  generation: number;
  /** Four random bytes XORed into the nonce (§6.3.1). */
  reuseGuard: Uint8Array;
}

export const senderDataCodec: Codec<SenderData> = {
  encode(w, s) {
    w.u32(s.leafIndex);
    w.u32(s.generation);
    if (s.reuseGuard.length !== 4) throw new MlsError("ENCODE_INVALID", "reuse_guard must be 4 bytes");
    w.raw(s.reuseGuard);
  },
  decode(r) {
    const leafIndex = r.u32() as LeafIndex;
    const generation = r.u32();
    return { leafIndex, generation, reuseGuard: r.raw(4) };
  },
};

export interface SenderDataAAD {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentType;
}

function writeSenderDataAad(w: Writer, a: SenderDataAAD): void {
  w.opaque(a.groupId);
  w.u64(a.epoch);
  contentTypeCodec.encode(w, a.contentType);
}

function readSenderDataAad(r: Reader): SenderDataAAD {
  const groupId = r.opaque();
  const epoch = r.u64();
  return { groupId, epoch, contentType: contentTypeCodec.decode(r) };
}

export const senderDataAadCodec: Codec<SenderDataAAD> = { encode: writeSenderDataAad, decode: readSenderDataAad };

export interface PrivateContentAAD extends SenderDataAAD {
  authenticatedData: Uint8Array;
}

export const privateContentAadCodec: Codec<PrivateContentAAD> = {
  encode(w, a) {
    writeSenderDataAad(w, a);
    w.opaque(a.authenticatedData);
  },
  decode(r) {
    const h = readSenderDataAad(r);
    return { groupId: h.groupId, epoch: h.epoch, contentType: h.contentType, authenticatedData: r.opaque() };
  },
};
