/**
 * Joining by external commit (RFC 9420 §12.4.3.2, §8.3): from a GroupInfo
 * carrying external_pub, a new member (or an old one resyncing) builds a
 * commit with an ExternalInit, takes the leftmost blank leaf, and enters the
 * new epoch. Members process it like any commit (processCommit.ts).
 */
import { zeroize } from "../codec/bytes.js";
import { decode } from "../codec/tls.js";
import type { CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { signFramedContent } from "../framing/contentAuth.js";
import { createFramingContext, withConfirmationTag } from "../framing/context.js";
import { protectPublicMessage } from "../framing/publicMessage.js";
import type { Capabilities } from "../messages/capabilities.js";
import type { Commit } from "../messages/commit.js";
import { ContentType, ExtensionType, ProposalOrRefType, ProposalType, SenderType, WireFormat } from "../messages/enums.js";
import { findExtension, readExtension, type Extension } from "../messages/extension.js";
import { externalPubCodec } from "../messages/extensionPayloads.js";
import type { GroupContext } from "../messages/groupContext.js";
import { mlsMessageCodec } from "../messages/mlsMessage.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import { externalInitSecretSend } from "../schedule/keySchedule.js";
import { derivePskSecret } from "../schedule/pskSecret.js";
import { interimTranscriptHash } from "../schedule/transcriptHash.js";
import { PublicRatchetTree } from "../tree/ratchetTree.js";
import { createUpdatePath } from "../tree/treeKem.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { decodeGroupInfo, requireGroupInfoSignature } from "../welcome/groupInfoSignature.js";
import { applyOptionsFor, applyProposals } from "./applyProposals.js";
import { createGroupInfoMessage } from "./commit.js";
import { epochStateAfterCommit, runCommitSchedule } from "./commitSchedule.js";
import type { GroupConfig } from "./groupConfig.js";
import type { GroupState } from "./groupState.js";
import { validateJoinedTree } from "./join.js";
import { defaultCapabilities, type SigningIdentity } from "./keyPackage.js";
import { checkResync, takeBlankLeaf } from "./processCommit.js";
import { validateProposalList, type CommittedProposal } from "./proposals.js";
import { groupPskLookup, resolvePsks } from "./psk.js";

/** Options of {@link Group.joinExternal}. */
export interface ExternalJoinOptions {
  readonly provider: CryptoProvider;
  readonly identity: SigningIdentity;
  /** The ratchet tree when the GroupInfo does not carry it. */
  readonly ratchetTree?: Uint8Array;
  readonly capabilities?: Partial<Capabilities>;
  readonly leafNodeExtensions?: readonly Extension[];
  /** Resync (§12.4.3.2): remove our previous appearance at this leaf in the same commit. */
  readonly removeLeaf?: LeafIndex;
  /** External PSKs to inject (their secrets come from the configuration's externalPsks). */
  readonly psks?: readonly PreSharedKeyId[];
  readonly authenticatedData?: Uint8Array;
}

export interface ExternalJoinResult {
  /** Our state in the epoch the commit starts. */
  readonly state: GroupState;
  /** MLSMessage(PublicMessage) carrying the external commit, for the DS. */
  readonly commit: Uint8Array;
  /** MLSMessage(GroupInfo) of the new epoch. */
  readonly groupInfo: Uint8Array;
}

/** §12.4.3.2: creates an external commit from an MLSMessage(GroupInfo). */
export async function createExternalCommit(groupInfoMessage: Uint8Array, opts: ExternalJoinOptions, config: GroupConfig): Promise<ExternalJoinResult> {
  const m = decode(mlsMessageCodec, groupInfoMessage);
  if (m.wireFormat !== WireFormat.groupInfo) throw new MlsError("INVALID_ARGUMENT", `expected an MLSMessage(GroupInfo), got wire format ${m.wireFormat}`);
  const decoded = decodeGroupInfo(groupInfoMessage.subarray(4));
  const gi = decoded.groupInfo;
  const gc = gi.groupContext;
  const suite = opts.provider.suite(gc.cipherSuite);

  const treeBytes = findExtension(gi.extensions, ExtensionType.ratchetTree)?.extensionData ?? opts.ratchetTree;
  if (treeBytes === undefined) throw new MlsError("WELCOME_MISSING_RATCHET_TREE", "the GroupInfo carries no ratchet tree and none was supplied");
  const tree = PublicRatchetTree.decode(suite, treeBytes);
  const signerKey = tree.hasLeaf(gi.signer) ? tree.leafNode(gi.signer)?.signatureKey : undefined;
  if (signerKey === undefined) throw new MlsError("GROUP_INFO_INVALID_SIGNATURE", `no signature key for GroupInfo signer ${gi.signer}`);
  await requireGroupInfoSignature(suite, signerKey, decoded);
  await validateJoinedTree(tree, gc, config);
  const externalPub = readExtension(gi.extensions, ExtensionType.externalPub, externalPubCodec);
  if (externalPub === undefined) throw new MlsError("EXTERNAL_COMMIT_NO_EXTERNAL_PUB", "the GroupInfo has no external_pub: the group does not accept external commits");

  // §8.3: kem_output for the ExternalInit and the init_secret it stands for.
  const { kemOutput, initSecret } = await externalInitSecretSend(suite, externalPub.externalPub);
  const self = { senderType: SenderType.newMemberCommit } as const;
  const list: CommittedProposal[] = [
    { proposal: { proposalType: ProposalType.externalInit, kemOutput }, sender: self },
    ...(opts.removeLeaf === undefined ? [] : [{ proposal: { proposalType: ProposalType.remove, removed: opts.removeLeaf }, sender: self } as CommittedProposal]),
    ...(opts.psks ?? []).map((psk): CommittedProposal => ({ proposal: { proposalType: ProposalType.psk, psk }, sender: self })),
  ];
  const current = { suite, tree, groupContext: gc };
  validateProposalList({ ...current, committer: { kind: "external" }, ...(config.sameClient ? { sameClient: config.sameClient } : {}) }, list);
  const applied = await applyProposals(applyOptionsFor(current, config), list);
  const pskEntries = resolvePsks(groupPskLookup(config, gc.groupId, []), applied.psks);
  const newTree = applied.tree;
  checkResync(applied.removed, opts.identity.credential, config);
  const leaf = takeBlankLeaf(newTree);

  const provisional: Omit<GroupContext, "treeHash"> = { ...gc, epoch: gc.epoch + 1n, extensions: applied.extensions };
  const { identity } = opts;
  const created = await createUpdatePath({
    tree: newTree,
    leafIndex: leaf,
    groupContext: provisional,
    signaturePrivateKey: identity.signaturePrivateKey,
    leafNode: {
      signatureKey: identity.signaturePublicKey,
      credential: identity.credential,
      capabilities: defaultCapabilities(suite.id, identity.credential.credentialType, [...(opts.leafNodeExtensions ?? []), ...applied.extensions], opts.capabilities),
      extensions: [...(opts.leafNodeExtensions ?? [])],
    },
  });
  try {
    const commit: Commit = { proposals: list.map((c) => ({ type: ProposalOrRefType.proposal, proposal: c.proposal })), path: created.updatePath };
    const signed = await signFramedContent(
      suite,
      identity.signaturePrivateKey,
      WireFormat.publicMessage,
      { groupId: gc.groupId, epoch: gc.epoch, sender: self, authenticatedData: opts.authenticatedData ?? new Uint8Array(0), contentType: ContentType.commit, commit },
      decoded.groupContext,
    );
    const pskSecret = derivePskSecret(suite, pskEntries);
    const out = runCommitSchedule({
      suite,
      interimTranscriptHash: interimTranscriptHash(suite, gc.confirmedTranscriptHash, gi.confirmationTag),
      initSecret,
      provisional: created.groupContext,
      content: signed,
      commitSecret: created.commitSecret,
      pskSecret,
    });
    zeroize(pskSecret);
    // §6.2: a new_member_commit PublicMessage carries no membership tag.
    const message = protectPublicMessage(createFramingContext(suite, decoded.groupContext), withConfirmationTag(signed, out.confirmationTag));
    const state = epochStateAfterCommit(suite, out, { tree: newTree, privateKeys: created.privateKeys, signaturePrivateKey: identity.signaturePrivateKey }, config);
    return { state, commit: message, groupInfo: await createGroupInfoMessage(state) };
  } finally {
    zeroize(initSecret);
    zeroize(created.commitSecret);
    for (const s of created.pathSecrets.values()) zeroize(s);
  }
}
