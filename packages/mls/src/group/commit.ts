/**
 * Creating a Commit (RFC 9420 §12.4.1), its Welcome (§12.4.3.1) and the
 * GroupInfo of the new epoch (§12.4.3). The group's current state does not
 * change: the result is a pending commit holding the next epoch's state,
 * merged once the DS has accepted the commit.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { decodePacked, encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { withConfirmationTag } from "../framing/context.js";
import { protectPrivateMessage } from "../framing/privateMessage.js";
import { protectPublicMessage } from "../framing/publicMessage.js";
import { signFramedContent } from "../framing/contentAuth.js";
import type { Commit } from "../messages/commit.js";
import { ContentType, ExtensionType, ProposalOrRefType, ProposalType, SenderType, WireFormat } from "../messages/enums.js";
import { makeExtension, type Extension } from "../messages/extension.js";
import { externalPubCodec } from "../messages/extensionPayloads.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { GroupInfo } from "../messages/groupInfo.js";
import type { KeyPackage } from "../messages/keyPackage.js";
import type { LeafNode } from "../messages/leafNode.js";
import { mlsMessageCodec } from "../messages/mlsMessage.js";
import type { Proposal, ProposalOrRef } from "../messages/proposal.js";
import { deriveExternalKeyPair, zeroizeEpochSecrets } from "../schedule/keySchedule.js";
import { derivePskSecret, type PskEntry } from "../schedule/pskSecret.js";
import { checkLeafNodeContents } from "../tree/leafNodeValidation.js";
import type { PublicRatchetTree } from "../tree/ratchetTree.js";
import { createUpdatePath, pathSecretForNewMember, type CreatedUpdatePath } from "../tree/treeKem.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { signGroupInfo } from "../welcome/groupInfoSignature.js";
import { createWelcome, welcomeRecipient } from "../welcome/welcome.js";
import { applyOptionsFor, startApplyingProposals, type AddedMember, type ChangedMember, type CommitChanges } from "./applyProposals.js";
import { epochStateAfterCommit, runCommitSchedule, type CommitScheduleOutput } from "./commitSchedule.js";
import { sameSignatureKey, type GroupConfig, type HandshakeWireFormat } from "./groupConfig.js";
import { ownLeaf, privateMessageContext, publicMessageContext, requireCanSend, type GroupState } from "./groupState.js";
import { groupPskLookup, resolvePsks } from "./psk.js";
import { pskIdBytes, senderLeaf, validateProposalList, type CommittedProposal } from "./proposals.js";
import type { LeafNodeChanges } from "./send.js";

/** What Group.createCommit puts in the commit (RFC 9420 §12.4): with none given, an empty commit with a path (a key update). */
export interface CommitOptions {
  /** Proposals to include by value. */
  readonly proposals?: readonly Proposal[];
  /** KeyPackages to add (decoded, or MLSMessage(KeyPackage) bytes as a DS hands them out). */
  readonly add?: readonly (KeyPackage | Uint8Array)[];
  /** Leaves to remove. */
  readonly remove?: readonly LeafIndex[];
  /** Include the valid proposals received in this epoch by reference (§12.4: SHOULD). Default true. */
  readonly includePendingProposals?: boolean;
  /** "always" (default) sends an UpdatePath; "whenRequired" omits it when §12.4 allows. */
  readonly path?: "always" | "whenRequired";
  /** The FramedContent's authenticated_data (RFC 9420 §6): sent in the clear, covered by the signature. */
  readonly authenticatedData?: Uint8Array;
  /** PublicMessage or PrivateMessage for this commit (default: the group config's handshakeWireFormat). */
  readonly wireFormat?: HandshakeWireFormat;
  /** Put the ratchet tree in the GroupInfo (Welcome and DS copy). Default true; otherwise joiners need it out of band. */
  readonly ratchetTreeExtension?: boolean;
  /** Put external_pub in the GroupInfo so others can join by external commit. Default true. */
  readonly externalPub?: boolean;
  /** New contents for our leaf (with a path only). */
  readonly leafNode?: LeafNodeChanges;
}

