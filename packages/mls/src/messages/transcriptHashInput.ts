/** RFC 9420 §8.2: ConfirmedTranscriptHashInput and InterimTranscriptHashInput. */
import { Writer, type Codec } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { ContentType, wireFormatCodec, type WireFormat } from "./enums.js";
import { framedContentCodec, type AuthenticatedContent, type FramedContent } from "./framing.js";

export interface ConfirmedTranscriptHashInput {
  wireFormat: WireFormat;
  /** Always a commit. */
  content: FramedContent;
  signature: Uint8Array;
}

export const confirmedTranscriptHashInputCodec: Codec<ConfirmedTranscriptHashInput> = {
  encode(w, v) {
    if (v.content.contentType !== ContentType.commit) throw new MlsError("ENCODE_INVALID", "ConfirmedTranscriptHashInput content must be a commit");
    wireFormatCodec.encode(w, v.wireFormat);
    framedContentCodec.encode(w, v.content);
    w.opaque(v.signature);
  },
  decode(r) {
    const wireFormat = wireFormatCodec.decode(r);
    const content = framedContentCodec.decode(r);
    if (content.contentType !== ContentType.commit) throw new MlsError("DECODE_INVALID", "ConfirmedTranscriptHashInput content must be a commit");
    return { wireFormat, content, signature: r.opaque() };
  },
};

export interface InterimTranscriptHashInput {
  confirmationTag: Uint8Array;
}

export const interimTranscriptHashInputCodec: Codec<InterimTranscriptHashInput> = {
  encode: (w, v) => w.opaque(v.confirmationTag),
  decode: (r) => ({ confirmationTag: r.opaque() }),
};

/** ConfirmedTranscriptHashInput bytes for a commit's AuthenticatedContent (its signature, not its tag). */
export function confirmedTranscriptHashInputBytes(commit: AuthenticatedContent): Uint8Array {
  const w = new Writer(1024);
  confirmedTranscriptHashInputCodec.encode(w, { wireFormat: commit.wireFormat, content: commit.content, signature: commit.auth.signature });
  return w.finish();
}

/** InterimTranscriptHashInput bytes for a confirmation tag. */
export function interimTranscriptHashInputBytes(confirmationTag: Uint8Array): Uint8Array {
  const w = new Writer(confirmationTag.length + 4);
  w.opaque(confirmationTag);
  return w.finish();
}
