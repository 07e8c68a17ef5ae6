/**
 * KeyPackages (RFC 9420 §10): creating one with its private keys, and the
 * validation of §10.1 that a member runs before adding its owner.
 */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import type { Capabilities } from "../messages/capabilities.js";
import { lastResortKeyPackageExtension } from "../messages/components.js";
import type { Credential } from "../messages/credential.js";
import { ExtensionType, isDefaultExtensionType, LeafNodeSource, ProtocolVersion, WireFormat } from "../messages/enums.js";
import type { Extension } from "../messages/extension.js";
import { keyPackageTbsBytes, keyPackageTbsView, type KeyPackage, type KeyPackageTBS } from "../messages/keyPackage.js";
import type { KeyPackageLeafNode, Lifetime, UnsignedLeafNode } from "../messages/leafNode.js";
import { mlsMessageCodec } from "../messages/mlsMessage.js";
import { makeKeyPackageRef } from "../messages/refs.js";
import type { RequiredCapabilities } from "../messages/extensionPayloads.js";
import {
  checkLeafNodeContents,
  requiredCapabilitiesOf,
  signLeafNode,
  verifyLeafNodeSignature,
  type LeafNodeGroupRequirements,
  type LeafNodeValidationOptions,
} from "../tree/leafNodeValidation.js";
import type { CredentialValidator } from "./groupConfig.js";

export const KEY_PACKAGE_TBS_LABEL = "KeyPackageTBS";

/** A client's signing identity: its credential and the signature key pair bound to it (§5.3). */
export interface SigningIdentity {
  readonly credential: Credential;
  readonly signaturePrivateKey: Uint8Array;
  readonly signaturePublicKey: Uint8Array;
}

/** Options of {@link createKeyPackage}. */
export interface CreateKeyPackageOptions {
  readonly suite: CipherSuite;
  readonly identity: SigningIdentity;
  /** not_before / not_after in seconds since the Unix epoch (§7.2); see {@link lifetimeFrom}. */
  readonly lifetime: Lifetime;
  /** Added to the defaults (this version and suite, the credential's type, every non-default extension used). */
  readonly capabilities?: Partial<Capabilities>;
  readonly leafNodeExtensions?: readonly Extension[];
  /** KeyPackage.extensions. */
  readonly extensions?: readonly Extension[];
  /** Marks the KeyPackage as last resort (draft-ietf-mls-extensions), so a DS may hand it out more than once. */
  readonly lastResort?: boolean;
}

/** A KeyPackage with everything its owner must keep to join with it. The private keys are secret. */
export interface KeyPackageBundle {
  readonly keyPackage: KeyPackage;
  /** The encoded MLSMessage(KeyPackage), what a DS stores and hands out. */
  readonly message: Uint8Array;
  /** KeyPackageRef (§5.2): how a Welcome names this KeyPackage. */
  readonly ref: Uint8Array;
  /** HPKE private key of init_key: delete it once the KeyPackage is used (§16.8), unless it is last resort. */
  readonly initPrivateKey: Uint8Array;
  /** HPKE private key of leaf_node.encryption_key. */
  readonly encryptionPrivateKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
}

/** A lifetime starting `now` and lasting `seconds`. */
export function lifetimeFrom(now: bigint, seconds: bigint): Lifetime {
  return { notBefore: now, notAfter: now + seconds };
}

function union(a: readonly number[], b: readonly number[] | undefined): number[] {
  const out = [...a];
  for (const v of b ?? []) if (!out.includes(v)) out.push(v);
  return out;
}

/**
 * The capabilities a leaf advertises (§7.2): our version and suite, the
 * credential type, every non-default extension type the leaf or KeyPackage
 * carries, plus whatever the caller adds.
 */
export function defaultCapabilities(suiteId: number, credentialType: number, extensionsUsed: readonly Extension[] = [], extra?: Partial<Capabilities>): Capabilities {
  const exts: number[] = [];
  for (const e of extensionsUsed) if (!isDefaultExtensionType(e.extensionType) && !exts.includes(e.extensionType)) exts.push(e.extensionType);
  return {
    versions: union([ProtocolVersion.mls10], extra?.versions),
    cipherSuites: union([suiteId], extra?.cipherSuites),
    extensions: union(exts, extra?.extensions),
    proposals: union([], extra?.proposals),
    credentials: union([credentialType], extra?.credentials),
  };
}

