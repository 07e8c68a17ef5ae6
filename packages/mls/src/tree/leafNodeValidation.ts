/**
 * LeafNode signatures and validation (RFC 9420 §7.2, §7.3): the checks a
 * client runs on a LeafNode from a KeyPackage, an Update, a Commit's
 * UpdatePath, or a ratchet tree it joins with.
 */
import { returnScratch, withoutTrailingOpaque, Writer } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import type { Credential } from "../messages/credential.js";
import { ExtensionType, isDefaultExtensionType, isDefaultProposalType, LeafNodeSource } from "../messages/enums.js";
import { readExtension, type Extension } from "../messages/extension.js";
import { requiredCapabilitiesCodec, type RequiredCapabilities } from "../messages/extensionPayloads.js";
import { keyPackageLeafTbsView, leafNodeTbsWriter, type LeafNode, type LeafNodeGroupContext, type UnsignedLeafNode } from "../messages/leafNode.js";
import type { PublicRatchetTree } from "./ratchetTree.js";
import type { LeafIndex } from "./treeMath.js";

const LEAF_NODE_TBS = "LeafNodeTBS";

function groupContextFor(leaf: UnsignedLeafNode, group: LeafNodeGroupContext | undefined): LeafNodeGroupContext | undefined {
  return leaf.leafNodeSource === LeafNodeSource.keyPackage ? undefined : group;
}

/** Signs `leaf` (§7.2): SignWithLabel(sk, "LeafNodeTBS", LeafNodeTBS). `group` is needed for update and commit leaves. */
export async function signLeafNode(suite: CipherSuite, signaturePrivateKey: Uint8Array, leaf: UnsignedLeafNode, group?: LeafNodeGroupContext): Promise<LeafNode> {
  // The TBS is signed where it was written (lent scratch, no copy), and handed back once signed.
  const tbs = leafNodeTbsWriter(leaf, groupContextFor(leaf, group)).lend();
  let signature: Uint8Array;
  try {
    signature = await suite.signWithLabel(signaturePrivateKey, LEAF_NODE_TBS, tbs);
  } finally {
    returnScratch(tbs);
  }
  return { ...leaf, signature } as LeafNode;
}

/**
 * LeafNodeTBS (§7.2) from the leaf's encoding: the encoding without the
 * signature (the last field, an opaque<V> with a minimal varint header),
 * then the group id and leaf index for an update or commit leaf.
 */
function tbsFromEncoding(leaf: LeafNode, encoding: Uint8Array, group: LeafNodeGroupContext | undefined): Uint8Array {
  const unsigned = withoutTrailingOpaque(encoding, leaf.signature.length);
  if (leaf.leafNodeSource === LeafNodeSource.keyPackage) return unsigned;
  if (group === undefined) throw new MlsError("INVALID_ARGUMENT", "LeafNodeTBS of an update/commit leaf needs the group id and leaf index");
  const w = new Writer(unsigned.length + group.groupId.length + 8);
  w.raw(unsigned);
  w.opaque(group.groupId);
  w.u32(group.leafIndex);
  return w.finish();
}

/**
 * Whether `leaf.signature` verifies under `leaf.signatureKey`; false (never a throw) for a malformed key.
 * `encoding`: the leaf's encoding when the caller holds the bytes it was decoded from (the TBS is cut from them).
 */
export async function verifyLeafNodeSignature(suite: CipherSuite, leaf: LeafNode, group?: LeafNodeGroupContext, encoding?: Uint8Array): Promise<boolean> {
  try {
    // From the bytes the leaf came with when known (a tree's packed leaf, a KeyPackage's leaf); else a copy,
    // not lent scratch: a joiner verifies every leaf at once, and each loan would hold a 4 KB buffer.
    const g = groupContextFor(leaf, group);
    const tbs = encoding !== undefined ? tbsFromEncoding(leaf, encoding, g) : (keyPackageLeafTbsView(leaf) ?? leafNodeTbsWriter(leaf, g).finish());
    return await suite.verifyWithLabel(leaf.signatureKey, LEAF_NODE_TBS, tbs, leaf.signature);
  } catch (e) {
    if (e instanceof MlsError && e.code !== "INVALID_ARGUMENT") return false;
    throw e;
  }
}

