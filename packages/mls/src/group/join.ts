/**
 * Joining a group from a Welcome (RFC 9420 §12.4.3.1): the Welcome
 * cryptography is in welcome/; here the ratchet tree is found (the
 * ratchet_tree extension or one supplied out of band) and validated, our leaf
 * is located, the path keys are derived, and the first GroupState is built.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { decode, encode } from "../codec/tls.js";
import type { CipherSuite, CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ExtensionType, WireFormat } from "../messages/enums.js";
import { findExtension } from "../messages/extension.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { GroupInfo } from "../messages/groupInfo.js";
import { leafNodeCodec } from "../messages/leafNode.js";
import { mlsMessageCodec } from "../messages/mlsMessage.js";
import { makeKeyPackageRef } from "../messages/refs.js";
import type { Welcome } from "../messages/welcome.js";
import { zeroizeEpochSecrets } from "../schedule/keySchedule.js";
import { interimTranscriptHash } from "../schedule/transcriptHash.js";
import { PrivateTreeKeys, setKeysFromPathSecret } from "../tree/privateTreeKeys.js";
import { PublicRatchetTree } from "../tree/ratchetTree.js";
import { commonAncestor, leafToNode, type LeafIndex } from "../tree/treeMath.js";
import { validateRatchetTree } from "../tree/treeValidation.js";
import { joinWelcome } from "../welcome/welcome.js";
import type { GroupConfig } from "./groupConfig.js";
import { newEpochState, type GroupState } from "./groupState.js";
import type { KeyPackageBundle } from "./keyPackage.js";
import { groupPskLookup } from "./psk.js";
import { checkResumedGroup, identicalCredentials, resumptionLookup } from "./resumption.js";

/** What a joiner needs of one of its KeyPackages: the KeyPackage and its private keys. */
export type JoinKeyPackage = Pick<KeyPackageBundle, "keyPackage" | "initPrivateKey" | "encryptionPrivateKey" | "signaturePrivateKey"> & { readonly ref?: Uint8Array };

export interface JoinInput {
  readonly provider: CryptoProvider;
  /** The KeyPackages the Welcome may answer (the matching one is found by KeyPackageRef). */
  readonly keyPackages: readonly JoinKeyPackage[];
  /** The ratchet tree (encoded ratchet_tree extension value) when the Welcome's GroupInfo does not carry it. */
  readonly ratchetTree?: Uint8Array;
  /** Groups we are (or were) in whose resumption PSKs the Welcome may name: a reinitialized or branched group (§11.2, §11.3). */
  readonly resumptionGroups?: readonly GroupState[];
}

/** Decodes an MLSMessage that must be a Welcome. */
/**
 * RFC 9420 §12.4.3.1: a joiner (by Welcome or external commit) validates the whole tree against
 * the GroupContext it was given, with the application's credential check (a rejection or a
 * throwing validator both fail the leaf).
 */
export async function validateJoinedTree(tree: PublicRatchetTree, gc: GroupContext, config: GroupConfig): Promise<void> {
  const validator = config.validateCredential;
  await validateRatchetTree(tree, {
    groupId: gc.groupId,
    treeHash: gc.treeHash,
    groupContextExtensions: gc.extensions,
    ...(config.maxLifetime === undefined ? {} : { maxLifetime: config.maxLifetime }),
    ...(validator === undefined ? {} : { validateCredential: (c, k, leafIndex) => Promise.resolve(validator(c, k, { kind: "tree", groupId: gc.groupId, leafIndex })).catch(() => false) }),
  });
}

export function decodeWelcomeMessage(bytes: Uint8Array): Welcome {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.welcome) throw new MlsError("WELCOME_INVALID", `expected a Welcome, got wire format ${m.wireFormat}`);
  return m.welcome;
}

function findKeyPackage(suite: CipherSuite, welcome: Welcome, candidates: readonly JoinKeyPackage[]): { kp: JoinKeyPackage; ref: Uint8Array } {
  for (const kp of candidates) {
    if (kp.keyPackage.cipherSuite !== welcome.cipherSuite) continue;
    const ref = kp.ref ?? makeKeyPackageRef(suite, kp.keyPackage);
    if (welcome.secrets.some((s) => bytesEqual(s.newMember, ref))) return { kp, ref };
  }
  throw new MlsError("WELCOME_NO_MATCHING_KEY_PACKAGE", "the Welcome is for none of our KeyPackages");
}

