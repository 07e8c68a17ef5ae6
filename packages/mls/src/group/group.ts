/**
 * The Group: one member's view of an MLS group (RFC 9420 §8-§12) as an
 * object with explicit transitions.
 *
 * - `createCommit()` returns a pending commit and leaves the epoch alone;
 *   `mergePendingCommit()` enters the new epoch once the DS accepted the
 *   commit, `clearPendingCommit()` drops it when the DS refused it.
 * - `processMessage()` returns what arrived: an application message, a
 *   proposal (cached for a later commit), or a staged commit to inspect and
 *   then `mergeStagedCommit()`. Our own pending commit echoed back by the DS
 *   is recognised and merged.
 * - `serialize()` / `Group.deserialize()` persist the state (secrets
 *   included: store the bytes encrypted).
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import type { CipherSuiteId, CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import type { Credential } from "../messages/credential.js";
import { ProposalType, ProtocolVersion, PskType, ResumptionPskUsage } from "../messages/enums.js";
import type { Extension } from "../messages/extension.js";
import type { Sender } from "../messages/framing.js";
import type { GroupContext } from "../messages/groupContext.js";
import type { KeyPackage } from "../messages/keyPackage.js";
import type { LeafNode } from "../messages/leafNode.js";
import type { Proposal, ReInit } from "../messages/proposal.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import { mlsExporter } from "../schedule/keySchedule.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { disclosePrivateMessage } from "../framing/disclosure.js";
import { createCommit, createGroupInfoMessage, groupInfoSlotBytes, toKeyPackage, type CommitOptions, type PendingCommitInfo, type PendingCommitState } from "./commit.js";
import { createGroupState, type CreateGroupOptions } from "./create.js";
import { createExternalCommit, type ExternalJoinOptions } from "./externalCommit.js";
import { resolveConfig, type GroupConfig } from "./groupConfig.js";
import { destroyPastEpoch, destroyUnusedState, ownLeaf, privateMessageContext, requireActive, retirePrevious, type GroupState } from "./groupState.js";
import { joinFromWelcome, type JoinKeyPackage } from "./join.js";
import { forgetStagedCommit, stagedCommitState, type StagedCommit } from "./processCommit.js";
import { branchGroup, reinitGroup, type BranchOptions, type ResumeOptions } from "./resumption.js";
import { readEnvelope, receiveMessage, type ReceivedApplicationMessage, type ReceivedCommit, type ReceivedProposal } from "./receive.js";
import { encryptApplication, sendProposal, sendUpdate, type LeafNodeChanges, type ProposalOptions, type SentProposal } from "./send.js";
import { deserializeGroupState, serializeGroupState } from "./serialize.js";

/** A member as the application sees it. */
export interface GroupMember {
  readonly leafIndex: LeafIndex;
  readonly credential: Credential;
  readonly signatureKey: Uint8Array;
  readonly leafNode: LeafNode;
}

/** Our own commit came back from the DS: merged now, or already merged by mergePendingCommit. */
export interface OwnCommitMerged {
  readonly kind: "ownCommit";
  /** The epoch the commit started. */
  readonly epoch: bigint;
  /** True when mergePendingCommit had already entered that epoch (the echo changed nothing). */
  readonly alreadyMerged: boolean;
  readonly commit: PendingCommitInfo;
}

export type { CreateGroupOptions };

/** What `processMessage` returns. */
export type ProcessedMessage = ReceivedApplicationMessage | ReceivedProposal | ReceivedCommit | OwnCommitMerged;

/** Options of {@link Group.join}. */
export interface JoinGroupOptions {
  readonly provider: CryptoProvider;
  /** Our KeyPackages (with private keys) the Welcome may answer. */
  readonly keyPackages: readonly JoinKeyPackage[];
  /** The ratchet tree when the Welcome's GroupInfo does not carry it. */
  readonly ratchetTree?: Uint8Array;
  /** Our groups whose resumption PSK the Welcome may use (joining a reinitialized or branched group, §11.2, §11.3). */
  readonly resumptionGroups?: readonly Group[];
  readonly config?: Partial<GroupConfig>;
}