/**
 * Creates and signs a KeyPackage with fresh init and encryption keys (§10).
 * @throws MlsError `CRYPTO_INVALID_KEY` (a signature private key the suite cannot use), `ENCODE_INVALID`
 * (a field out of range, e.g. an oversized extension).
 */
export async function createKeyPackage(opts: CreateKeyPackageOptions): Promise<KeyPackageBundle> {
  const { suite, identity } = opts;
  const leafExtensions = [...(opts.leafNodeExtensions ?? [])];
  const extensions = [...(opts.extensions ?? [])];
  if (opts.lastResort === true && !extensions.some((e) => e.extensionType === ExtensionType.appDataDictionary)) {
    extensions.push(lastResortKeyPackageExtension());
  }
  const [initKeys, encryptionKeys] = await Promise.all([suite.hpkeGenerateKeyPair(), suite.hpkeGenerateKeyPair()]);
  const unsigned: UnsignedLeafNode = {
    encryptionKey: encryptionKeys.publicKey,
    signatureKey: identity.signaturePublicKey,
    credential: identity.credential,
    capabilities: defaultCapabilities(suite.id, identity.credential.credentialType, [...leafExtensions, ...extensions], opts.capabilities),
    leafNodeSource: LeafNodeSource.keyPackage,
    lifetime: opts.lifetime,
    extensions: leafExtensions,
  };
  const leafNode = (await signLeafNode(suite, identity.signaturePrivateKey, unsigned)) as KeyPackageLeafNode;
  const tbs: KeyPackageTBS = { version: ProtocolVersion.mls10, cipherSuite: suite.id, initKey: initKeys.publicKey, leafNode, extensions };
  const signature = await suite.signWithLabel(identity.signaturePrivateKey, KEY_PACKAGE_TBS_LABEL, keyPackageTbsBytes(tbs));
  const keyPackage: KeyPackage = { ...tbs, signature };
  const message = encode(mlsMessageCodec, { wireFormat: WireFormat.keyPackage, keyPackage });
  // The MLSMessage header is 4 bytes (version, wire_format): the rest is the KeyPackage encoding.
  const ref = makeKeyPackageRef(suite, message.subarray(4));
  return {
    keyPackage,
    message,
    ref,
    initPrivateKey: initKeys.privateKey,
    encryptionPrivateKey: encryptionKeys.privateKey,
    signaturePrivateKey: identity.signaturePrivateKey,
  };
}

/** Options of {@link validateKeyPackage}: the group's requirements and the credential check. */
export interface KeyPackageValidationOptions extends LeafNodeGroupRequirements {
  /** Current time (seconds); when given, the leaf's lifetime must contain it. */
  readonly now?: bigint;
  /** Longest acceptable lifetime (seconds). */
  readonly maxLifetime?: bigint;
  readonly validateCredential?: CredentialValidator;
  /** The group id, passed to the credential callback. */
  readonly groupId?: Uint8Array;
}

/** Runs the application's credential check, turning false or a rejection into LEAF_NODE_INVALID_CREDENTIAL. */
export async function checkCredential(
  validator: CredentialValidator | undefined,
  credential: Credential,
  signatureKey: Uint8Array,
  context: Parameters<CredentialValidator>[2],
): Promise<void> {
  if (validator === undefined) return;
  let ok: boolean;
  try {
    ok = await validator(credential, signatureKey, context);
  } catch (e) {
    throw new MlsError("LEAF_NODE_INVALID_CREDENTIAL", "the credential was rejected", { cause: e });
  }
  if (!ok) throw new MlsError("LEAF_NODE_INVALID_CREDENTIAL", "the credential was rejected");
}

/**
 * The synchronous checks of §10.1 (and §7.3 for the leaf): version and
 * suite, the leaf's contents for a key_package source, init_key distinct
 * from the encryption key, KeyPackage extensions listed in capabilities.
 */
export function checkKeyPackageContents(
  suite: CipherSuite,
  kp: KeyPackage,
  opts: KeyPackageValidationOptions = {},
  /** required_capabilities of opts.groupContextExtensions, for a caller checking many KeyPackages. */
  required = requiredCapabilitiesOf(opts.groupContextExtensions),
): void {
  checkKeyPackageFields(suite, kp, keyPackageLeafOptions(opts), required);
}