/** A commit created but not yet applied: send `commit` (with `welcome` and `groupInfo`) to the DS, then merge or clear. */
export interface PendingCommitInfo extends CommitChanges {
  /** MLSMessage carrying the Commit. */
  readonly commit: Uint8Array;
  /** MLSMessage(Welcome) for the added members, when there are any. */
  readonly welcome?: Uint8Array;
  /**
   * MLSMessage(GroupInfo) of the new epoch, for the DS to hand to external joiners.
   * Signed when first asked, unless the Welcome already needed it: a commit
   * without new members needs no GroupInfo (RFC 9420 §12.4.3), and signing one
   * is a signature, an external key pair and the tree's encoding.
   * @throws MlsError `GROUP_INFO_UNAVAILABLE` once the group has moved past the
   * commit's epoch, or the commit was dropped (use `Group.groupInfo()` then).
   */
  groupInfo(): Promise<Uint8Array>;
  /**
   * The new epoch's ratchet tree (ratchet_tree extension encoding), for joiners
   * when it is not in the GroupInfo; then encoded when first read.
   */
  readonly ratchetTree: Uint8Array;
  readonly epoch: bigint;
}

export interface PendingCommitState extends Omit<PendingCommitInfo, "groupInfo"> {
  readonly next: GroupState;
  readonly groupInfo: GroupInfoSlot;
}

/** A pending commit's GroupInfo: how to make it, and once made, the signed GroupInfo and (once asked) its MLSMessage. */
export interface GroupInfoSlot {
  readonly ratchetTree: boolean;
  readonly externalPub: boolean;
  signed?: GroupInfo;
  bytes?: Uint8Array;
}

/** The MLSMessage(GroupInfo) of a slot already signed, encoded once. */
export function groupInfoSlotBytes(slot: GroupInfoSlot): Uint8Array | undefined {
  if (slot.bytes === undefined && slot.signed !== undefined) slot.bytes = encode(mlsMessageCodec, { wireFormat: WireFormat.groupInfo, groupInfo: slot.signed });
  return slot.bytes;
}

/** Decodes KeyPackage bytes: an MLSMessage(KeyPackage) (or the KeyPackage itself already decoded). */
export function toKeyPackage(kp: KeyPackage | Uint8Array): KeyPackage {
  if (!(kp instanceof Uint8Array)) return kp;
  // Every field a view of one private copy: a KeyPackage is a dozen small fields, and its encoding is kept (keyPackageCodec).
  const m = decodePacked(mlsMessageCodec, kp);
  if (m.wireFormat !== WireFormat.keyPackage) throw new MlsError("INVALID_ARGUMENT", `expected an MLSMessage(KeyPackage), got wire format ${m.wireFormat}`);
  return m.keyPackage;
}

/**
 * The pending proposals a commit should include (§12.4 "SHOULD include all
 * valid proposals ... as long as this results in a valid proposal list"),
 * resolving conflicts the way §12.2 recommends: a Remove beats an Update, the
 * most recent Update wins, the first Add for a client wins, by-value
 * proposals beat pending ones, a ReInit only goes alone.
 */
