/** Group creation (RFC 9420 §11): a one-member group at epoch 0. */
import { zeroize } from "../codec/bytes.js";
import { encode } from "../codec/tls.js";
import type { CipherSuiteId, CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import type { Capabilities } from "../messages/capabilities.js";
import { LeafNodeSource, ProtocolVersion } from "../messages/enums.js";
import type { Extension } from "../messages/extension.js";
import { groupContextCodec, type GroupContext } from "../messages/groupContext.js";
import type { Lifetime } from "../messages/leafNode.js";
import { confirmationTag, deriveEpochSecrets } from "../schedule/keySchedule.js";
import { interimTranscriptHash } from "../schedule/transcriptHash.js";
import { signLeafNode } from "../tree/leafNodeValidation.js";
import { PrivateTreeKeys } from "../tree/privateTreeKeys.js";
import { PublicRatchetTree } from "../tree/ratchetTree.js";
import { leafIndex } from "../tree/treeMath.js";
import { checkExtensionsSupported } from "./applyProposals.js";
import { nowOf, type GroupConfig } from "./groupConfig.js";
import { newEpochState, type GroupState } from "./groupState.js";
import { defaultCapabilities, type SigningIdentity } from "./keyPackage.js";

/** Options of {@link Group.create}. */
export interface CreateGroupOptions {
  readonly provider: CryptoProvider;
  readonly cipherSuite: CipherSuiteId;
  readonly identity: SigningIdentity;
  /** Default: Nh random bytes (§11). */
  readonly groupId?: Uint8Array;
  /** GroupContext extensions (required_capabilities, external_senders, ...). */
  readonly extensions?: readonly Extension[];
  /** The creator's leaf lifetime; default [now, now + maxLifetime] from the configured clock. */
  readonly lifetime?: Lifetime;
  readonly capabilities?: Partial<Capabilities>;
  readonly leafNodeExtensions?: readonly Extension[];
  readonly config?: Partial<GroupConfig>;
}

/** §11: the creator's state: one leaf, epoch 0, empty confirmed transcript, a fresh key schedule. */
export async function createGroupState(opts: Omit<CreateGroupOptions, "config">, config: GroupConfig): Promise<GroupState> {
  const suite = opts.provider.suite(opts.cipherSuite);
  const extensions = [...(opts.extensions ?? [])];
  const now = nowOf(config);
  const lifetime = opts.lifetime ?? (now !== undefined && config.maxLifetime !== undefined ? { notBefore: now, notAfter: now + config.maxLifetime } : undefined);
  if (lifetime === undefined) throw new MlsError("INVALID_ARGUMENT", "give the creator's leaf a lifetime (or configure a clock)");
  const encryption = await suite.hpkeGenerateKeyPair();
  const { identity } = opts;
  const leafExtensions = [...(opts.leafNodeExtensions ?? [])];
  const leaf = await signLeafNode(suite, identity.signaturePrivateKey, {
    encryptionKey: encryption.publicKey,
    signatureKey: identity.signaturePublicKey,
    credential: identity.credential,
    capabilities: defaultCapabilities(suite.id, identity.credential.credentialType, [...leafExtensions, ...extensions], opts.capabilities),
    leafNodeSource: LeafNodeSource.keyPackage,
    lifetime,
    extensions: leafExtensions,
  });
  const tree = PublicRatchetTree.create(suite, leaf);
  checkExtensionsSupported(tree, extensions, new Set());
  const groupContext: GroupContext = {
    version: ProtocolVersion.mls10,
    cipherSuite: suite.id,
    groupId: opts.groupId ?? suite.randomBytes(suite.params.nh),
    epoch: 0n,
    treeHash: tree.treeHash(),
    confirmedTranscriptHash: new Uint8Array(0),
    extensions,
  };
  const groupContextBytes = encode(groupContextCodec, groupContext);
  // §11: the first epoch secret is fresh randomness; a random init_secret through the schedule gives exactly that.
  const initSecret = suite.randomBytes(suite.params.nh);
  const secrets = deriveEpochSecrets(suite, { initSecret, commitSecret: new Uint8Array(suite.params.nh), groupContext: groupContextBytes });
  zeroize(initSecret);
  // §11: confirmation tag over the empty confirmed transcript hash, then the interim transcript hash.
  const tag = confirmationTag(suite, secrets.confirmationKey, groupContext.confirmedTranscriptHash);
  return newEpochState(
    {
      suite,
      groupContext,
      groupContextBytes,
      tree,
      privateKeys: new PrivateTreeKeys(leafIndex(0), encryption),
      signaturePrivateKey: identity.signaturePrivateKey,
      secrets,
      interimTranscriptHash: interimTranscriptHash(suite, groupContext.confirmedTranscriptHash, tag),
      confirmationTag: tag,
    },
    config,
  );
}
