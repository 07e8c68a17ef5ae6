/** RFC 9420 §12.4.3: GroupInfo and GroupInfoTBS. */
import { Writer, type Codec, type Reader } from "../codec/tls.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { extensionsCodec, type Extension } from "./extension.js";
import { groupContextCodec, type GroupContext } from "./groupContext.js";

export interface GroupInfoTBS {
  groupContext: GroupContext;
  /** GroupInfo extensions (ratchet_tree, external_pub, ...); unknown ones are ignored, not rejected. */
  extensions: Extension[];
  confirmationTag: Uint8Array;
  /** Leaf index of the member who signed. */
  signer: LeafIndex;
}

/** A GroupInfo (RFC 9420 §12.4.3): the signed GroupContext and extensions a joiner needs. */
export interface GroupInfo extends GroupInfoTBS {
  signature: Uint8Array;
}

function writeTbs(w: Writer, g: GroupInfoTBS): void {
  groupContextCodec.encode(w, g.groupContext);
  extensionsCodec.encode(w, g.extensions);
  w.opaque(g.confirmationTag);
  w.u32(g.signer);
}

function readTbs(r: Reader): GroupInfoTBS {
  const groupContext = groupContextCodec.decode(r);
  const extensions = extensionsCodec.decode(r);
  const confirmationTag = r.opaque();
  return { groupContext, extensions, confirmationTag, signer: r.u32() as LeafIndex };
}

export const groupInfoTbsCodec: Codec<GroupInfoTBS> = { encode: writeTbs, decode: readTbs };

/** TLS codec of {@link GroupInfo}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const groupInfoCodec: Codec<GroupInfo> = {
  encode(w, g) {
    writeTbs(w, g);
    w.opaque(g.signature);
  },
  decode(r) {
    const t = readTbs(r);
    return { groupContext: t.groupContext, extensions: t.extensions, confirmationTag: t.confirmationTag, signer: t.signer, signature: r.opaque() };
  },
};

/** The bytes SignWithLabel(., "GroupInfoTBS", .) covers (a GroupInfo's signature, if present, is ignored). */
export function groupInfoTbsBytes(g: GroupInfoTBS): Uint8Array {
  return groupInfoTbsWriter(g).finish();
}

/** {@link groupInfoTbsBytes} left in its Writer, to sign or verify in place (Writer.consume). */
export function groupInfoTbsWriter(g: GroupInfoTBS): Writer {
  const w = new Writer(1024);
  writeTbs(w, g);
  return w;
}