export function selectPendingProposals(state: GroupState, config: GroupConfig, byValue: readonly CommittedProposal[]): CommittedProposal[] {
  const me = ownLeaf(state);
  const same = config.sameClient ?? sameSignatureKey;
  const lookup = groupPskLookup(config, state.groupContext.groupId, state.resumptionPsks);
  const candidates = [...state.proposals.values()].filter((c) => {
    const p = c.proposal;
    if (p.proposalType === ProposalType.update) return senderLeaf(c.sender) !== me;
    if (p.proposalType === ProposalType.remove) return p.removed !== me;
    // Our own SelfRemove waits for another member to commit it (draft-ietf-mls-extensions "SelfRemove").
    if (p.proposalType === ProposalType.selfRemove) return senderLeaf(c.sender) !== me;
    if (p.proposalType === ProposalType.psk) return lookup(p.psk) !== undefined;
    return p.proposalType !== ProposalType.externalInit;
  });

  const removedByValue = new Set<number>();
  const addsByValue: LeafNode[] = [];
  let gceByValue = false;
  const psksSeen: Uint8Array[] = [];
  for (const { proposal: p } of byValue) {
    if (p.proposalType === ProposalType.remove) removedByValue.add(p.removed);
    else if (p.proposalType === ProposalType.add) addsByValue.push(p.keyPackage.leafNode);
    else if (p.proposalType === ProposalType.groupContextExtensions) gceByValue = true;
    else if (p.proposalType === ProposalType.psk) psksSeen.push(pskIdBytes(p.psk));
  }

  // Leaves: a Remove (first one) beats any Update; among Updates the last received wins.
  const removeFor = new Map<number, CommittedProposal>();
  const updateFor = new Map<number, CommittedProposal>();
  let lastGce: CommittedProposal | undefined;
  const chosen = new Set<CommittedProposal>();
  const adds: CommittedProposal[] = [];
  const order: CommittedProposal[] = [];
  for (const c of candidates) {
    const item: CommittedProposal = { proposal: c.proposal, sender: c.sender, ref: c.ref, verified: true };
    order.push(item);
    const p = c.proposal;
    if (p.proposalType === ProposalType.remove) {
      if (!removedByValue.has(p.removed) && !removeFor.has(p.removed)) removeFor.set(p.removed, item);
    } else if (p.proposalType === ProposalType.selfRemove) {
      // draft-ietf-mls-extensions "SelfRemove": a pending Remove for the same leaf is invalid, so the SelfRemove wins.
      const leaf = senderLeaf(c.sender)!;
      if (!removedByValue.has(leaf) && removeFor.get(leaf)?.proposal.proposalType !== ProposalType.selfRemove) removeFor.set(leaf, item);
    } else if (p.proposalType === ProposalType.update) {
      const leaf = senderLeaf(c.sender)!;
      if (!removedByValue.has(leaf)) updateFor.set(leaf, item);
    } else if (p.proposalType === ProposalType.groupContextExtensions) {
      if (!gceByValue) lastGce = item;
    } else if (p.proposalType === ProposalType.add) {
      adds.push(item);
    } else if (p.proposalType === ProposalType.psk) {
      const id = pskIdBytes(p.psk);
      if (!psksSeen.some((s) => bytesEqual(s, id))) {
        psksSeen.push(id);
        chosen.add(item);
      }
    } else if (p.proposalType === ProposalType.reinit) {
      chosen.add(item);
    }
  }
  for (const [leaf, item] of updateFor) if (!removeFor.has(leaf)) chosen.add(item);
  for (const item of removeFor.values()) chosen.add(item);
  if (lastGce !== undefined) chosen.add(lastGce);
  const removed = new Set<number>([...removedByValue, ...removeFor.keys()]);
  // §12.2: an Add for a client already in the group (and not removed here) is dropped.
  const isMember = (leaf: LeafNode): boolean => {
    if (config.sameClient === undefined) {
      const at = state.tree.findLeafBySignatureKey(leaf.signatureKey);
      return at !== undefined && !removed.has(at);
    }
    return state.tree.members().some((m) => !removed.has(m.leafIndex) && same(m.leafNode, leaf));
  };
  const addLeaves = [...addsByValue];
  for (const item of adds) {
    if (item.proposal.proposalType !== ProposalType.add) continue;
    const leaf = item.proposal.keyPackage.leafNode;
    if (addLeaves.some((l) => same(l, leaf))) continue;
    if (isMember(leaf)) continue;
    addLeaves.push(leaf);
    chosen.add(item);
  }
  let list = order.filter((c) => chosen.has(c));
  // §12.2: a ReInit goes alone; other proposals are preferred over it.
  const others = list.filter((c) => c.proposal.proposalType !== ProposalType.reinit);
  if (others.length > 0 || byValue.length > 0) list = others;
  else if (list.length > 1) list = list.slice(0, 1);
  return list;
}

