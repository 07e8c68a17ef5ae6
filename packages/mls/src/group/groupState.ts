/**
 * The state of one member in one epoch (RFC 9420 §8, §9, §12), and the
 * bookkeeping around epoch changes: which secrets are kept, which are retired
 * into the past-epoch window for late application messages, and which are
 * deleted (§9.2).
 *
 * A GroupState is replaced, never edited, when the epoch changes. Within an
 * epoch only the secret tree (ratchets advance) and the proposal cache change.
 */
import { toHex, zeroize } from "../codec/bytes.js";
import type { CipherSuite, KeyPair } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { createFramingContext } from "../framing/context.js";
import type { PrivateMessageContext } from "../framing/privateMessage.js";
import type { PublicMessageContext } from "../framing/publicMessage.js";
import { SenderType } from "../messages/enums.js";
import { readExtension } from "../messages/extension.js";
import { externalSendersCodec } from "../messages/extensionPayloads.js";
import { ExtensionType } from "../messages/enums.js";
import type { Sender } from "../messages/framing.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { Proposal, ReInit } from "../messages/proposal.js";
import type { EpochSecrets } from "../schedule/keySchedule.js";
import { SecretTree } from "../schedule/secretTree.js";
import type { PrivateTreeKeys } from "../tree/privateTreeKeys.js";
import type { PublicRatchetTree } from "../tree/ratchetTree.js";
import type { LeafIndex } from "../tree/treeMath.js";
import type { GroupConfig } from "./groupConfig.js";

/** The epoch secrets a member keeps while the epoch is current (§8). joiner/epoch/encryption secrets are gone by then (welcome_secret is never kept). */
export type EpochKeys = Omit<EpochSecrets, "joinerSecret" | "encryptionSecret">;

/** A proposal received (or sent) in the current epoch, kept until a commit covers it or the epoch ends (§12.1). */
export interface CachedProposal {
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
  /** True for proposals this member sent. */
  readonly own: boolean;
  /** The MLSMessage bytes of an own proposal, to recognise it when the DS echoes it back. */
  readonly message?: Uint8Array;
  /** For an own Update: the key pair of the new leaf, installed if a commit covers the Update. */
  readonly updateKeyPair?: KeyPair;
}

/** What is kept of a past epoch: enough to decrypt and verify late application messages (§14, §9.2). */
export interface PastEpoch {
  readonly epoch: bigint;
  readonly groupContext: Uint8Array;
  readonly senderDataSecret: Uint8Array;
  readonly secretTree: SecretTree;
  /** Signature keys of the epoch's members, by leaf index. */
  readonly signatureKeys: SignatureKeysByLeaf;
}

/** Leaf index -> signature key of a past epoch's members (a PackedSignatureKeys once restored from storage). */
export interface SignatureKeysByLeaf extends Iterable<[number, Uint8Array]> {
  get(leaf: number): Uint8Array | undefined;
}

/** resumption_psk of an epoch of this group (§8.6). */
export interface ResumptionPsk {
  readonly epoch: bigint;
  readonly psk: Uint8Array;
}

export interface GroupState {
  readonly suite: CipherSuite;
  readonly groupContext: GroupContext;
  /** The encoded GroupContext, covered by signatures and the key schedule. */
  readonly groupContextBytes: Uint8Array;
  readonly tree: PublicRatchetTree;
  /** Our private keys; their leafIndex is our leaf. */
  readonly privateKeys: PrivateTreeKeys;
  readonly signaturePrivateKey: Uint8Array;
  readonly keys: EpochKeys;
  readonly secretTree: SecretTree;
  readonly interimTranscriptHash: Uint8Array;
  /** The confirmation tag of the commit that started this epoch (or of group creation). */
  readonly confirmationTag: Uint8Array;
  /** Proposals of this epoch by hex ProposalRef. */
  readonly proposals: Map<string, CachedProposal>;
  /** Newest first. */
  readonly pastEpochs: PastEpoch[];
  /** Newest first, the current epoch's included. */
  readonly resumptionPsks: ResumptionPsk[];
  /** False once a commit removed us. */
  readonly active: boolean;
  /** Set once a commit with a ReInit (§11.2) made this the group's last epoch: nothing more may be sent. */
  readonly reinit?: ReInit;
}

export function ownLeaf(state: GroupState): LeafIndex {
  return state.privateKeys.leafIndex;
}