/** @internal The options {@link checkKeyPackageFields} checks a KeyPackage's leaf with, built once for many KeyPackages. */
export function keyPackageLeafOptions(opts: KeyPackageValidationOptions): LeafNodeValidationOptions {
  return {
    groupContextExtensions: opts.groupContextExtensions,
    credentialTypesInUse: opts.credentialTypesInUse,
    credentialTypesSupportedByAll: opts.credentialTypesSupportedByAll,
    now: opts.now,
    maxLifetime: opts.maxLifetime,
    expectedSource: LeafNodeSource.keyPackage,
  };
}

/** @internal {@link checkKeyPackageContents} with the leaf's options from {@link keyPackageLeafOptions}. */
export function checkKeyPackageFields(suite: CipherSuite, kp: KeyPackage, leafOptions: LeafNodeValidationOptions, required: RequiredCapabilities | undefined): void {
  if (kp.version !== ProtocolVersion.mls10) throw new MlsError("KEY_PACKAGE_VERSION_MISMATCH", `KeyPackage version ${kp.version as number} is not mls10`);
  if (kp.cipherSuite !== suite.id) throw new MlsError("KEY_PACKAGE_CIPHER_SUITE_MISMATCH", `KeyPackage is for cipher suite ${kp.cipherSuite}, not ${suite.id}`);
  checkLeafNodeContents(kp.leafNode, leafOptions, required);
  if (bytesEqual(kp.initKey, kp.leafNode.encryptionKey)) {
    throw new MlsError("KEY_PACKAGE_INIT_KEY_REUSED", "init_key equals leaf_node.encryption_key");
  }
  // §10: "Extensions included in the extensions or leaf_node.extensions fields MUST be included in the leaf_node.capabilities field."
  const extensions = kp.extensions;
  for (let i = 0; i < extensions.length; i++) {
    const type = extensions[i]!.extensionType;
    if (!isDefaultExtensionType(type) && !kp.leafNode.capabilities.extensions.includes(type)) {
      throw new MlsError("KEY_PACKAGE_INVALID_EXTENSION", `KeyPackage extension ${type} is not listed in the leaf's capabilities`);
    }
  }
}

/** Both signatures of a KeyPackage (§10.1, §7.3): the leaf's and the KeyPackage's. */
export async function verifyKeyPackageSignatures(suite: CipherSuite, kp: KeyPackage): Promise<void> {
  const [leafOk, kpOk] = await Promise.all([
    verifyLeafNodeSignature(suite, kp.leafNode),
    suite.verifyWithLabel(kp.leafNode.signatureKey, KEY_PACKAGE_TBS_LABEL, keyPackageTbsView(kp), kp.signature).catch(() => false),
  ]);
  if (!leafOk) throw new MlsError("TREE_INVALID_LEAF_SIGNATURE", "the KeyPackage's leaf node signature does not verify");
  if (!kpOk) throw new MlsError("KEY_PACKAGE_INVALID_SIGNATURE", "the KeyPackage signature does not verify");
}

/**
 * Validates a KeyPackage (§10.1) for a group of `suite` with the given requirements.
 * @throws MlsError `KEY_PACKAGE_VERSION_MISMATCH`, `KEY_PACKAGE_CIPHER_SUITE_MISMATCH`, `KEY_PACKAGE_INIT_KEY_REUSED`
 * (init key equal to the encryption key), `KEY_PACKAGE_INVALID_EXTENSION`, `KEY_PACKAGE_INVALID_SIGNATURE`,
 * `TREE_INVALID_LEAF_SIGNATURE`, `LEAF_NODE_INVALID_LIFETIME`, `LEAF_NODE_INVALID_SOURCE`,
 * `LEAF_NODE_INVALID_CAPABILITIES`, `LEAF_NODE_INVALID_CREDENTIAL` (the credential callback said no).
 */
export async function validateKeyPackage(suite: CipherSuite, kp: KeyPackage, opts: KeyPackageValidationOptions = {}): Promise<void> {
  checkKeyPackageContents(suite, kp, opts);
  const context = opts.groupId === undefined ? ({ kind: "keyPackage" } as const) : ({ kind: "add", groupId: opts.groupId } as const);
  await Promise.all([checkCredential(opts.validateCredential, kp.leafNode.credential, kp.leafNode.signatureKey, context), verifyKeyPackageSignatures(suite, kp)]);
}