/** The group's requirements on its members' LeafNodes (§7.3, §11.1). */
export interface LeafNodeGroupRequirements {
  /** GroupContext extensions: required_capabilities is read from them and every non-default type must be supported. */
  groupContextExtensions?: readonly Extension[];
  /** Credential types used by the other members: the leaf must support all of them. */
  credentialTypesInUse?: Iterable<number>;
  /** Credential types every other member supports: the leaf's credential type must be among them. */
  credentialTypesSupportedByAll?: ReadonlySet<number>;
}

/** What the caller knows about where the leaf appears. */
export interface LeafNodeValidationOptions extends LeafNodeGroupRequirements {
  /** The leaf_node_source the context demands (key_package in a KeyPackage, update in an Update, commit in an UpdatePath). */
  expectedSource?: LeafNodeSource;
  /** Group id and leaf index: required for update and commit leaves (their signature covers them). */
  group?: LeafNodeGroupContext;
  /** Current time in seconds since the epoch; when given, a key_package leaf's lifetime must contain it. */
  now?: bigint;
  /** Longest acceptable not_after - not_before, in seconds (§7.2: applications MUST set one). */
  maxLifetime?: bigint;
  /**
   * The tree the leaf is entering, to check its keys are fresh (§7.3); for an
   * update or commit leaf, `group.leafIndex` is the leaf it replaces.
   */
  tree?: PublicRatchetTree;
  /** Application credential check (§5.3.1); return false to reject. */
  validateCredential?: (credential: Credential, signatureKey: Uint8Array) => boolean | Promise<boolean>;
}

/** The RequiredCapabilities in a GroupContext's extensions, if any (DECODE_* when malformed). */
export function requiredCapabilitiesOf(extensions: readonly Extension[] | undefined): RequiredCapabilities | undefined {
  return extensions === undefined ? undefined : readExtension(extensions, ExtensionType.requiredCapabilities, requiredCapabilitiesCodec);
}

/**
 * The synchronous checks of §7.3: source, lifetime, own extensions and
 * credential listed in capabilities, group requirements. `required` lets a
 * caller validating many leaves decode required_capabilities once.
 */
export function checkLeafNodeContents(leaf: LeafNode, opts: LeafNodeValidationOptions, required = requiredCapabilitiesOf(opts.groupContextExtensions)): void {
  if (opts.expectedSource !== undefined && leaf.leafNodeSource !== opts.expectedSource) {
    throw new MlsError("LEAF_NODE_INVALID_SOURCE", `leaf_node_source is ${leaf.leafNodeSource}, expected ${opts.expectedSource}`);
  }
  if (leaf.leafNodeSource === LeafNodeSource.keyPackage) {
    const { notBefore, notAfter } = leaf.lifetime;
    if (notAfter < notBefore) throw new MlsError("LEAF_NODE_INVALID_LIFETIME", "lifetime ends before it starts");
    if (opts.now !== undefined && (opts.now < notBefore || opts.now > notAfter)) {
      throw new MlsError("LEAF_NODE_INVALID_LIFETIME", "the current time is outside the leaf's lifetime");
    }
    if (opts.maxLifetime !== undefined && notAfter - notBefore > opts.maxLifetime) {
      throw new MlsError("LEAF_NODE_INVALID_LIFETIME", "the leaf's lifetime is longer than allowed");
    }
  }
  const caps = leaf.capabilities;
  // §7.2: non-default extensions in the leaf and its credential type must be in its capabilities.
  // (Indexed loops here: this runs once per new member, mostly before the optimizing compiler has seen it.)
  const extensions = leaf.extensions;
  for (let i = 0; i < extensions.length; i++) {
    const type = extensions[i]!.extensionType;
    if (!isDefaultExtensionType(type) && !caps.extensions.includes(type)) {
      throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `extension ${type} is not listed in the leaf's capabilities`);
    }
  }
  if (!caps.credentials.includes(leaf.credential.credentialType)) {
    throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `credential type ${leaf.credential.credentialType} is not listed in the leaf's capabilities`);
  }
  // §11.1: required_capabilities (default types are implied).
  if (required !== undefined) {
    for (const t of required.extensionTypes) {
      if (!isDefaultExtensionType(t) && !caps.extensions.includes(t)) throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `required extension ${t} is not supported`);
    }
    for (const t of required.proposalTypes) {
      if (!isDefaultProposalType(t) && !caps.proposals.includes(t)) throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `required proposal ${t} is not supported`);
    }
    for (const t of required.credentialTypes) {
      if (!caps.credentials.includes(t)) throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `required credential type ${t} is not supported`);
    }
  }
  const groupExtensions = opts.groupContextExtensions;
  if (groupExtensions !== undefined) {
    for (let i = 0; i < groupExtensions.length; i++) {
      const type = groupExtensions[i]!.extensionType;
      if (!isDefaultExtensionType(type) && !caps.extensions.includes(type)) {
        throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `group context extension ${type} is not supported`);
      }
    }
  }
  const inUse = opts.credentialTypesInUse;
  if (inUse !== undefined) checkCredentialTypesInUse(caps.credentials, inUse);
  if (opts.credentialTypesSupportedByAll !== undefined && !opts.credentialTypesSupportedByAll.has(leaf.credential.credentialType)) {
    throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `credential type ${leaf.credential.credentialType} is not supported by every member`);
  }
}