/** The parts of EpochSecrets a member keeps; the rest is zeroized here (§9.2). */
export function keepEpochKeys(secrets: EpochSecrets): EpochKeys {
  zeroize(secrets.joinerSecret);
  return {
    senderDataSecret: secrets.senderDataSecret,
    exporterSecret: secrets.exporterSecret,
    externalSecret: secrets.externalSecret,
    confirmationKey: secrets.confirmationKey,
    membershipKey: secrets.membershipKey,
    resumptionPsk: secrets.resumptionPsk,
    epochAuthenticator: secrets.epochAuthenticator,
    initSecret: secrets.initSecret,
  };
}

export interface NewEpochInput {
  readonly suite: CipherSuite;
  readonly groupContext: GroupContext;
  readonly groupContextBytes: Uint8Array;
  readonly tree: PublicRatchetTree;
  readonly privateKeys: PrivateTreeKeys;
  readonly signaturePrivateKey: Uint8Array;
  /** The epoch's secrets; encryption_secret goes into the secret tree and is zeroized, the joiner secret is zeroized. */
  readonly secrets: EpochSecrets;
  readonly interimTranscriptHash: Uint8Array;
  readonly confirmationTag: Uint8Array;
  /** The previous state, whose windows (past epochs, resumption PSKs) carry over; absent for a new or joined group. */
  readonly previous?: GroupState;
  /** The ReInit the commit into this epoch covered, if any. */
  readonly reinit?: ReInit;
}

/**
 * Builds the state of a new epoch. The previous epoch is not retired here
 * (see {@link retirePrevious}): the new state may still be dropped (a pending
 * commit cleared, a staged commit never merged).
 */
export function newEpochState(input: NewEpochInput, config: GroupConfig): GroupState {
  const { suite, secrets } = input;
  const secretTree = new SecretTree(suite, secrets.encryptionSecret, input.tree.leafCount, {
    outOfOrderWindow: config.outOfOrderWindow,
    maxForwardDistance: config.maxForwardDistance,
  });
  zeroize(secrets.encryptionSecret);
  const keys = keepEpochKeys(secrets);
  const epoch = input.groupContext.epoch;
  const resumptionPsks = [{ epoch, psk: keys.resumptionPsk }, ...(input.previous?.resumptionPsks ?? []).filter((r) => r.epoch < epoch)].slice(0, config.resumptionPskEpochs);
  return {
    suite,
    groupContext: input.groupContext,
    groupContextBytes: input.groupContextBytes,
    tree: input.tree,
    privateKeys: input.privateKeys,
    signaturePrivateKey: input.signaturePrivateKey,
    keys,
    secretTree,
    interimTranscriptHash: input.interimTranscriptHash,
    confirmationTag: input.confirmationTag,
    proposals: new Map(),
    pastEpochs: input.previous?.pastEpochs ?? [],
    resumptionPsks,
    active: true,
    ...(input.reinit === undefined ? {} : { reinit: input.reinit }),
  };
}

/**
 * A retired epoch's tree is never changed again (commits work on clones), so
 * its signature keys are read from it rather than copied out: retiring an
 * epoch stays O(1) in the group size.
 */
function signatureKeysOf(tree: PublicRatchetTree): SignatureKeysByLeaf {
  return {
    get: (leaf) => (tree.hasLeaf(leaf) ? tree.leafNode(leaf as LeafIndex)?.signatureKey : undefined),
    *[Symbol.iterator]() {
      for (const m of tree.members()) yield [m.leafIndex, m.leafNode.signatureKey];
    },
  };
}

/** Deletes everything a past epoch still holds. */
export function destroyPastEpoch(p: PastEpoch): void {
  p.secretTree.destroy();
  zeroize(p.senderDataSecret);
}

/**
 * Once `next` has replaced `previous`: the previous epoch's secret tree and
 * sender data secret join the past-epoch window (trimmed to maxPastEpochs),
 * and every other secret of it is deleted (§9.2), init_secret included since
 * the new epoch consumed it. Returns the past-epoch list for `next`.
 */
