/**
 * Groups on the DS (RFC 9750 §5.2; DESIGN: DS): per-group strong ordering of
 * handshake messages, each validated against the DS's public state of the
 * group before it is accepted (issue 17: publicState/, groupState.ts), the
 * roster derived from that state's tree, and the group's log: every accepted
 * message stored once at a gap-free position, read by each member through its
 * own cursor (queueDelivery.ts).
 */
import {
  ApiError,
  formatClientIdentity,
  fromBase64Url,
  toBase64Url,
  type AcceptedResponse,
  type CommitBundleRequest,
  type CreateGroupRequest,
  type ExternalSenderResponse,
  type GroupInfoResponse,
  type GroupResponse,
  type GroupTreeResponse,
  type HandshakesResponse,
  type LeaveGroupResponse,
  type ReportCommitRequest,
  type ReportCommitResponse,
  readGroupPolicy,
} from "@conclave/api";
import { bytesEqual, ContentType, encode, externalSendersCodec, PublicRatchetTree, toHex, WireFormat, type CipherSuiteId, type PublicGroup } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { GroupRecord, NewQueueEntry } from "../storage/dsStore.js";
import type { ClientId, ClientRecord, Store, StoreTx } from "../storage/store.js";
import { EpochMismatchError } from "./errors.js";
import type { DsExternalSenders } from "./externalSender.js";
import { logWriterFor } from "./logWriter.js";
import { OpaqueGroups } from "./opaqueGroups.js";
import { GroupState, postingClient, type GroupStateOptions, type RosterChange } from "./groupState.js";
import { readFramingHeader, readWelcome, type FramingHeader } from "./mlsHeader.js";
import { clientTopic, groupTopic, type Notifier, type Topic } from "./notifier.js";
import { createPublicState, groupInfoOf, revocationProposal, treeViewOf, validateHandshakeWith, type TreeViewRequest, type ValidatedHandshake } from "./publicState/index.js";

export interface GroupDeliveryOptions extends GroupStateOptions {
  /** The DS's external-sender keys (revocation reaching groups); absent: the DS proposes nothing. */
  readonly senders?: DsExternalSenders;
  readonly store: Store;
  readonly clock: Clock;
  readonly domain: string;
  readonly notifier: Notifier;
  /** Application messages are accepted for the current epoch and this many before it. */
  readonly pastEpochs: number;
}

const MAX_HANDSHAKES_PER_PAGE = 1000;
/** Message bytes in one page of the handshake log (at least one message is always sent). */
const MAX_HANDSHAKE_PAGE_BYTES = 4 * 1024 * 1024;

export function groupIdParam(text: string): Uint8Array {
  const id = fromBase64Url(text, "groupId");
  if (id.length === 0 || id.length > 255) throw new ApiError("BAD_REQUEST", "groupId must be 1..255 bytes");
  return id;
}

export class GroupDelivery {
  readonly #state: GroupState;
  readonly #opaque: OpaqueGroups;

  constructor(private readonly o: GroupDeliveryOptions) {
    this.#state = new GroupState(o);
    this.#opaque = new OpaqueGroups(o);
  }

  private async identities(repos: StoreTx | Store, ids: readonly ClientId[]): Promise<string[]> {
    const out: string[] = [];
    for (const id of ids) {
      const c = await repos.clients.get(id);
      if (c !== undefined) out.push(formatClientIdentity({ user: c.user, domain: this.o.domain, device: c.device }));
    }
    return out;
  }

  /**
   * The message is already committed: a failing notification must not turn the answer
   * into an error (the client would resend a message that was accepted).
   */
  private async wake(topics: readonly Topic[]): Promise<void> {
    try {
      await this.o.notifier.publish(topics);
    } catch {
      // Streams still catch up at their next wake-up or reconnect; polling clients are unaffected.
    }
  }

