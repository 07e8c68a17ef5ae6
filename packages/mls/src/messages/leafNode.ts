/** RFC 9420 §7.2: Lifetime, LeafNode and LeafNodeTBS (what a leaf's signature covers). */
import { withoutTrailingOpaque, Writer, type Codec, type Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { capabilitiesCodec, type Capabilities } from "./capabilities.js";
import { credentialCodec, type Credential } from "./credential.js";
import { LeafNodeSource } from "./enums.js";
import { extensionsCodec, type Extension } from "./extension.js";

/** A KeyPackage leaf's validity (RFC 9420 §7.2), in seconds since the Unix epoch. */
export interface Lifetime {
  /** Seconds since the Unix epoch. */
  notBefore: bigint;
  notAfter: bigint;
}

export const lifetimeCodec: Codec<Lifetime> = {
  encode(w, l) {
    w.u64(l.notBefore);
    w.u64(l.notAfter);
  },
  decode(r) {
    const notBefore = r.u64();
    return { notBefore, notAfter: r.u64() };
  },
};

/** The fields every LeafNode has, whatever its source. */
export interface LeafNodeBase {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: Credential;
  capabilities: Capabilities;
  extensions: Extension[];
}

/** The `select (leaf_node_source)` part of LeafNode. */
export type LeafNodeSourceFields =
  | { leafNodeSource: typeof LeafNodeSource.keyPackage; lifetime: Lifetime }
  | { leafNodeSource: typeof LeafNodeSource.update }
  | { leafNodeSource: typeof LeafNodeSource.commit; parentHash: Uint8Array };

/** A LeafNode without its signature: what a client builds before signing. */
export type UnsignedLeafNode = LeafNodeBase & LeafNodeSourceFields;

/** A signed LeafNode (RFC 9420 §7.2). */
export type LeafNode = UnsignedLeafNode & { signature: Uint8Array };

export type KeyPackageLeafNode = LeafNode & { leafNodeSource: typeof LeafNodeSource.keyPackage };
export type UpdateLeafNode = LeafNode & { leafNodeSource: typeof LeafNodeSource.update };
export type CommitLeafNode = LeafNode & { leafNodeSource: typeof LeafNodeSource.commit };

/** Writes everything above `signature` (shared by LeafNode and LeafNodeTBS). */
function writeUnsigned(w: Writer, n: UnsignedLeafNode): void {
  w.opaque(n.encryptionKey);
  w.opaque(n.signatureKey);
  credentialCodec.encode(w, n.credential);
  capabilitiesCodec.encode(w, n.capabilities);
  w.u8(n.leafNodeSource);
  switch (n.leafNodeSource) {
    case LeafNodeSource.keyPackage:
      lifetimeCodec.encode(w, n.lifetime);
      break;
    case LeafNodeSource.update:
      break;
    case LeafNodeSource.commit:
      w.opaque(n.parentHash);
      break;
    default:
      throw new MlsError("ENCODE_INVALID", `unknown leaf_node_source ${(n as { leafNodeSource: number }).leafNodeSource}`);
  }
  extensionsCodec.encode(w, n.extensions);
}

function readUnsigned(r: Reader): UnsignedLeafNode {
  return readLeaf(r, false);
}

/**
 * A LeafNode, with its signature when `signed` (read into the object literal,
 * not added after it: one object shape, no transition, per decoded leaf).
 */
function readLeaf(r: Reader, signed: true): LeafNode;
function readLeaf(r: Reader, signed: false): UnsignedLeafNode;
function readLeaf(r: Reader, signed: boolean): UnsignedLeafNode | LeafNode {
  const encryptionKey = r.opaque();
  const signatureKey = r.opaque();
  const credential = credentialCodec.decode(r);
  const capabilities = capabilitiesCodec.decode(r);
  const source = r.u8();
  switch (source) {
    case LeafNodeSource.keyPackage: {
      const lifetime = lifetimeCodec.decode(r);
      const extensions = extensionsCodec.decode(r);
      if (signed) return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, lifetime, extensions, signature: r.opaque() };
      return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, lifetime, extensions };
    }
    case LeafNodeSource.update: {
      const extensions = extensionsCodec.decode(r);
      if (signed) return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, extensions, signature: r.opaque() };
      return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, extensions };
    }
    case LeafNodeSource.commit: {
      const parentHash = r.opaque();
      const extensions = extensionsCodec.decode(r);
      if (signed) return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, parentHash, extensions, signature: r.opaque() };
      return { encryptionKey, signatureKey, credential, capabilities, leafNodeSource: source, parentHash, extensions };
    }
    default:
      throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown LeafNodeSource ${source}`);
  }
}

/**
 * The encodings of LeafNodes decoded from a KeyPackage (keyPackageCodec
 * records them), views of the bytes they came from. Our encoding is
 * canonical (minimal varints, decoded values only), so these are the bytes
 * encoding the leaf would give: encoding it, or its LeafNodeTBS, copies them
 * instead. A decoded leaf is a value: it is never changed after decoding.
 */
const leafNodeWire = new WeakMap<LeafNode, Uint8Array>();

/** @internal Records `bytes` as the encoding of the just decoded `leaf`. */
export function rememberLeafNodeBytes(leaf: LeafNode, bytes: Uint8Array): void {
  leafNodeWire.set(leaf, bytes);
}

/**
 * @internal The LeafNodeTBS of a key_package leaf decoded from the wire, as a
 * view of the bytes it came from (read only): its encoding without the
 * signature, the last field. Undefined for any other leaf.
 */
export function keyPackageLeafTbsView(leaf: UnsignedLeafNode & { signature?: Uint8Array }): Uint8Array | undefined {
  if (leaf.leafNodeSource !== LeafNodeSource.keyPackage || leaf.signature === undefined) return undefined;
  const bytes = leafNodeWire.get(leaf as LeafNode);
  if (bytes === undefined) return undefined;
  return withoutTrailingOpaque(bytes, leaf.signature.length);
}

/** TLS codec of {@link LeafNode}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const leafNodeCodec: Codec<LeafNode> = {
  encode(w, n) {
    const wire = leafNodeWire.get(n);
    if (wire !== undefined) {
      w.raw(wire);
      return;
    }
    writeUnsigned(w, n);
    w.opaque(n.signature);
  },
  decode(r) {
    return readLeaf(r, true);
  },
};

/**
 * LeafNodeTBS: the unsigned leaf plus, for leaves made inside a group (update,
 * commit), the group id and the leaf's index (RFC 9420 §7.2).
 */
export type LeafNodeTBS =
  | (LeafNodeBase & { leafNodeSource: typeof LeafNodeSource.keyPackage; lifetime: Lifetime })
  | (LeafNodeBase & { leafNodeSource: typeof LeafNodeSource.update; groupId: Uint8Array; leafIndex: LeafIndex })
  | (LeafNodeBase & { leafNodeSource: typeof LeafNodeSource.commit; parentHash: Uint8Array; groupId: Uint8Array; leafIndex: LeafIndex });

export const leafNodeTbsCodec: Codec<LeafNodeTBS> = {
  encode(w, t) {
    writeUnsigned(w, t);
    if (t.leafNodeSource !== LeafNodeSource.keyPackage) {
      w.opaque(t.groupId);
      w.u32(t.leafIndex);
    }
  },
  decode(r) {
    const n = readUnsigned(r);
    if (n.leafNodeSource === LeafNodeSource.keyPackage) return n;
    const groupId = r.opaque();
    return { ...n, groupId, leafIndex: r.u32() as LeafIndex };
  },
};

/** Where a leaf made inside a group sits: the context LeafNodeTBS adds for update/commit leaves. */
export interface LeafNodeGroupContext {
  groupId: Uint8Array;
  leafIndex: LeafIndex;
}

/**
 * The bytes SignWithLabel(., "LeafNodeTBS", .) covers for `leaf` (its signature, if any, is ignored).
 * `group` is required for update and commit leaves and ignored for key_package leaves.
 */
export function leafNodeTbsBytes(leaf: UnsignedLeafNode, group?: LeafNodeGroupContext): Uint8Array {
  return leafNodeTbsWriter(leaf, group).finish();
}

/** {@link leafNodeTbsBytes} left in its Writer, to sign or verify in place (Writer.consume). */
export function leafNodeTbsWriter(leaf: UnsignedLeafNode, group?: LeafNodeGroupContext): Writer {
  const w = new Writer(512);
  const tbs = keyPackageLeafTbsView(leaf);
  if (tbs !== undefined) {
    w.raw(tbs);
    return w;
  }
  writeUnsigned(w, leaf);
  if (leaf.leafNodeSource !== LeafNodeSource.keyPackage) {
    if (group === undefined) {
      throw new MlsError("INVALID_ARGUMENT", "LeafNodeTBS of an update/commit leaf needs the group id and leaf index");
    }
    w.opaque(group.groupId);
    w.u32(group.leafIndex);
  }
  return w;
}