export function retirePrevious(previous: GroupState, nextPast: PastEpoch[], config: GroupConfig): PastEpoch[] {
  const k = previous.keys;
  for (const s of [k.exporterSecret, k.externalSecret, k.confirmationKey, k.membershipKey, k.epochAuthenticator, k.initSecret]) zeroize(s);
  // resumption_psk lives on in the resumption window (see newEpochState); the merge deletes what falls out of it.
  for (const cached of previous.proposals.values()) zeroize(cached.updateKeyPair?.privateKey);
  previous.proposals.clear();
  let past: PastEpoch[];
  if (config.maxPastEpochs > 0) {
    past = [
      {
        epoch: previous.groupContext.epoch,
        groupContext: previous.groupContextBytes,
        senderDataSecret: k.senderDataSecret,
        secretTree: previous.secretTree,
        signatureKeys: signatureKeysOf(previous.tree),
      },
      ...nextPast,
    ];
  } else {
    previous.secretTree.destroy();
    zeroize(k.senderDataSecret);
    past = [...nextPast];
  }
  while (past.length > config.maxPastEpochs) destroyPastEpoch(past.pop()!);
  return past;
}

/** Deletes the secrets of a state that will never be used (a cleared pending commit, a dropped staged commit). */
export function destroyUnusedState(state: GroupState, keepPrivateKeysOf?: GroupState): void {
  const k = state.keys;
  for (const s of [k.senderDataSecret, k.exporterSecret, k.externalSecret, k.confirmationKey, k.membershipKey, k.epochAuthenticator, k.initSecret, k.resumptionPsk]) {
    zeroize(s);
  }
  state.secretTree.destroy();
  if (keepPrivateKeysOf === undefined || keepPrivateKeysOf.privateKeys !== state.privateKeys) state.privateKeys.destroy();
}

/** The contexts depend only on the epoch's (immutable) state: built once per state, not per message. */
const contexts = new WeakMap<GroupState, { pub?: PublicMessageContext; priv?: PrivateMessageContext }>();

function contextsOf(state: GroupState): { pub?: PublicMessageContext; priv?: PrivateMessageContext } {
  let c = contexts.get(state);
  if (c === undefined) {
    c = {};
    contexts.set(state, c);
  }
  return c;
}

export function publicMessageContext(state: GroupState): PublicMessageContext {
  const c = contextsOf(state);
  const gc = state.groupContext;
  return (c.pub ??= { suite: state.suite, groupContext: state.groupContextBytes, groupId: gc.groupId, epoch: gc.epoch, membershipKey: state.keys.membershipKey });
}

export function privateMessageContext(state: GroupState): PrivateMessageContext {
  const c = contextsOf(state);
  const gc = state.groupContext;
  // The message-protection context of the epoch (§6), fields spelled out: no spread, a stable shape.
  return (c.priv ??= {
    suite: state.suite,
    groupContext: state.groupContextBytes,
    groupId: gc.groupId,
    epoch: gc.epoch,
    senderDataSecret: state.keys.senderDataSecret,
    secretTree: state.secretTree,
  });
}

export function pastPrivateMessageContext(suite: CipherSuite, past: PastEpoch): PrivateMessageContext {
  return { ...createFramingContext(suite, past.groupContext), senderDataSecret: past.senderDataSecret, secretTree: past.secretTree };
}

/** The signature key of a sender in the current epoch (§6.1): a member's leaf, or an entry of external_senders. */
export function senderSignatureKey(state: Pick<GroupState, "tree" | "groupContext">, sender: Sender): Uint8Array | undefined {
  if (sender.senderType === SenderType.member) return state.tree.hasLeaf(sender.leafIndex) ? state.tree.leafNode(sender.leafIndex)?.signatureKey : undefined;
  if (sender.senderType === SenderType.external) {
    const senders = readExtension(state.groupContext.extensions, ExtensionType.externalSenders, externalSendersCodec);
    return senders?.[sender.senderIndex]?.signatureKey;
  }
  return undefined;
}

/** Key for the proposal cache. */
export function refKey(ref: Uint8Array): string {
  return toHex(ref);
}

/** Throws GROUP_INACTIVE once we have been removed. */
export function requireActive(state: GroupState): void {
  if (!state.active) throw new MlsError("GROUP_INACTIVE", "we are no longer a member of this group");
}

/** For sending: GROUP_INACTIVE once removed, GROUP_REINITIALIZED once a ReInit was committed (§12.4.2: the group "MUST NOT" be used to send). */
export function requireCanSend(state: GroupState): void {
  requireActive(state);
  if (state.reinit !== undefined) throw new MlsError("GROUP_REINITIALIZED", "a ReInit was committed: continue in the new group");
}