function toProposalOrRef(c: CommittedProposal): ProposalOrRef {
  return c.ref === undefined ? { type: ProposalOrRefType.proposal, proposal: c.proposal } : { type: ProposalOrRefType.reference, reference: c.ref };
}

/**
 * Gives a pending commit its `ratchetTree`: the bytes the GroupInfo already
 * carries, or the new epoch's tree encoded when first read. Only joiners
 * without the tree in the GroupInfo need those bytes, and encoding them is an
 * O(n) copy (2.5 MB at 10,000 members) that a commit otherwise skips. The new
 * epoch's tree is not changed once built (later epochs change clones of it),
 * so a late read still gives this epoch's tree. The property is enumerable:
 * spreading the object copies the bytes.
 */
export function withRatchetTree<T extends object>(o: T, tree: PublicRatchetTree | Uint8Array): T & { readonly ratchetTree: Uint8Array } {
  let bytes = tree instanceof Uint8Array ? tree : undefined;
  return Object.defineProperty(o, "ratchetTree", { enumerable: true, get: () => (bytes ??= (tree as PublicRatchetTree).encode()) }) as T & { readonly ratchetTree: Uint8Array };
}

/** What an epoch's GroupInfo is made of (§12.4.3): its GroupContext and confirmation tag, our leaf, and the secret external_pub comes from. */
interface EpochForGroupInfo {
  readonly groupContext: GroupContext;
  readonly confirmationTag: Uint8Array;
  readonly externalSecret: Uint8Array;
  readonly signer: LeafIndex;
}

/**
 * §12.4.3: the signed GroupInfo of an epoch, with the extensions we publish:
 * the tree (§12.4.3.3) when given, and external_pub (§12.4.3.2) when asked.
 */
async function signEpochGroupInfo(
  suite: CipherSuite,
  signaturePrivateKey: Uint8Array,
  epoch: EpochForGroupInfo,
  treeBytes: Uint8Array | undefined,
  externalPub: boolean,
): Promise<GroupInfo> {
  const extensions: Extension[] = [];
  if (treeBytes !== undefined) extensions.push({ extensionType: ExtensionType.ratchetTree, extensionData: treeBytes });
  if (externalPub) {
    const kp = await deriveExternalKeyPair(suite, epoch.externalSecret);
    zeroize(kp.privateKey);
    extensions.push(makeExtension(ExtensionType.externalPub, externalPubCodec, { externalPub: kp.publicKey }));
  }
  return signGroupInfo(suite, signaturePrivateKey, { groupContext: epoch.groupContext, extensions, confirmationTag: epoch.confirmationTag, signer: epoch.signer });
}

/** The signed GroupInfo of `state`'s epoch as an MLSMessage (§12.4.3). */
export async function createGroupInfoMessage(state: GroupState, options: { ratchetTree?: boolean; externalPub?: boolean } = {}): Promise<Uint8Array> {
  const epoch = { groupContext: state.groupContext, confirmationTag: state.confirmationTag, externalSecret: state.keys.externalSecret, signer: ownLeaf(state) };
  const treeBytes = (options.ratchetTree ?? true) ? state.tree.encode() : undefined;
  const groupInfo = await signEpochGroupInfo(state.suite, state.signaturePrivateKey, epoch, treeBytes, options.externalPub ?? true);
  return encode(mlsMessageCodec, { wireFormat: WireFormat.groupInfo, groupInfo });
}

/**
 * The proposals a commit carries by value, in the order of the options. Built by pushes, not by
 * spreading `(options.x ?? []).map(...)`: those empty literals and their copies gave createCommit
 * arrays of changing maps, and V8 threw its optimized code away four times in 1,500 commits (each
 * time ~250 ms of compiling on the other core, the commits meanwhile unoptimized).
 */
