/**
 * PublicGroup: a group as a non-member holds and checks it (RFC 9750 §6,
 * RFC 9420 as far as no secret is needed), the state a Delivery Service
 * keeps per group so that no member can lie to it about the tree, the epoch
 * or the roster. Immutable: processing a message returns the next PublicGroup
 * and leaves this one as it was, so a DS stores the new state only once the
 * message is accepted.
 */
import { toHex } from "../../codec/bytes.js";
import type { CipherSuite, CryptoProvider } from "../../crypto/cipherSuite.js";
import { MlsError } from "../../errors.js";
import { authenticatedContentBytes } from "../../framing/context.js";
import { ContentType, ExtensionType } from "../../messages/enums.js";
import { findExtension } from "../../messages/extension.js";
import type { Sender, PublicMessage } from "../../messages/framing.js";
import type { GroupContext } from "../../messages/groupContext.js";
import type { Proposal, ReInit } from "../../messages/proposal.js";
import { makeProposalRef } from "../../messages/refs.js";
import { interimTranscriptHash } from "../../schedule/transcriptHash.js";
import { PublicRatchetTree, type Member } from "../../tree/ratchetTree.js";
import type { LeafIndex } from "../../tree/treeMath.js";
import { requireGroupInfoSignature } from "../../welcome/groupInfoSignature.js";
import { resolveConfig, type GroupConfig } from "../groupConfig.js";
import { refKey } from "../groupState.js";
import { validateJoinedTree } from "../join.js";
import { checkProposalOnReceipt } from "../receive.js";
import { applyPublicCommit, type PublicCommitInfo } from "./publicCommit.js";
import { checkGroupInfoForEpoch, decodeGroupInfoMessage } from "./publicGroupInfo.js";
import type { PublicGroupState } from "./publicGroupState.js";
import { verifyPublicMessage } from "./publicMessage.js";
import { deserializePublicGroupState, serializePublicGroupState } from "./publicSerialize.js";
import { membershipProof, partialTreeView, type MembershipProof, type PartialTreeView } from "./treeView.js";

/** The policy a non-member applies: the AS check of every credential (§5.3.1), lifetimes, "same client" (§12.2). */
export type PublicGroupConfig = Partial<Pick<GroupConfig, "validateCredential" | "clock" | "maxLifetime" | "sameClient" | "sameIdentity">>;

/** What {@link PublicGroup.processMessage} returns for a proposal. */
export interface PublicProposalResult {
  readonly kind: "proposal";
  /** ProposalRef (§5.2): how a commit will name it. */
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
  /** This group with the proposal cached (the same state when it was already cached). */
  readonly state: PublicGroup;
}

/** A proposal cached in the current epoch ({@link PublicGroup.pendingProposals}). */
export interface PendingProposal {
  /** ProposalRef (§5.2). */
  readonly ref: Uint8Array;
  readonly proposal: Proposal;
  readonly sender: Sender;
}

/** What {@link PublicGroup.processMessage} returns for a commit: the next state and what changed. */
export interface PublicCommitResult extends PublicCommitInfo {
  readonly kind: "commit";
  /** The group in the epoch the commit starts. */
  readonly state: PublicGroup;
  /** Whether a GroupInfo of the new epoch was given and accepted (the state then carries it). */
  readonly groupInfoAccepted: boolean;
}

/** What {@link PublicGroup.processMessage} returns. */
export type PublicProcessed = PublicProposalResult | PublicCommitResult;

/**
 * A group as a non-member (a Delivery Service) holds and checks it: the tree,
 * the epoch and the roster, no secrets. Immutable: {@link PublicGroup.processMessage}
 * returns the next state. Failures are {@link MlsError}s with a stable `code`.
 */
export class PublicGroup {
  readonly #state: PublicGroupState;
  readonly #config: GroupConfig;

  private constructor(state: PublicGroupState, config: GroupConfig) {
    this.#state = state;
    this.#config = config;
  }