/**
 * One member's view of an MLS group (RFC 9420): its epoch state and secrets,
 * the proposals and commit pending in the epoch, and the messages it sends and
 * receives. Every method that fails throws {@link MlsError} with a stable
 * `code` and leaves the group as it was.
 */
export class Group {
  #state: GroupState;
  readonly #config: GroupConfig;
  #pending: PendingCommitState | undefined;
  /** The last of our commits merged, so its echo from the DS is recognised (not kept across serialisation). */
  #lastMerged: PendingCommitInfo | undefined;
  /** The newest pending commit's public view (see #publicPending). */
  #pendingView: { readonly of: PendingCommitState; readonly view: PendingCommitInfo } | undefined;
  #destroyed = false;

  private constructor(state: GroupState, config: GroupConfig, pending?: PendingCommitState) {
    this.#state = state;
    this.#config = config;
    this.#pending = pending;
  }

  // ---------------------------------------------------------------------------
  // Creating, joining, restoring

  /**
   * §11: a one-member group at epoch 0.
   * @throws MlsError `INVALID_ARGUMENT` (no leaf lifetime and no clock configured, or a bad config value),
   * `UNSUPPORTED_CIPHER_SUITE`.
   */
  static async create(opts: CreateGroupOptions): Promise<Group> {
    const config = resolveConfig(opts.config);
    return new Group(await createGroupState(opts, config), config);
  }