function proposalsByValue(options: CommitOptions, self: CommittedProposal["sender"]): CommittedProposal[] {
  const out: CommittedProposal[] = [];
  for (const proposal of options.proposals ?? NONE) out.push({ proposal, sender: self });
  for (const removed of options.remove ?? NONE) out.push({ proposal: { proposalType: ProposalType.remove, removed }, sender: self });
  for (const kp of options.add ?? NONE) out.push({ proposal: { proposalType: ProposalType.add, keyPackage: toKeyPackage(kp) }, sender: self });
  return out;
}
const NONE: readonly never[] = [];

/**
 * §12.4.1: builds a commit over the selected proposals, its Welcome (with the
 * new epoch's GroupInfo, otherwise signed when first asked for), and the next
 * epoch's state. Only the current epoch's handshake ratchet moves (the commit
 * is encrypted with it).
 */
export async function createCommit(
  state: GroupState,
  config: GroupConfig,
  options: CommitOptions = {},
  /** PSKs injected without a proposal: only the reinit/branch resumption PSK of a new group's first commit (§11.2, §11.3). */
  extraPsks: readonly PskEntry[] = [],
): Promise<PendingCommitState> {
  requireCanSend(state);
  const { suite } = state;
  const me = ownLeaf(state);
  const self = { senderType: SenderType.member, leafIndex: me } as const;
  const byValue = proposalsByValue(options, self);
  const pending = options.includePendingProposals === false ? [] : selectPendingProposals(state, config, byValue);
  const list = pending.length === 0 ? byValue : pending.concat(byValue);

  validateProposalList(
    { suite, tree: state.tree, groupContext: state.groupContext, committer: { kind: "member", leafIndex: me }, ...(config.sameClient ? { sameClient: config.sameClient } : {}) },
    list,
  );
  // The KeyPackage and leaf signature checks run while the path and the Welcome are encrypted; they are
  // awaited before our handshake ratchet moves and before anything is returned.
  const applied = startApplyingProposals(applyOptionsFor(state, config), list);
  const resolved = resolvePsks(groupPskLookup(config, state.groupContext.groupId, state.resumptionPsks), applied.psks);
  const pskEntries = extraPsks.length === 0 ? resolved : resolved.concat(extraPsks);
  const tree = applied.tree;
  const provisional: Omit<GroupContext, "treeHash"> = {
    version: state.groupContext.version,
    cipherSuite: state.groupContext.cipherSuite,
    groupId: state.groupContext.groupId,
    epoch: state.groupContext.epoch + 1n,
    confirmedTranscriptHash: state.groupContext.confirmedTranscriptHash,
    extensions: applied.extensions,
  };

  const withPath = applied.pathRequired || options.path !== "whenRequired";
  let created: CreatedUpdatePath | undefined;
  let provisionalContext: GroupContext;
  let commitSecret: Uint8Array;
  let privateKeys;
  if (withPath) {
    const current = state.tree.requireLeafNode(me);
    created = await createUpdatePath({
      tree,
      leafIndex: me,
      groupContext: provisional,
      signaturePrivateKey: state.signaturePrivateKey,
      leafNode: {
        signatureKey: current.signatureKey,
        credential: current.credential,
        capabilities: options.leafNode?.capabilities ?? current.capabilities,
        extensions: options.leafNode?.extensions ?? current.extensions,
      },
      excludedLeaves: applied.added.map((a) => a.leafIndex),
    });
    provisionalContext = created.groupContext;
    commitSecret = created.commitSecret;
    privateKeys = created.privateKeys;
    // Our new leaf must meet the group's requirements, or every receiver rejects the commit (§7.3).
    if (options.leafNode !== undefined) {
      const { inUse, supportedByAll } = state.tree.credentialTypes();
      checkLeafNodeContents(created.updatePath.leafNode, { groupContextExtensions: applied.extensions, credentialTypesInUse: inUse, credentialTypesSupportedByAll: supportedByAll });
    }
  } else {
    if (options.leafNode !== undefined) throw new MlsError("INVALID_ARGUMENT", "changing our leaf needs a path");
    provisionalContext = { ...provisional, treeHash: tree.treeHash() };
    commitSecret = new Uint8Array(suite.params.nh);
    privateKeys = state.privateKeys.clone();
    privateKeys.prune(tree);
  }

  let out: CommitScheduleOutput | undefined;
  let stateBuilt = false;
  try {
    const commit: Commit = created === undefined ? { proposals: list.map(toProposalOrRef) } : { proposals: list.map(toProposalOrRef), path: created.updatePath };
    const wireFormat = options.wireFormat ?? config.handshakeWireFormat;
    const signed = await signFramedContent(
      suite,
      state.signaturePrivateKey,
      wireFormat === "private" ? WireFormat.privateMessage : WireFormat.publicMessage,
      {
        groupId: state.groupContext.groupId,
        epoch: state.groupContext.epoch,
        sender: self,
        authenticatedData: options.authenticatedData ?? new Uint8Array(0),
        contentType: ContentType.commit,
        commit,
      },
      state.groupContextBytes,
    );
    const pskSecret = derivePskSecret(suite, pskEntries);
    out = runCommitSchedule({
      suite,
      interimTranscriptHash: state.interimTranscriptHash,
      initSecret: state.keys.initSecret,
      provisional: provisionalContext,
      content: signed,
      commitSecret,
      pskSecret,
    });
    const content = withConfirmationTag(signed, out.confirmationTag);
    const groupInfoSlot: GroupInfoSlot = { ratchetTree: options.ratchetTreeExtension ?? config.ratchetTreeExtension ?? true, externalPub: options.externalPub ?? true };
    let treeBytes: Uint8Array | undefined;
    let welcome: Uint8Array | undefined;
    if (applied.added.length > 0) {
      // §12.4.3.1: the Welcome carries the GroupInfo, so it is signed now.
      treeBytes = groupInfoSlot.ratchetTree ? tree.encode() : undefined;
      const epoch = { groupContext: out.groupContext, confirmationTag: out.confirmationTag, externalSecret: out.secrets.externalSecret, signer: me };
      const groupInfo = await signEpochGroupInfo(suite, state.signaturePrivateKey, epoch, treeBytes, groupInfoSlot.externalPub);
      groupInfoSlot.signed = groupInfo;
      const w = await createWelcome(suite, {
        groupInfo,
        joinerSecret: out.secrets.joinerSecret,
        psks: pskEntries.map((e) => e.id),
        pskSecret,
        recipients: applied.added.map((a) => welcomeRecipient(suite, a.keyPackage, created === undefined ? undefined : pathSecretForNewMember(created, me, a.leafIndex))),
      });
      welcome = encode(mlsMessageCodec, { wireFormat: WireFormat.welcome, welcome: w });
    }
    zeroize(pskSecret);
    await applied.checks;
    const message =
      wireFormat === "public" ? protectPublicMessage(publicMessageContext(state), content) : await protectPrivateMessage(privateMessageContext(state), content, { padding: config.padding });
    const next = epochStateAfterCommit(
      suite,
      out,
      { tree, privateKeys, signaturePrivateKey: state.signaturePrivateKey, previous: state, ...(applied.reinit === undefined ? {} : { reinit: applied.reinit }) },
      config,
    );
    stateBuilt = true;
    // welcome listed even when undefined: a conditional spread made V8 define each later field by a runtime call.
    return withRatchetTree(
      {
        commit: message,
        welcome,
        groupInfo: groupInfoSlot,
        epoch: out.groupContext.epoch,
        proposals: list,
        added: applied.added,
        removed: applied.removed,
        updated: applied.updated,
        next,
      },
      treeBytes ?? tree,
    );
  } catch (e) {
    privateKeys.destroy();
    if (out !== undefined && !stateBuilt) zeroizeEpochSecrets(out.secrets);
    throw e;
  } finally {
    zeroize(commitSecret);
    if (created !== undefined) for (const s of created.pathSecrets.values()) zeroize(s);
  }
}