/** The tree from the GroupInfo's ratchet_tree extension, else the one supplied (§12.4.3.3). */
function treeFor(suite: CipherSuite, groupInfo: GroupInfo, supplied: Uint8Array | undefined): PublicRatchetTree {
  const ext = findExtension(groupInfo.extensions, ExtensionType.ratchetTree);
  const bytes = ext?.extensionData ?? supplied;
  if (bytes === undefined) throw new MlsError("WELCOME_MISSING_RATCHET_TREE", "the Welcome carries no ratchet tree and none was supplied");
  return PublicRatchetTree.decode(suite, bytes);
}

/** The leaf holding exactly our KeyPackage's LeafNode (§12.4.3.1). */
function findOwnLeaf(tree: PublicRatchetTree, kp: JoinKeyPackage): LeafIndex {
  const leafNode = kp.keyPackage.leafNode;
  const l = tree.findLeafByEncryptionKey(leafNode.encryptionKey);
  const found = l === undefined ? undefined : tree.leafNode(l);
  if (l === undefined || found === undefined || !bytesEqual(encode(leafNodeCodec, found), encode(leafNodeCodec, leafNode))) {
    throw new MlsError("WELCOME_NOT_IN_TREE", "our KeyPackage's leaf is not in the group's ratchet tree");
  }
  return l;
}

/**
 * §12.4.3.1: processes a Welcome into the joiner's first GroupState. Errors:
 * WELCOME_* (no entry for our KeyPackages, no tree, our leaf absent, suite
 * or PSK rules), GROUP_INFO_INVALID_SIGNATURE, TREE_* / LEAF_NODE_* (tree
 * validation), UPDATE_PATH_INVALID (path secret inconsistent with the tree),
 * MESSAGE_INVALID_CONFIRMATION_TAG, PSK_INVALID, CRYPTO_*, DECODE_*.
 */
export async function joinFromWelcome(welcomeBytes: Uint8Array, input: JoinInput, config: GroupConfig): Promise<GroupState> {
  const welcome = decodeWelcomeMessage(welcomeBytes);
  const suite = input.provider.suite(welcome.cipherSuite);
  const { kp, ref } = findKeyPackage(suite, welcome, input.keyPackages);

  let tree: PublicRatchetTree | undefined;
  const joined = await joinWelcome(suite, {
    welcome,
    keyPackageRef: ref,
    initPrivateKey: kp.initPrivateKey,
    signerPublicKey: (gi) => {
      tree = treeFor(suite, gi, input.ratchetTree);
      return tree.hasLeaf(gi.signer) ? tree.leafNode(gi.signer)?.signatureKey : undefined;
    },
    psks: resumptionLookup(input.resumptionGroups ?? [], groupPskLookup(config, new Uint8Array(0), [])),
  });
  if (tree === undefined) throw new MlsError("WELCOME_MISSING_RATCHET_TREE", "no ratchet tree");
  const { groupInfo, groupSecrets, epochSecrets } = joined;
  const gc = groupInfo.groupContext;
  zeroize(joined.pskSecret);

  try {
    await validateJoinedTree(tree, gc, config);
    const me = findOwnLeaf(tree, kp);
    const privateKeys = new PrivateTreeKeys(me, { privateKey: kp.encryptionPrivateKey.slice(), publicKey: kp.keyPackage.leafNode.encryptionKey });
    if (groupSecrets.pathSecret !== undefined) {
      if (groupInfo.signer === me) throw new MlsError("WELCOME_INVALID", "the GroupInfo signer is the joiner");
      const node = commonAncestor(leafToNode(me), leafToNode(groupInfo.signer));
      const last = await setKeysFromPathSecret(suite, tree, privateKeys, node, groupSecrets.pathSecret.pathSecret);
      zeroize(last);
    }
    const state = newEpochState(
      {
        suite,
        groupContext: gc,
        groupContextBytes: joined.groupContext,
        tree,
        privateKeys,
        signaturePrivateKey: kp.signaturePrivateKey,
        secrets: epochSecrets,
        interimTranscriptHash: interimTranscriptHash(suite, gc.confirmedTranscriptHash, groupInfo.confirmationTag),
        confirmationTag: groupInfo.confirmationTag,
      },
      config,
    );
    checkResumedGroup(state, groupSecrets.psks, input.resumptionGroups ?? [], config.sameIdentity ?? identicalCredentials);
    return state;
  } catch (e) {
    zeroizeEpochSecrets(epochSecrets);
    throw e;
  } finally {
    zeroize(groupSecrets.joinerSecret);
    zeroize(groupSecrets.pathSecret?.pathSecret);
  }
}