/** An array is read by index (a commit's Adds pass one: see keyPackageLeafOptions); any other iterable is copied first. */
function checkCredentialTypesInUse(supported: readonly number[], inUse: Iterable<number>): void {
  const types: readonly number[] = Array.isArray(inUse) ? inUse : [...inUse];
  for (let i = 0; i < types.length; i++) {
    if (!supported.includes(types[i]!)) throw new MlsError("LEAF_NODE_INVALID_CAPABILITIES", `credential type ${types[i]} used in the group is not supported`);
  }
}

/**
 * §7.3, §12.1.2, §12.4.2: a leaf entering `tree` (new, or replacing leaf
 * `replaces`) must bring an encryption key no node of the tree has (the
 * replaced leaf's included) and a signature key no other member has.
 */
export function checkLeafNodeKeysUnique(tree: PublicRatchetTree, leaf: LeafNode, replaces: LeafIndex | undefined): void {
  const s = tree.findLeafBySignatureKey(leaf.signatureKey);
  if (s !== undefined && s !== replaces) throw new MlsError("TREE_DUPLICATE_KEY", `signature key already used by leaf ${s}`);
  const e = tree.findNodeByEncryptionKey(leaf.encryptionKey);
  if (e !== undefined) throw new MlsError("TREE_DUPLICATE_KEY", `encryption key already used by node ${e}`);
}

/**
 * Validates one LeafNode (§7.3): contents and capabilities, key uniqueness
 * when `tree` is given, credential through the callback, then the signature.
 * Throws MlsError (LEAF_NODE_*, TREE_DUPLICATE_KEY, TREE_INVALID_LEAF_SIGNATURE).
 */
export async function validateLeafNode(suite: CipherSuite, leaf: LeafNode, opts: LeafNodeValidationOptions = {}): Promise<void> {
  checkLeafNodeContents(leaf, opts);
  if (opts.tree !== undefined) checkLeafNodeKeysUnique(opts.tree, leaf, opts.group?.leafIndex);
  if (opts.validateCredential !== undefined && !(await opts.validateCredential(leaf.credential, leaf.signatureKey))) {
    throw new MlsError("LEAF_NODE_INVALID_CREDENTIAL", "the credential was rejected");
  }
  if (leaf.leafNodeSource !== LeafNodeSource.keyPackage && opts.group === undefined) {
    throw new MlsError("INVALID_ARGUMENT", "validating an update/commit leaf needs the group id and leaf index");
  }
  if (!(await verifyLeafNodeSignature(suite, leaf, opts.group))) {
    throw new MlsError("TREE_INVALID_LEAF_SIGNATURE", "the leaf node's signature does not verify");
  }
}