  /**
   * The public state from an MLSMessage(GroupInfo) and the tree (its
   * ratchet_tree extension or `ratchetTree`), checked as a joiner would
   * (§12.4.3.1): GroupInfo signature under the signer's leaf, tree hash
   * against the GroupContext, every leaf (§7.3, credentials through
   * `config.validateCredential`), parent hashes (§7.9.2), unmerged leaves.
   * A creator's first state is its epoch-0 GroupInfo.
   * @throws MlsError `GROUP_INFO_MISMATCH` (the signer is not a member), `GROUP_INFO_INVALID_SIGNATURE`,
   * `WELCOME_MISSING_RATCHET_TREE`, a `TREE_*` or `LEAF_NODE_*` code for a tree that fails validation, `DECODE_*`.
   */
  static async fromGroupInfo(provider: CryptoProvider, groupInfoMessage: Uint8Array, options: { ratchetTree?: Uint8Array; config?: PublicGroupConfig } = {}): Promise<PublicGroup> {
    const config = resolveConfig(options.config);
    const decoded = decodeGroupInfoMessage(groupInfoMessage);
    const gi = decoded.groupInfo;
    const gc = gi.groupContext;
    const suite = provider.suite(gc.cipherSuite);
    const treeBytes = findExtension(gi.extensions, ExtensionType.ratchetTree)?.extensionData ?? options.ratchetTree;
    if (treeBytes === undefined) throw new MlsError("WELCOME_MISSING_RATCHET_TREE", "the GroupInfo carries no ratchet tree and none was supplied");
    const tree = PublicRatchetTree.decode(suite, treeBytes);
    const signerKey = tree.hasLeaf(gi.signer) ? tree.leafNode(gi.signer)?.signatureKey : undefined;
    if (signerKey === undefined) throw new MlsError("GROUP_INFO_MISMATCH", `GroupInfo signer ${gi.signer} is not a member`);
    await requireGroupInfoSignature(suite, signerKey, decoded);
    await validateJoinedTree(tree, gc, config);
    const state: PublicGroupState = {
      suite,
      groupContext: gc,
      groupContextBytes: decoded.groupContext,
      tree,
      interimTranscriptHash: interimTranscriptHash(suite, gc.confirmedTranscriptHash, gi.confirmationTag),
      confirmationTag: gi.confirmationTag,
      groupInfo: groupInfoMessage.slice(),
      proposals: new Map(),
    };
    return new PublicGroup(state, config);
  }

  /** Restores a serialized state; the policy is given again, it is not state. @throws MlsError `GROUP_STATE_INVALID` (malformed bytes). */
  static deserialize(bytes: Uint8Array, provider: CryptoProvider, config?: PublicGroupConfig): PublicGroup {
    return new PublicGroup(deserializePublicGroupState(bytes, provider), resolveConfig(config));
  }

