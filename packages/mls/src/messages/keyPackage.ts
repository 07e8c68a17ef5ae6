/** RFC 9420 §10: KeyPackage and KeyPackageTBS. */
import { Writer, type Codec, type Reader } from "../codec/tls.js";
import { protocolVersionCodec, type ProtocolVersion } from "./enums.js";
import { extensionsCodec, type Extension } from "./extension.js";
import { leafNodeCodec, type LeafNode } from "./leafNode.js";

export interface KeyPackageTBS {
  version: ProtocolVersion;
  cipherSuite: number;
  initKey: Uint8Array;
  leafNode: LeafNode;
  extensions: Extension[];
}

/** A KeyPackage (RFC 9420 §10): a client's signed offer to be added to groups. */
export interface KeyPackage extends KeyPackageTBS {
  signature: Uint8Array;
}

function writeTbs(w: Writer, k: KeyPackageTBS): void {
  protocolVersionCodec.encode(w, k.version);
  w.u16(k.cipherSuite);
  w.opaque(k.initKey);
  leafNodeCodec.encode(w, k.leafNode);
  extensionsCodec.encode(w, k.extensions);
}

function readTbs(r: Reader): KeyPackageTBS {
  const version = protocolVersionCodec.decode(r);
  const cipherSuite = r.u16();
  const initKey = r.opaque();
  const leafNode = leafNodeCodec.decode(r);
  return { version, cipherSuite, initKey, leafNode, extensions: extensionsCodec.decode(r) };
}

export const keyPackageTbsCodec: Codec<KeyPackageTBS> = { encode: writeTbs, decode: readTbs };

/** TLS codec of {@link KeyPackage}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const keyPackageCodec: Codec<KeyPackage> = {
  encode(w, k) {
    writeTbs(w, k);
    w.opaque(k.signature);
  },
  decode(r) {
    const t = readTbs(r);
    return { version: t.version, cipherSuite: t.cipherSuite, initKey: t.initKey, leafNode: t.leafNode, extensions: t.extensions, signature: r.opaque() };
  },
};

/** The bytes SignWithLabel(., "KeyPackageTBS", .) covers (a KeyPackage's signature, if present, is ignored). */
export function keyPackageTbsBytes(k: KeyPackageTBS): Uint8Array {
  const w = new Writer(1024);
  writeTbs(w, k);
  return w.finish();
}
