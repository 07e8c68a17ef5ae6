/** RFC 9420 §10: KeyPackage and KeyPackageTBS. */
import { withoutTrailingOpaque, Writer, type Codec, type Reader } from "../codec/tls.js";
import { protocolVersionCodec, type ProtocolVersion } from "./enums.js";
import { extensionsCodec, type Extension } from "./extension.js";
import { leafNodeCodec, rememberLeafNodeBytes, type LeafNode } from "./leafNode.js";

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

/** Where the leaf node of the KeyPackage readFields read last lies, from its start (keyPackageCodec.decode reads it at once). */
let lastLeafStart = 0;
let lastLeafEnd = 0;

/** A KeyPackage's fields, with its signature when `signed` (in the object literal: one object, one shape, per decode). */
function readFields(r: Reader, signed: true): KeyPackage;
function readFields(r: Reader, signed: false): KeyPackageTBS;
function readFields(r: Reader, signed: boolean): KeyPackageTBS | KeyPackage {
  const start = r.offset;
  const version = protocolVersionCodec.decode(r);
  const cipherSuite = r.u16();
  const initKey = r.opaque();
  const leafStart = r.offset - start;
  const leafNode = leafNodeCodec.decode(r);
  lastLeafStart = leafStart;
  lastLeafEnd = r.offset - start;
  const extensions = extensionsCodec.decode(r);
  if (signed) return { version, cipherSuite, initKey, leafNode, extensions, signature: r.opaque() };
  return { version, cipherSuite, initKey, leafNode, extensions };
}

function readTbs(r: Reader): KeyPackageTBS {
  return readFields(r, false);
}

export const keyPackageTbsCodec: Codec<KeyPackageTBS> = { encode: writeTbs, decode: readTbs };

/**
 * The encodings of decoded KeyPackages, views of the bytes they came from.
 * Our encoding is canonical (minimal varints, decoded values only), so
 * re-encoding a decoded KeyPackage gives these bytes: a commit that adds
 * hundreds of members copies them (into the Commit, for KeyPackageRefs, for
 * the signature checks) instead of encoding each KeyPackage again.
 * A decoded KeyPackage is a value: it is never changed after decoding.
 */
const keyPackageWire = new WeakMap<KeyPackageTBS, Uint8Array>();

/** @internal The encoding of a KeyPackage decoded from the wire (read only); undefined for one built here. */
export function keyPackageBytesOf(k: KeyPackageTBS): Uint8Array | undefined {
  return keyPackageWire.get(k);
}

/** TLS codec of {@link KeyPackage}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const keyPackageCodec: Codec<KeyPackage> = {
  encode(w, k) {
    const wire = keyPackageWire.get(k);
    if (wire !== undefined) {
      w.raw(wire);
      return;
    }
    writeTbs(w, k);
    w.opaque(k.signature);
  },
  decode(r) {
    const start = r.offset;
    const kp = readFields(r, true);
    const bytes = r.keepSince(start);
    keyPackageWire.set(kp, bytes);
    rememberLeafNodeBytes(kp.leafNode, bytes.subarray(lastLeafStart, lastLeafEnd));
    return kp;
  },
};

/**
 * @internal The bytes SignWithLabel(., "KeyPackageTBS", .) covers, for
 * reading only: a view of the received bytes when `k` was decoded (its
 * encoding without the signature, the last field), else encoded.
 */
export function keyPackageTbsView(k: KeyPackage): Uint8Array {
  const wire = keyPackageWire.get(k);
  if (wire === undefined) return keyPackageTbsBytes(k);
  return withoutTrailingOpaque(wire, k.signature.length);
}

/** The bytes SignWithLabel(., "KeyPackageTBS", .) covers (a KeyPackage's signature, if present, is ignored). */
export function keyPackageTbsBytes(k: KeyPackageTBS): Uint8Array {
  const w = new Writer(1024);
  writeTbs(w, k);
  return w.finish();
}