  /**
   * §12.4.3.1: joins from an MLSMessage(Welcome).
   * @throws MlsError `WELCOME_NO_MATCHING_KEY_PACKAGE` (the Welcome is for none of `keyPackages`),
   * `WELCOME_MISSING_RATCHET_TREE`, `WELCOME_NOT_IN_TREE`, `WELCOME_INVALID`, `GROUP_INFO_INVALID_SIGNATURE`,
   * `MESSAGE_INVALID_CONFIRMATION_TAG`, `PSK_INVALID`, `WELCOME_REINIT_MISMATCH`, `WELCOME_BRANCH_MISMATCH`,
   * a `TREE_*` or `LEAF_NODE_*` code for a ratchet tree that fails validation (§12.4.3.1), `DECODE_*` for malformed bytes.
   */
  static async join(welcome: Uint8Array, opts: JoinGroupOptions): Promise<Group> {
    const config = resolveConfig(opts.config);
    const state = await joinFromWelcome(
      welcome,
      {
        provider: opts.provider,
        keyPackages: opts.keyPackages,
        ...(opts.ratchetTree === undefined ? {} : { ratchetTree: opts.ratchetTree }),
        resumptionGroups: (opts.resumptionGroups ?? []).map((g) => g.#state),
      },
      config,
    );
    return new Group(state, config);
  }

  /**
   * §12.4.3.2: joins by external commit from an MLSMessage(GroupInfo) with
   * external_pub. Send `commit` to the DS; if it is refused, drop the group
   * and try again with a fresh GroupInfo.
   * @throws MlsError `EXTERNAL_COMMIT_NO_EXTERNAL_PUB` (the group takes no external joins),
   * `WELCOME_MISSING_RATCHET_TREE`, `GROUP_INFO_INVALID_SIGNATURE`, `INVALID_ARGUMENT` (not an MLSMessage(GroupInfo)),
   * a `TREE_*` or `LEAF_NODE_*` code for an invalid tree, `DECODE_*` for malformed bytes.
   */
  static async joinExternal(
    groupInfo: Uint8Array,
    opts: ExternalJoinOptions & { readonly config?: Partial<GroupConfig> },
  ): Promise<{ group: Group; commit: Uint8Array; groupInfo: Uint8Array }> {
    const config = resolveConfig(opts.config);
    const out = await createExternalCommit(groupInfo, opts, config);
    return { group: new Group(out.state, config), commit: out.commit, groupInfo: out.groupInfo };
  }

  /**
   * Restores a group from {@link serialize}. The configuration is not stored: pass it again.
   * @throws MlsError `GROUP_STATE_INVALID` (not a serialized group, an unknown version, or corrupt bytes),
   * `INVALID_ARGUMENT` (a bad config value).
   */
  static deserialize(bytes: Uint8Array, provider: CryptoProvider, config?: Partial<GroupConfig>): Group {
    const c = resolveConfig(config);
    const { state, pending } = deserializeGroupState(bytes, provider, c);
    return new Group(state, c, pending);
  }

  /** The group's state as versioned bytes. They hold every secret of the group: store them encrypted. */
  serialize(): Uint8Array {
    return serializeGroupState(this.#state, this.#pending);
  }

  // ---------------------------------------------------------------------------
  // Reading

  /** The group_id (a copy). */
  get groupId(): Uint8Array {
    return this.#state.groupContext.groupId.slice();
  }

  /** The current epoch. */
  get epoch(): bigint {
    return this.#state.groupContext.epoch;
  }

  /** The group's cipher suite. */
  get cipherSuite(): CipherSuiteId {
    return this.#state.suite.id;
  }

  /** Our leaf in the ratchet tree. */
  get ownLeafIndex(): LeafIndex {
    return ownLeaf(this.#state);
  }

  /** False once a merged commit removed us. */
  get isActive(): boolean {
    return this.#state.active;
  }

  /** The current GroupContext (RFC 9420 §8.1). */
  get groupContext(): GroupContext {
    return this.#state.groupContext;
  }

  /** The GroupContext extensions. */
  get extensions(): readonly Extension[] {
    return this.#state.groupContext.extensions;
  }

  /** Every member, in leaf order. */
  get members(): GroupMember[] {
    return this.#state.tree.members().map((m) => ({ leafIndex: m.leafIndex, credential: m.leafNode.credential, signatureKey: m.leafNode.signatureKey, leafNode: m.leafNode }));
  }

  /** The member at `leaf`; undefined for a blank or missing leaf. */
  member(leaf: LeafIndex): GroupMember | undefined {
    const n = this.#state.tree.hasLeaf(leaf) ? this.#state.tree.leafNode(leaf) : undefined;
    return n === undefined ? undefined : { leafIndex: leaf, credential: n.credential, signatureKey: n.signatureKey, leafNode: n };
  }

  /** §8.7: epoch_authenticator, for out-of-band confirmation that members agree on the epoch. */
  get epochAuthenticator(): Uint8Array {
    requireActive(this.#state);
    return this.#state.keys.epochAuthenticator.slice();
  }

  /** The same secret under the name RFC 9750 and earlier drafts use (authentication_secret), for safety numbers. */
  get authenticationSecret(): Uint8Array {
    return this.epochAuthenticator;
  }

  /** §8.5: MLS-Exporter(label, context, length). @throws MlsError `CRYPTO_INVALID_LENGTH` (a length the KDF cannot produce). */
  exportSecret(label: string, context: Uint8Array, length: number): Uint8Array {
    requireActive(this.#state);
    return mlsExporter(this.#state.suite, this.#state.keys.exporterSecret, label, context, length);
  }

  /** The encoded ratchet tree (ratchet_tree extension value), for joiners who get it out of band. */
  ratchetTree(): Uint8Array {
    return this.#state.tree.encode();
  }

  /** A signed MLSMessage(GroupInfo) of the current epoch (§12.4.3). @throws MlsError `GROUP_INACTIVE` (we were removed). */
  groupInfo(options?: { ratchetTree?: boolean; externalPub?: boolean }): Promise<Uint8Array> {
    requireActive(this.#state);
    return createGroupInfoMessage(this.#state, options);
  }

  /**
   * The keys of one PrivateMessage of this epoch, for a non-member to open it
   * (RFC 9750 §5.3: reporting a commit of an opaque group that cannot be
   * applied): its SenderData key and nonce, its ratchet generation's key and
   * nonce and the epoch's GroupContext, nothing that opens any other message
   * (framing/disclosure.ts; the DS opens it with {@link openDisclosedMessage}).
   * The message can still be processed afterwards.
   * @throws MlsError `GROUP_INACTIVE`, `MESSAGE_WRONG_GROUP`, `MESSAGE_WRONG_EPOCH` (only the current epoch's messages),
   * `INVALID_ARGUMENT` (not a PrivateMessage), `CRYPTO_DECRYPT_FAILED` (it does not open with this epoch's keys),
   * `MESSAGE_INVALID_SENDER`, `SECRET_TREE_GENERATION_CONSUMED` (its key is already spent), `SECRET_TREE_TOO_FAR_AHEAD`, `DECODE_*`.
   */
  disclosePrivateMessage(message: Uint8Array): Promise<Uint8Array> {
    requireActive(this.#state);
    return disclosePrivateMessage(privateMessageContext(this.#state), message);
  }

  /** Proposals received or sent in this epoch, not yet committed. */
  get pendingProposals(): { ref: Uint8Array; proposal: Proposal; sender: Sender; own: boolean }[] {
    return [...this.#state.proposals.values()].map((c) => ({ ref: c.ref, proposal: c.proposal, sender: c.sender, own: c.own }));
  }

  /** Our own commit sent and not yet merged or cleared, if any. */
  get pendingCommit(): PendingCommitInfo | undefined {
    return this.#pending === undefined ? undefined : this.#publicPending(this.#pending);
  }

  // ---------------------------------------------------------------------------
  // Proposals (§12.1)

  /**
   * An Add proposal (§12.1.1) for another client's KeyPackage, as a standalone message.
   * @throws MlsError a `KEY_PACKAGE_*` code (signature, version, suite or extensions invalid, §10.1),
   * `PROPOSAL_UNSUPPORTED_CAPABILITIES`, `GROUP_INACTIVE`, `GROUP_REINITIALIZED`, `DECODE_*` for malformed bytes.
   */
  proposeAdd(keyPackage: KeyPackage | Uint8Array, options?: ProposalOptions): Promise<SentProposal> {
    return sendProposal(this.#state, this.#config, { proposalType: ProposalType.add, keyPackage: toKeyPackage(keyPackage) }, options);
  }

  /**
   * An Update proposal (§12.1.2): a fresh leaf (new encryption key, optionally other changes).
   * @throws MlsError `GROUP_INACTIVE`, `GROUP_REINITIALIZED`, a `LEAF_NODE_*` code for an invalid new leaf.
   */
  proposeUpdate(changes?: LeafNodeChanges, options?: ProposalOptions): Promise<SentProposal> {
    return sendUpdate(this.#state, this.#config, changes, options);
  }

  /** A Remove proposal (§12.1.3). @throws MlsError `PROPOSAL_REMOVE_BLANK_LEAF` (no member at `leaf`), `GROUP_INACTIVE`, `GROUP_REINITIALIZED`. */
  proposeRemove(leaf: LeafIndex, options?: ProposalOptions): Promise<SentProposal> {
    return sendProposal(this.#state, this.#config, { proposalType: ProposalType.remove, removed: leaf }, options);
  }

  /**
   * draft-ietf-mls-extensions "SelfRemove": asks to leave; another member commits it by reference. Always a
   * PublicMessage, at most one per epoch (PROPOSAL_SELF_REMOVE_REPEATED); PROPOSAL_UNSUPPORTED_TYPE unless
   * every member supports SelfRemove.
   * @throws MlsError `PROPOSAL_SELF_REMOVE_REPEATED`, `PROPOSAL_UNSUPPORTED_TYPE`, `GROUP_INACTIVE`.
   */
  proposeSelfRemove(options?: Omit<ProposalOptions, "wireFormat">): Promise<SentProposal> {
    for (const c of this.#state.proposals.values()) {
      if (c.own && c.proposal.proposalType === ProposalType.selfRemove) {
        return Promise.reject(new MlsError("PROPOSAL_SELF_REMOVE_REPEATED", "a SelfRemove was already sent in this epoch"));
      }
    }
    return sendProposal(this.#state, this.#config, { proposalType: ProposalType.selfRemove }, { ...options, wireFormat: "public" });
  }

  /**
   * A PreSharedKey proposal (§12.1.4); `psk` names an external PSK or a resumption PSK of this group (usage application).
   * @throws MlsError `PROPOSAL_PSK_INVALID_NONCE`, `PROPOSAL_PSK_INVALID_USAGE`, `GROUP_INACTIVE`.
   */
  proposePreSharedKey(psk: PreSharedKeyId, options?: ProposalOptions): Promise<SentProposal> {
    return sendProposal(this.#state, this.#config, { proposalType: ProposalType.psk, psk }, options);
  }

  /** An external PSK id with a fresh nonce, ready for {@link proposePreSharedKey} or a commit. */
  externalPskId(pskId: Uint8Array): PreSharedKeyId {
    return { pskType: PskType.external, pskId, pskNonce: this.#state.suite.randomBytes(this.#state.suite.params.nh) };
  }

  /** A resumption PSK id (usage application) of an epoch of this group we still keep. */
  resumptionPskId(epoch: bigint): PreSharedKeyId {
    return {
      pskType: PskType.resumption,
      usage: ResumptionPskUsage.application,
      pskGroupId: this.groupId,
      pskEpoch: epoch,
      pskNonce: this.#state.suite.randomBytes(this.#state.suite.params.nh),
    };
  }

  /**
   * A GroupContextExtensions proposal (§12.1.7): replaces the group's extensions once committed.
   * @throws MlsError `PROPOSAL_UNSUPPORTED_CAPABILITIES` (a member does not support them), `GROUP_INACTIVE`.
   */
  proposeGroupContextExtensions(extensions: readonly Extension[], options?: ProposalOptions): Promise<SentProposal> {
    return sendProposal(this.#state, this.#config, { proposalType: ProposalType.groupContextExtensions, extensions: [...extensions] }, options);
  }

  /**
   * Any proposal (by value) as a standalone message.
   * @throws MlsError a `PROPOSAL_*` code when the proposal is invalid in this group, `GROUP_INACTIVE`, `GROUP_REINITIALIZED`.
   */
  propose(proposal: Proposal, options?: ProposalOptions): Promise<SentProposal> {
    return sendProposal(this.#state, this.#config, proposal, options);
  }

  /**
   * A ReInit proposal (§12.1.5): once committed, the group moves to a new one with these parameters.
   * @throws MlsError `PROPOSAL_REINIT_INVALID_VERSION`, `GROUP_INACTIVE`, `GROUP_REINITIALIZED`.
   */
  proposeReInit(params: { cipherSuite: CipherSuiteId; groupId?: Uint8Array; extensions?: readonly Extension[] }, options?: ProposalOptions): Promise<SentProposal> {
    const suite = this.#state.suite;
    return sendProposal(
      this.#state,
      this.#config,
      {
        proposalType: ProposalType.reinit,
        groupId: params.groupId ?? suite.randomBytes(suite.params.nh),
        version: ProtocolVersion.mls10,
        cipherSuite: params.cipherSuite,
        extensions: [...(params.extensions ?? [])],
      },
      options,
    );
  }

  // ---------------------------------------------------------------------------
  // Resumption (§11.2, §11.3)

  /** The ReInit committed in this epoch, if any: the group can no longer send; continue with {@link reinitialize}. */
  get reinitPending(): ReInit | undefined {
    return this.#state.reinit;
  }

  /**
   * §11.2 step 3: creates the group the committed ReInit describes with the
   * given members' KeyPackages. The new group's first commit is pending:
   * send `pending.commit` and `pending.welcome`, then merge it.
   * @throws MlsError `INVALID_ARGUMENT` (no ReInit committed in this epoch, or KeyPackages that do not fit it),
   * a `KEY_PACKAGE_*` code for an invalid KeyPackage.
   */
  async reinitialize(opts: ResumeOptions & { readonly config?: Partial<GroupConfig> }): Promise<{ group: Group; pending: PendingCommitInfo }> {
    const config = opts.config === undefined ? this.#config : resolveConfig(opts.config);
    const { state, pending } = await reinitGroup(this.#state, opts, config);
    const group = new Group(state, config, pending);
    return { group, pending: group.#publicPending(pending) };
  }

  /**
   * §11.3: a subgroup of some of our members, linked to this group by a branch PSK. The first commit is pending, as for {@link reinitialize}.
   * @throws MlsError `GROUP_INACTIVE`, `WELCOME_BRANCH_MISMATCH` (a KeyPackage of a non-member), a `KEY_PACKAGE_*` code.
   */
  async branch(opts: BranchOptions & { readonly config?: Partial<GroupConfig> }): Promise<{ group: Group; pending: PendingCommitInfo }> {
    requireActive(this.#state);
    const config = opts.config === undefined ? this.#config : resolveConfig(opts.config);
    const { state, pending } = await branchGroup(this.#state, opts, config);
    const group = new Group(state, config, pending);
    return { group, pending: group.#publicPending(pending) };
  }

  // ---------------------------------------------------------------------------
  // Commits (§12.4)

  /**
   * Creates a commit; the group stays in its epoch until
   * {@link mergePendingCommit}.
   * @throws MlsError `GROUP_PENDING_COMMIT` (one is already pending), `GROUP_INACTIVE`, `GROUP_REINITIALIZED`,
   * a `PROPOSAL_*` code when the proposals to commit are invalid together (§12.2), a `KEY_PACKAGE_*` code
   * for an added KeyPackage, `INVALID_ARGUMENT` (e.g. a leaf change without a path).
   */
  async createCommit(options?: CommitOptions): Promise<PendingCommitInfo> {
    if (this.#pending !== undefined) throw new MlsError("GROUP_PENDING_COMMIT", "a commit is already pending: merge or clear it first");
    const pending = await createCommit(this.#state, this.#config, options);
    this.#pending = pending;
    return this.#publicPending(pending);
  }

  /** Enters the epoch of our pending commit (the DS accepted it). @throws MlsError `GROUP_NO_PENDING_COMMIT`. */
  mergePendingCommit(): PendingCommitInfo {
    const pending = this.#pending;
    if (pending === undefined) throw new MlsError("GROUP_NO_PENDING_COMMIT", "no commit is pending");
    this.#pending = undefined;
    this.#advance(pending.next);
    const info = this.#publicPending(pending);
    this.#lastMerged = info;
    return info;
  }

  /** Drops our pending commit (the DS refused it); its secrets are deleted. @throws MlsError `GROUP_NO_PENDING_COMMIT`. */
  clearPendingCommit(): void {
    const pending = this.#pending;
    if (pending === undefined) throw new MlsError("GROUP_NO_PENDING_COMMIT", "no commit is pending");
    this.#pending = undefined;
    destroyUnusedState(pending.next);
  }

  /**
   * Enters the epoch of a commit staged by {@link processMessage}. A pending
   * commit of ours for the same epoch lost the race and is dropped.
   * @throws MlsError `GROUP_STALE_STAGED_COMMIT` (the group moved on since it was staged).
   */
  mergeStagedCommit(staged: StagedCommit): void {
    const s = stagedCommitState(staged);
    if (s.base !== this.#state) throw new MlsError("GROUP_STALE_STAGED_COMMIT", "the group is no longer in the epoch this commit was staged for");
    if (this.#pending !== undefined) {
      destroyUnusedState(this.#pending.next);
      this.#pending = undefined;
    }
    if (s.next === undefined) this.#leave();
    else this.#advance(s.next);
  }

  /** Drops a staged commit the application decided not to merge, deleting the secrets of the epoch it derived. */
  discardStagedCommit(staged: StagedCommit): void {
    const s = forgetStagedCommit(staged);
    if (s?.next !== undefined) destroyUnusedState(s.next);
  }

  // ---------------------------------------------------------------------------
  // Messages

  /**
   * Processes an MLSMessage (PublicMessage or PrivateMessage) addressed to this group.
   * A commit comes back staged ({@link mergeStagedCommit}); the group is unchanged until then.
   * @throws MlsError `MESSAGE_WRONG_GROUP`, `MESSAGE_WRONG_EPOCH`, `GROUP_EPOCH_EXPIRED` (an epoch no longer kept),
   * `MESSAGE_WIRE_FORMAT_REJECTED`, `MESSAGE_INVALID_SIGNATURE`, `MESSAGE_INVALID_MEMBERSHIP_TAG`,
   * `MESSAGE_INVALID_SENDER`, `MESSAGE_INVALID_CONTENT`, `MESSAGE_INVALID_PADDING`, `MESSAGE_INVALID_CONFIRMATION_TAG`,
   * `CRYPTO_DECRYPT_FAILED`, `SECRET_TREE_GENERATION_CONSUMED` (a replay), `SECRET_TREE_TOO_FAR_AHEAD`,
   * `COMMIT_FROM_SELF`, `PROPOSAL_UNKNOWN_REFERENCE`, a `PROPOSAL_*`, `TREE_*`, `LEAF_NODE_*` or `UPDATE_PATH_*` code
   * for an invalid commit (§12.4.2), `PROPOSAL_REJECTED_BY_POLICY` / `COMMIT_REJECTED_BY_POLICY` (the config's acceptors),
   * `GROUP_INACTIVE`, `DECODE_*` for malformed bytes.
   */
  processMessage(bytes: Uint8Array): Promise<ProcessedMessage> {
    // Not an async function: returning receiveMessage's promise from one would cost three more microtask hops per message.
    try {
      return this.#processMessage(bytes);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #processMessage(bytes: Uint8Array): Promise<ProcessedMessage> {
    const pending = this.#pending;
    if (pending !== undefined && bytesEqual(bytes, pending.commit)) {
      const info = this.mergePendingCommit();
      return Promise.resolve({ kind: "ownCommit", epoch: info.epoch, alreadyMerged: false, commit: info });
    }
    const last = this.#lastMerged;
    if (last !== undefined && last.epoch === this.epoch && bytesEqual(bytes, last.commit)) {
      return Promise.resolve({ kind: "ownCommit", epoch: last.epoch, alreadyMerged: true, commit: last });
    }
    for (const c of this.#state.proposals.values()) {
      if (c.own && c.message !== undefined && bytesEqual(bytes, c.message)) {
        return Promise.resolve({ kind: "proposal", ref: c.ref, proposal: c.proposal, sender: c.sender, authenticatedData: readEnvelope(bytes).authenticatedData });
      }
    }
    return receiveMessage(this.#state, this.#config, bytes);
  }

  /**
   * §15: encrypts application data for the group (always a PrivateMessage).
   * The bytes are a view of a buffer shared with other messages sent (public
   * bytes only): send the view, or slice() it, never its `buffer`.
   * @throws MlsError `GROUP_UNCOMMITTED_PROPOSALS` (proposals received in this epoch must be committed first),
   * `GROUP_INACTIVE`, `GROUP_REINITIALIZED`.
   */
  encryptApplicationMessage(data: Uint8Array, authenticatedData: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    return encryptApplication(this.#state, this.#config, data, authenticatedData, this.#pending !== undefined);
  }

  // ---------------------------------------------------------------------------
  // Transitions

  /** Replaces the current state by the next epoch's and retires the old one (§9.2). */
  #advance(next: GroupState): void {
    const previous = this.#state;
    const past = retirePrevious(previous, previous.pastEpochs, this.#config);
    // Resumption PSKs that fell out of the window (an array still shared with the next state is kept).
    for (const r of previous.resumptionPsks) if (!next.resumptionPsks.some((n) => n.psk === r.psk)) zeroize(r.psk);
    previous.privateKeys.destroy();
    this.#state = { ...next, pastEpochs: past };
  }

  /** A merged commit removed us: keep the epoch for late application messages, delete what let us take part. */
  #leave(): void {
    const s = this.#state;
    for (const c of s.proposals.values()) zeroize(c.updateKeyPair?.privateKey);
    s.proposals.clear();
    zeroize(s.keys.initSecret);
    s.privateKeys.destroy();
    const past = retirePrevious(s, s.pastEpochs, this.#config);
    this.#state = { ...s, pastEpochs: past, active: false };
  }

  /** Deletes every secret this group holds; the object is unusable afterwards. */
  destroy(): void {
    this.#destroyed = true;
    if (this.#pending !== undefined) destroyUnusedState(this.#pending.next);
    this.#pending = undefined;
    const s = this.#state;
    for (const p of s.pastEpochs) destroyPastEpoch(p);
    for (const r of s.resumptionPsks) zeroize(r.psk);
    destroyUnusedState(s);
  }

  /**
   * The public view of a pending commit of this group, built once: createCommit and the merge hand out the same one.
   * Held here for the newest pending commit only (the only one either can ask for), not in a WeakMap: V8's young-generation
   * collector keeps a WeakMap's entries alive, and each commit's whole next state was promoted to the old generation with it.
   */
  #publicPending(p: PendingCommitState): PendingCommitInfo {
    let view = this.#pendingView?.of === p ? this.#pendingView.view : undefined;
    if (view === undefined) {
      const groupInfo = (): Promise<Uint8Array> => this.#pendingGroupInfo(p);
      // Two literals rather than a conditional spread of welcome (V8 then defined each later field by a runtime call).
      const { commit, welcome, epoch, proposals, added, removed, updated } = p;
      const fields = welcome === undefined ? { commit, groupInfo, epoch, proposals, added, removed, updated } : { commit, welcome, groupInfo, epoch, proposals, added, removed, updated };
      // `ratchetTree` stays a getter reading the pending commit's, so the tree is encoded only when first read.
      view = Object.defineProperty(fields, "ratchetTree", { enumerable: true, get: () => p.ratchetTree }) as PendingCommitInfo;
      this.#pendingView = { of: p, view };
    }
    return view;
  }

  /** A pending commit's GroupInfo, signed when first asked while that commit is pending or its epoch is ours (RFC 9420 §12.4.3). */
  async #pendingGroupInfo(p: PendingCommitState): Promise<Uint8Array> {
    const ready = groupInfoSlotBytes(p.groupInfo);
    if (ready !== undefined) return ready;
    // The epoch's state, while its secrets (external_secret) are still held.
    const state = this.#destroyed ? undefined : this.#pending === p ? p.next : this.#state.keys === p.next.keys ? this.#state : undefined;
    if (state === undefined) throw new MlsError("GROUP_INFO_UNAVAILABLE", "the commit was dropped or its epoch is over: ask the group for its current GroupInfo");
    requireActive(state);
    const bytes = await createGroupInfoMessage(state, p.groupInfo);
    p.groupInfo.bytes ??= bytes;
    return p.groupInfo.bytes;
  }
}