  /** Versioned bytes of the whole public state (see publicSerialize.ts). */
  serialize(): Uint8Array {
    return serializePublicGroupState(this.#state);
  }

  /** The group's cipher suite. */
  get suite(): CipherSuite {
    return this.#state.suite;
  }
  /** The group_id. */
  get groupId(): Uint8Array {
    return this.#state.groupContext.groupId;
  }
  /** The current epoch. */
  get epoch(): bigint {
    return this.#state.groupContext.epoch;
  }
  /** The current GroupContext (RFC 9420 §8.1). */
  get groupContext(): GroupContext {
    return this.#state.groupContext;
  }
  /** The encoded GroupContext. */
  get groupContextBytes(): Uint8Array {
    return this.#state.groupContextBytes;
  }
  /** The ratchet tree's root hash (RFC 9420 §7.8). */
  get treeHash(): Uint8Array {
    return this.#state.groupContext.treeHash;
  }
  /** RFC 9420 §8.2: the confirmed transcript hash of this epoch. */
  get confirmedTranscriptHash(): Uint8Array {
    return this.#state.groupContext.confirmedTranscriptHash;
  }
  /** RFC 9420 §8.2: the interim transcript hash the next commit builds on. */
  get interimTranscriptHash(): Uint8Array {
    return this.#state.interimTranscriptHash;
  }
  /** MLSMessage(GroupInfo) of this epoch, when one was accepted for it. */
  get groupInfo(): Uint8Array | undefined {
    return this.#state.groupInfo;
  }
  /** The roster: the non-blank leaves of the tree, the only source of membership. */
  members(): Member[] {
    return this.#state.tree.members();
  }
  /** The member at `leaf`, if the leaf is non-blank. */
  member(leaf: LeafIndex): Member | undefined {
    const leafNode = this.#state.tree.hasLeaf(leaf) ? this.#state.tree.leafNode(leaf) : undefined;
    return leafNode === undefined ? undefined : { leafIndex: leaf, leafNode };
  }
  /** The leaf holding `signatureKey`, if any. */
  findLeafBySignatureKey(signatureKey: Uint8Array): LeafIndex | undefined {
    return this.#state.tree.findLeafBySignatureKey(signatureKey);
  }
  /** The number of proposals cached in this epoch. */
  get proposalCount(): number {
    return this.#state.proposals.size;
  }
  /** The encoded ratchet tree (the ratchet_tree extension value, §12.4.3.3). */
  ratchetTree(): Uint8Array {
    return this.#state.tree.encode();
  }
  /** The path from `leaf` to the root with the hashes that prove it is in the tree (see verifyMembershipProof). */
  membershipProof(leaf: LeafIndex): MembershipProof {
    return membershipProof(this.#state.tree, leaf);
  }
  /** The part of the tree a member at `leaf` needs: its direct path and copath nodes. */
  partialTreeView(leaf: LeafIndex): PartialTreeView {
    return partialTreeView(this.#state.tree, leaf);
  }

  /**
   * Validates a handshake PublicMessage (MLSMessage bytes, or decoded) of the
   * current epoch and returns what it does with the next state; this state is
   * untouched. A commit's `groupInfo` (MLSMessage(GroupInfo) of the new
   * epoch), when given, must match the epoch computed (checkGroupInfoForEpoch)
   * or the whole commit is refused.
   * @throws MlsError `GROUP_REINITIALIZED`, `MESSAGE_WRONG_GROUP`, `MESSAGE_WRONG_EPOCH`, `MESSAGE_INVALID_CONTENT`
   * (not a handshake), `MESSAGE_INVALID_SIGNATURE`, `MESSAGE_INVALID_MEMBERSHIP_TAG`, `MESSAGE_INVALID_SENDER`,
   * a `PROPOSAL_*` code (§12.1, §12.2), `EXTERNAL_COMMIT_*`, `COMMIT_MISSING_PATH`, a `TREE_*`, `LEAF_NODE_*` or
   * `UPDATE_PATH_INVALID` code for an invalid commit (§12.4.2), `GROUP_INFO_MISMATCH` (a GroupInfo of another epoch),
   * `INVALID_ARGUMENT` (a GroupInfo given with a proposal), `DECODE_*` for malformed bytes.
   */
  async processMessage(message: Uint8Array | PublicMessage, options: { groupInfo?: Uint8Array } = {}): Promise<PublicProcessed> {
    const s = this.#state;
    if (s.reinit !== undefined) throw new MlsError("GROUP_REINITIALIZED", "a ReInit was committed: the group takes no more handshakes (RFC 9420 §11.2)");
    const ac = await verifyPublicMessage(s, message);
    const content = ac.content;
    if (content.contentType === ContentType.proposal) {
      if (options.groupInfo !== undefined) throw new MlsError("INVALID_ARGUMENT", "a GroupInfo goes with a commit, not a proposal");
      const ref = makeProposalRef(s.suite, authenticatedContentBytes(ac));
      const key = refKey(ref);
      const base = { kind: "proposal" as const, ref, proposal: content.proposal, sender: content.sender };
      if (s.proposals.has(key)) return { ...base, state: this };
      await checkProposalOnReceipt(s, this.#config, content.proposal, content.sender);
      const proposals = new Map(s.proposals);
      proposals.set(key, { ref, proposal: content.proposal, sender: content.sender });
      return { ...base, state: new PublicGroup({ ...s, proposals }, this.#config) };
    }
    if (content.contentType !== ContentType.commit) throw new MlsError("MESSAGE_INVALID_CONTENT", "not a handshake message");
    const { next, info } = await applyPublicCommit(s, this.#config, ac);
    let accepted = next;
    if (options.groupInfo !== undefined) {
      await checkGroupInfoForEpoch(next, info.committer, options.groupInfo);
      accepted = { ...next, groupInfo: options.groupInfo.slice() };
    }
    return { kind: "commit", ...info, state: new PublicGroup(accepted, this.#config), groupInfoAccepted: options.groupInfo !== undefined };
  }

  /**
   * A newer GroupInfo for the current epoch (a member re-publishing, e.g. with
   * a fresh external_pub): accepted when it matches this epoch exactly and is
   * signed by a member. Returns the group carrying it.
   * @throws MlsError `GROUP_INFO_MISMATCH`, `GROUP_INFO_INVALID_SIGNATURE`, `DECODE_*`.
   */
  async withGroupInfo(groupInfoMessage: Uint8Array): Promise<PublicGroup> {
    const signer = decodeGroupInfoMessage(groupInfoMessage).groupInfo.signer;
    await checkGroupInfoForEpoch(this.#state, signer, groupInfoMessage);
    return new PublicGroup({ ...this.#state, groupInfo: groupInfoMessage.slice() }, this.#config);
  }

  /** The ReInit committed into this epoch, if any: the group continues as a new one (§11.2). */
  get reinit(): ReInit | undefined {
    return this.#state.reinit;
  }

  /**
   * The proposals cached in this epoch, in arrival order, with their refs and
   * senders: what the next commit may reference (§12.4). A DS reads them to
   * avoid proposing what is already pending.
   */
  pendingProposals(): PendingProposal[] {
    return [...this.#state.proposals.values()].map((p) => ({ ref: p.ref.slice(), proposal: p.proposal, sender: p.sender }));
  }

  /** Hex ProposalRefs cached in this epoch (for logs and tests). */
  proposalRefs(): string[] {
    return [...this.#state.proposals.values()].map((p) => toHex(p.ref));
  }
}