  /**
   * A new group: its creator uploads the GroupInfo of epoch 0 (with the
   * one-leaf tree in its ratchet_tree extension or beside it), which the DS
   * checks as a joiner would and keeps as the group's first public state.
   */
  async create(client: AuthenticatedClient, req: CreateGroupRequest): Promise<GroupResponse> {
    const groupId = groupIdParam(req.groupId);
    const ctx = this.#state.context(this.o.store, client, groupId);
    const { state, group } = await createPublicState(
      fromBase64Url(req.groupInfo, "groupInfo"),
      req.ratchetTree === undefined ? undefined : fromBase64Url(req.ratchetTree, "ratchetTree"),
      ctx,
    );
    if (group.epoch !== 0n || group.members().length !== 1) throw new ApiError("INVALID_ROSTER_CHANGE", "a new group starts at epoch 0 with its creator as its only member");
    // Issue 17 item 5: a policy asking for encrypted handshakes makes an opaque group; the DS keeps its first GroupInfo only.
    const opaque = readGroupPolicy(group.groupContext.extensions).handshakes === "private";
    const initial = opaque ? { groupInfo: group.groupInfo!, opaqueSuite: group.suite.id } : { publicState: this.#state.sealed(groupId, state), groupInfo: group.groupInfo! };
    const created = await this.o.store.transaction((tx) => tx.groups.create(groupId, client.id, this.o.clock(), initial));
    if (!created) throw new ApiError("GROUP_EXISTS", "a group with this id exists");
    return { groupId: toBase64Url(groupId), epoch: 0, members: [client.identity], handshakes: opaque ? "private" : "public" };
  }

  private async memberGroup(repos: StoreTx | Store, client: AuthenticatedClient, groupId: Uint8Array): Promise<GroupRecord> {
    const g = await repos.groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
    await this.requireMember(repos, client, groupId);
    return g;
  }

  private async requireMember(repos: StoreTx | Store, client: AuthenticatedClient, groupId: Uint8Array): Promise<void> {
    if (!(await repos.memberships.isMember(groupId, client.id))) throw new ApiError("NOT_GROUP_MEMBER", "you are not in this group's roster");
  }

  /** Locks the group and takes the next log position (see GroupRepository.reserve). */
  private async reserve(tx: StoreTx, groupId: Uint8Array): Promise<{ group: GroupRecord; seq: number }> {
    const r = await tx.groups.reserve(groupId);
    if (r === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
    return r;
  }

  async get(client: AuthenticatedClient, groupIdText: string): Promise<GroupResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.memberGroup(this.o.store, client, groupId);
    const members = await this.identities(this.o.store, await this.o.store.memberships.members(groupId));
    return { groupId: groupIdText, epoch: g.epoch, members, handshakes: g.opaqueSuite === null ? "public" : "private" };
  }

  /** A single MLS message: an application message (PrivateMessage) or a proposal (PublicMessage, validated). */
  async postMessage(client: AuthenticatedClient, groupIdText: string, bytes: Uint8Array): Promise<AcceptedResponse> {
    const groupId = groupIdParam(groupIdText);
    const header = readFramingHeader(bytes);
    if (!bytesEqual(header.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the message's group_id is not this group");
    if (header.contentType === ContentType.commit) throw new ApiError("BAD_REQUEST", "a commit goes to /commits with the GroupInfo of the epoch it starts");
    if (header.contentType === ContentType.proposal) return this.acceptProposal(client, groupId, bytes);
    // RFC 9420 §6: application messages are always encrypted.
    if (header.wireFormat !== WireFormat.privateMessage) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "application messages travel as PrivateMessage");
    // Group commit (logWriter.ts): each message checked on its own (roster, epoch window) under the group's
    // lock, many appended per transaction, answered once committed; the group's streams woken once per batch.
    return logWriterFor(this.o).append({ client, groupId, epoch: header.epoch, contentType: header.contentType, message: bytes, createdAt: this.o.clock() });
  }

  /**
   * A proposal, validated against the group's state (sender's leaf signature,
   * §12.1 rules, the group's policy) and kept in it for the commit that covers
   * it. Members, and a new member proposing its own Add to an open group.
   */
  private async acceptProposal(client: AuthenticatedClient, groupId: Uint8Array, bytes: Uint8Array): Promise<AcceptedResponse> {
    const now = this.o.clock();
    const result = await this.o.store.transaction(async (tx) => {
      const { group: g, seq } = await this.reserve(tx, groupId);
      if (g.opaqueSuite !== null) {
        await this.requireMember(tx, client, groupId);
        return this.#opaque.proposal(tx, g, seq, client, bytes, readFramingHeader(bytes));
      }
      const v = await this.validate(tx, g, client, bytes, undefined);
      await tx.groups.setPublicState(groupId, { publicState: this.#state.sealed(groupId, v.newState) });
      await tx.groups.append({ groupId, seq, kind: "handshake", epoch: g.epoch, contentType: ContentType.proposal, senderClientId: client.id, message: bytes, createdAt: now });
      return { epoch: g.epoch, delivered: g.memberCount - ((await tx.memberships.isMember(groupId, client.id)) ? 1 : 0) };
    });
    await this.wake([groupTopic(groupId)]);
    return result;
  }

  /** The DS's external_senders entry for `suite` (NOT_FOUND for a suite this server does not run). */
  async externalSender(suite: number): Promise<ExternalSenderResponse> {
    if (this.o.senders === undefined) throw new ApiError("NOT_FOUND", "this DS proposes nothing");
    let ds;
    try {
      ds = await this.o.senders.forSuite(suite as CipherSuiteId);
    } catch (e) {
      throw new ApiError("NOT_FOUND", `no external sender for cipher suite ${suite}`, { cause: e });
    }
    return { cipherSuite: suite, signatureKey: toBase64Url(ds.signaturePublicKey), extension: toBase64Url(encode(externalSendersCodec, [ds.sender])) };
  }

  /**
   * Issue 17 item 3: a revoked client's groups hear it from the DS, an
   * external sender (RFC 9420 §12.1.8.1), as a Remove proposal of its leaf
   * that the members commit. Groups that did not list the DS in
   * external_senders are left alone. Returns the groups proposed to.
   */
  async revokeClient(revoked: ClientRecord): Promise<number> {
    if (this.o.senders === undefined) return 0;
    let proposed = 0;
    for (const groupId of await this.o.store.memberships.groupsOf(revoked.id)) {
      // Opaque and legacy groups have no tree to find the leaf in: skipped before taking a log position.
      if ((await this.o.store.groups.get(groupId))?.publicState == null) continue;
      const done = await this.o.store.transaction(async (tx) => {
        const { group: g, seq } = await this.reserve(tx, groupId);
        if (g.publicState === null) return false;
        const poster = { clientId: "delivery-service", signatureKey: new Uint8Array(0) };
        const group = this.#state.load(tx, g, poster);
        const ds = await this.o.senders!.forSuite(group.suite.id);
        let r;
        try {
          r = await revocationProposal(group, revoked.signatureKey, ds);
        } catch (e) {
          if (e instanceof ApiError && e.code === "FORBIDDEN") return false;
          throw e;
        }
        if (r === undefined) return false;
        await tx.groups.setPublicState(groupId, { publicState: this.#state.sealed(groupId, r.group.serialize()) });
        // The log names a client as sender; the proposal's subject stands in for the DS (it reads nothing more: it is revoked).
        await tx.groups.append({
          groupId,
          seq,
          kind: "handshake",
          epoch: g.epoch,
          contentType: ContentType.proposal,
          senderClientId: revoked.id,
          message: r.message,
          createdAt: this.o.clock(),
        });
        return true;
      });
      if (done) {
        proposed++;
        await this.wake([groupTopic(groupId)]);
      }
    }
    return proposed;
  }

  private async validate(tx: StoreTx, g: GroupRecord, client: AuthenticatedClient, message: Uint8Array, groupInfo: Uint8Array | undefined): Promise<ValidatedHandshake> {
    const before = this.#state.load(tx, g, client);
    return validateHandshakeWith(before, message, groupInfo, this.#state.context(tx, client, g.groupId));
  }

  /**
   * A commit with the GroupInfo its committer signed for the new epoch, and
   * the Welcome of the members it adds: validated as a whole and accepted in
   * one transaction, or refused with nothing changed (RFC 9750 §5.2).
   */
  async postCommitBundle(client: AuthenticatedClient, groupIdText: string, req: CommitBundleRequest): Promise<AcceptedResponse> {
    const groupId = groupIdParam(groupIdText);
    const commit = fromBase64Url(req.commit, "commit");
    const header = readFramingHeader(commit);
    if (!bytesEqual(header.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the commit's group_id is not this group");
    if (header.contentType !== ContentType.commit) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "the bundle's commit message does not carry a Commit");
    if ((await this.o.store.groups.get(groupId))?.opaqueSuite != null) return this.opaqueCommit(client, groupId, commit, header, req);
    if (req.groupInfo === undefined) throw new ApiError("BAD_REQUEST", "a commit of a validated group comes with the GroupInfo of the epoch it starts");
    const groupInfo = fromBase64Url(req.groupInfo, "groupInfo");
    const welcome = req.welcome === undefined ? undefined : fromBase64Url(req.welcome, "welcome");
    const welcomeRefs = welcome === undefined ? [] : readWelcome(welcome).secrets.map((s) => toHex(s.newMember));
    const now = this.o.clock();
    const result = await this.o.store.transaction(async (tx) => {
      const { group: g, seq } = await this.reserve(tx, groupId);
      const v = await this.validate(tx, g, client, commit, groupInfo);
      const roster = await this.#state.rosterChange(tx, v.rosterDelta);
      const welcomed = welcomeRecipients(roster, welcomeRefs);
      const epoch = g.epoch;
      if (!(await tx.groups.advanceEpoch(groupId, epoch))) throw new EpochMismatchError(epoch + 1, header.epoch);
      await tx.groups.append({ groupId, seq, kind: "handshake", epoch, contentType: ContentType.commit, senderClientId: client.id, message: commit, createdAt: now });
      // Removed clients still read up to this commit (their removal); added ones read what comes after it.
      await tx.memberships.leave(groupId, roster.removed, seq);
      await tx.memberships.join(groupId, roster.added, epoch + 1, seq);
      await tx.groups.setPublicState(groupId, { publicState: this.#state.sealed(groupId, v.newState), groupInfo });
      if (welcome !== undefined) {
        // Issue 17 item 4: the Welcome may carry no tree; its joiners take this one (checked against its tree hash).
        await tx.groups.putWelcomeTree(groupId, epoch + 1, this.#state.sealed(groupId, v.group.ratchetTree()), now);
        await tx.queues.enqueue(welcomed.map((c): NewQueueEntry => ({ clientId: c, kind: "welcome", groupId, epoch: epoch + 1, message: welcome, createdAt: now })));
      }
      // Every member but the committer reads the commit, removed ones included; an external joiner was not one yet.
      const readers = g.memberCount - (roster.added.includes(client.id) ? 0 : 1);
      return { epoch: epoch + 1, delivered: readers + welcomed.length, woken: welcomed };
    });
    await this.wake([groupTopic(groupId), ...result.woken.map(clientTopic)]);
    return { epoch: result.epoch, delivered: result.delivered };
  }

  private async opaqueCommit(client: AuthenticatedClient, groupId: Uint8Array, commit: Uint8Array, header: FramingHeader, req: CommitBundleRequest): Promise<AcceptedResponse> {
    const result = await this.o.store.transaction(async (tx) => {
      const { group: g, seq } = await this.reserve(tx, groupId);
      await this.requireMember(tx, client, groupId);
      return this.#opaque.commit(tx, g, seq, client, commit, header, req);
    });
    await this.wake([groupTopic(groupId), ...result.woken.map(clientTopic)]);
    return { epoch: result.epoch, delivered: result.delivered };
  }

  /**
   * A member's report of an opaque group's commit it cannot apply, with the
   * disclosure of that message (RFC 9750 §5.3, opaqueGroups.ts).
   */
  async report(client: AuthenticatedClient, groupIdText: string, req: ReportCommitRequest): Promise<ReportCommitResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.memberGroup(this.o.store, client, groupId);
    if (g.opaqueSuite === null) throw new ApiError("BAD_REQUEST", "the DS validates this group's commits itself: there is nothing to report");
    const r = await this.#opaque.report(client, g, req);
    await this.wake([groupTopic(groupId)]);
    return r;
  }

  /**
   * Opaque groups: the caller leaves the DS roster (it has seen the commit that
   * removed it, which the DS cannot read). It still reads what is already logged.
   */
  async leave(client: AuthenticatedClient, groupIdText: string): Promise<LeaveGroupResponse> {
    const groupId = groupIdParam(groupIdText);
    const leftAt = await this.o.store.transaction(async (tx) => {
      const g = await this.memberGroup(tx, client, groupId);
      if (g.opaqueSuite === null) throw new ApiError("BAD_REQUEST", "the DS takes members off a validated group's roster from its commits");
      await tx.memberships.leave(groupId, [client.id], g.nextSeq - 1);
      return g.nextSeq - 1;
    });
    return { groupId: groupIdText, leftAt };
  }

  async handshakes(client: AuthenticatedClient, groupIdText: string, sinceEpoch: number, afterSeq: number, limit: number): Promise<HandshakesResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.memberGroup(this.o.store, client, groupId);
    const count = Math.max(1, Math.min(limit, MAX_HANDSHAKES_PER_PAGE));
    const rows = await this.o.store.groups.handshakes(groupId, sinceEpoch, afterSeq, count);
    let bytes = 0;
    let kept = 0;
    while (kept < rows.length && (kept === 0 || bytes + rows[kept]!.message.length <= MAX_HANDSHAKE_PAGE_BYTES)) bytes += rows[kept++]!.message.length;
    const page = rows.slice(0, kept);
    const names = new Map<ClientId, string>();
    for (const r of page) if (!names.has(r.senderClientId)) names.set(r.senderClientId, (await this.identities(this.o.store, [r.senderClientId]))[0] ?? "");
    return {
      currentEpoch: g.epoch,
      messages: page.map((r) => ({ seq: r.seq, epoch: r.epoch, contentType: r.contentType, sender: names.get(r.senderClientId) ?? "", message: toBase64Url(r.message) })),
      more: kept < rows.length || rows.length === count,
    };
  }

  /** The group's public state for a read: members, and outsiders only where the group's policy opens it (GROUP_CLOSED). */
  private async readState(client: AuthenticatedClient, groupIdText: string): Promise<PublicGroup> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.o.store.groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
    if (g.opaqueSuite !== null) throw new ApiError("OPAQUE_GROUP", "the DS cannot read an opaque group's tree or GroupInfo");
    return this.#state.load(this.o.store, g, client);
  }

  /** The latest GroupInfo with the tree it commits to, for joins and resyncs (issue 17 item 2). */
  async groupInfo(client: AuthenticatedClient, groupIdText: string): Promise<GroupInfoResponse> {
    const group = await this.readState(client, groupIdText);
    const groupInfo = groupInfoOf(group, postingClient(client));
    return { groupId: groupIdText, epoch: Number(group.epoch), groupInfo: toBase64Url(groupInfo), ratchetTree: toBase64Url(group.ratchetTree()) };
  }

  /**
   * Group metadata assistance: the whole tree, or one leaf's partial view
   * (draft-ietf-mls-partial); with `epoch`, the tree of an earlier epoch whose
   * Welcome carried none, for the roster's members.
   */
  async tree(client: AuthenticatedClient, groupIdText: string, req: TreeViewRequest, epoch?: number): Promise<GroupTreeResponse> {
    const group = await this.readState(client, groupIdText);
    if (epoch !== undefined && BigInt(epoch) !== group.epoch) {
      await this.requireMember(this.o.store, client, group.groupId);
      const sealed = await this.o.store.groups.welcomeTree(group.groupId, epoch);
      if (sealed === undefined) throw new ApiError("NOT_FOUND", `no tree kept for epoch ${epoch}`);
      const tree = this.#state.open(group.groupId, sealed);
      return { groupId: groupIdText, epoch, treeHash: toBase64Url(PublicRatchetTree.decode(group.suite, tree).treeHash()), kind: "full", tree: toBase64Url(tree) };
    }
    const v = treeViewOf(group, postingClient(client), req);
    return { groupId: groupIdText, epoch: Number(v.epoch), treeHash: toBase64Url(v.treeHash), kind: v.kind, tree: toBase64Url(v.body) };
  }
}

/**
 * RFC 9420 §12.4.3.1: the Welcome carries one entry per KeyPackage the commit
 * adds. A Welcome naming anything else, or missing an added member, is
 * refused: it reaches exactly the clients the tree says were added.
 */
function welcomeRecipients(roster: RosterChange, welcomeRefs: readonly string[]): ClientId[] {
  const expected = roster.welcomeRefs;
  if (welcomeRefs.length === 0) {
    if (expected.size > 0) throw new ApiError("INVALID_ROSTER_CHANGE", "a commit that adds members must come with their Welcome");
    return [];
  }
  const named = new Set(welcomeRefs);
  if (named.size !== welcomeRefs.length || named.size !== expected.size || welcomeRefs.some((r) => !expected.has(r))) {
    throw new ApiError("INVALID_ROSTER_CHANGE", "the Welcome must name exactly the KeyPackages the commit adds");
  }
  return [...new Set(expected.values())];
}
