/**
 * Groups on the DS (RFC 9750 §5.2; DESIGN: DS): the roster of member clients,
 * per-group strong ordering of handshake messages, commit bundles accepted or
 * rejected atomically, the latest GroupInfo for external joins, and the
 * group's log: every accepted message stored once at a gap-free position,
 * read by each member through its own cursor (queueDelivery.ts).
 *
 * The DS cannot read the group's tree: it knows who is in the group from what
 * it accepted — the creator, the clients whose KeyPackageRefs a Welcome names,
 * minus the clients a committer declares removed.
 */
import { ApiError, formatClientIdentity, fromBase64Url, parseClientIdentity, toBase64Url, type AcceptedResponse, type CommitBundleRequest, type GroupInfoResponse, type GroupResponse, type HandshakesResponse } from "@conclave/api";
import { bytesEqual, ContentType, SenderType, toHex, WireFormat } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { GroupRecord, LogKind, NewQueueEntry } from "../storage/dsStore.js";
import type { ClientId, Store, StoreTx } from "../storage/store.js";
import { EpochMismatchError } from "./errors.js";
import { externalCommitRemovedLeaves, leafSignatureKey, readFramingHeader, readGroupInfo, readWelcome, type FramingHeader } from "./mlsHeader.js";
import { clientTopic, groupTopic, type Notifier, type Topic } from "./notifier.js";

export interface GroupDeliveryOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly domain: string;
  readonly notifier: Notifier;
  /** Application messages are accepted for the current epoch and this many before it. */
  readonly pastEpochs: number;
}

interface Bundle {
  readonly commit: Uint8Array;
  readonly header: FramingHeader;
  readonly welcome?: Uint8Array;
  readonly welcomeRefs: readonly Uint8Array[];
  readonly groupInfo?: Uint8Array;
  readonly ratchetTree?: Uint8Array;
  readonly removed: readonly string[];
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
  constructor(private readonly o: GroupDeliveryOptions) {}

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

  async create(client: AuthenticatedClient, groupIdText: string): Promise<GroupResponse> {
    const groupId = groupIdParam(groupIdText);
    const created = await this.o.store.transaction((tx) => tx.groups.create(groupId, client.id, this.o.clock()));
    if (!created) throw new ApiError("GROUP_EXISTS", "a group with this id exists");
    return { groupId: toBase64Url(groupId), epoch: 0, members: [client.identity] };
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
    return { groupId: groupIdText, epoch: g.epoch, members: await this.identities(this.o.store, await this.o.store.memberships.members(groupId)) };
  }

  /** A single MLS message: application, proposal, or a commit without Welcome/GroupInfo/roster change. */
  async postMessage(client: AuthenticatedClient, groupIdText: string, bytes: Uint8Array): Promise<AcceptedResponse> {
    const groupId = groupIdParam(groupIdText);
    const header = readFramingHeader(bytes);
    if (!bytesEqual(header.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the message's group_id is not this group");
    if (header.contentType === ContentType.commit) return this.acceptCommit(client, groupId, { commit: bytes, header, welcomeRefs: [], removed: [] });
    const now = this.o.clock();
    const kind: LogKind = header.contentType === ContentType.application ? "application" : "handshake";
    const result = await this.o.store.transaction(async (tx) => {
      // Every message takes the group's lock with its position: proposals are ordered with commits
      // (they must be for the current epoch), and positions become visible in order.
      const { group: g, seq } = await this.reserve(tx, groupId);
      await this.requireMember(tx, client, groupId);
      const epoch = Number(header.epoch);
      const oldest = kind === "application" ? g.epoch - this.o.pastEpochs : g.epoch;
      if (header.epoch > BigInt(g.epoch) || epoch < oldest) throw new EpochMismatchError(g.epoch, header.epoch);
      await tx.groups.append({ groupId, seq, kind, epoch, contentType: header.contentType, senderClientId: client.id, message: bytes, createdAt: now });
      return { epoch: g.epoch, delivered: g.memberCount - 1 };
    });
    await this.wake([groupTopic(groupId)]);
    return result;
  }

  async postCommitBundle(client: AuthenticatedClient, groupIdText: string, req: CommitBundleRequest): Promise<AcceptedResponse> {
    const groupId = groupIdParam(groupIdText);
    const commit = fromBase64Url(req.commit, "commit");
    const header = readFramingHeader(commit);
    if (!bytesEqual(header.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the commit's group_id is not this group");
    if (header.contentType !== ContentType.commit) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "the bundle's commit message does not carry a Commit");
    let welcome: Uint8Array | undefined;
    let welcomeRefs: Uint8Array[] = [];
    if (req.welcome !== undefined) {
      welcome = fromBase64Url(req.welcome, "welcome");
      welcomeRefs = readWelcome(welcome).secrets.map((s) => s.newMember);
    }
    let groupInfo: Uint8Array | undefined;
    if (req.groupInfo !== undefined) {
      groupInfo = fromBase64Url(req.groupInfo, "groupInfo");
      const gc = readGroupInfo(groupInfo).groupContext;
      if (!bytesEqual(gc.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the GroupInfo is for another group");
      if (gc.epoch !== header.epoch + 1n) throw new ApiError("BAD_REQUEST", `the GroupInfo is for epoch ${gc.epoch}, the commit creates epoch ${header.epoch + 1n}`);
    }
    const ratchetTree = req.ratchetTree !== undefined ? fromBase64Url(req.ratchetTree, "ratchetTree") : undefined;
    return this.acceptCommit(client, groupId, {
      commit,
      header,
      welcomeRefs,
      removed: req.removed ?? [],
      ...(welcome !== undefined ? { welcome } : {}),
      ...(groupInfo !== undefined ? { groupInfo } : {}),
      ...(ratchetTree !== undefined ? { ratchetTree } : {}),
    });
  }

  /** Everything in one transaction: a rejected bundle changes nothing (RFC 9750 §5.2: strong ordering). */
  private async acceptCommit(client: AuthenticatedClient, groupId: Uint8Array, b: Bundle): Promise<AcceptedResponse> {
    const now = this.o.clock();
    // RFC 9420 §12.4.3.2: an external commit (sender new_member_commit) comes from a client
    // joining through the published GroupInfo, so it is not in the roster yet; it joins it.
    const external = b.header.wireFormat === WireFormat.publicMessage && b.header.senderType === SenderType.newMemberCommit;
    const result = await this.o.store.transaction(async (tx) => {
      const { group: g, seq } = await this.reserve(tx, groupId);
      if (!external) await this.requireMember(tx, client, groupId);
      if (b.header.epoch !== BigInt(g.epoch)) throw new EpochMismatchError(g.epoch, b.header.epoch);
      const members = await tx.memberships.members(groupId);
      const memberSet = new Set(members);
      // RFC 9750 §6.6, RFC 9420 §12.4.3.2: a client on the roster that lost its state rejoins by external
      // commit, removing its old leaf (resync). It stays on the roster; the members check that the removed
      // leaf carries the joiner's identity (EXTERNAL_COMMIT_RESYNC_IDENTITY).
      const resync = external && memberSet.has(client.id);
      if (resync) {
        const leaves = externalCommitRemovedLeaves(b.commit);
        if (leaves.length !== 1) throw new ApiError("INVALID_ROSTER_CHANGE", "an external commit from a client already in the roster must remove exactly its old leaf (resync)");
        // When the DS holds the current tree, the removed leaf must be the sender's own (its registered signature key).
        const key = leafSignatureKey(g.groupInfo, g.ratchetTree, BigInt(g.epoch), leaves[0]!);
        if (key === null || (key !== undefined && !bytesEqual(key, client.signatureKey))) {
          throw new ApiError("INVALID_ROSTER_CHANGE", "a resync may only remove the committer's own old leaf");
        }
      }
      const removed = await this.removedClients(tx, b.removed, memberSet, client.id);
      const added = await this.welcomedClients(tx, b.welcomeRefs, memberSet, removed);
      if (external && !resync) added.push(client.id);

      const epoch = g.epoch;
      if (!(await tx.groups.advanceEpoch(groupId, epoch))) throw new EpochMismatchError(epoch + 1, b.header.epoch);
      await tx.groups.append({ groupId, seq, kind: "handshake", epoch, contentType: ContentType.commit, senderClientId: client.id, message: b.commit, createdAt: now });
      // Removed clients still read up to this commit (their removal); added ones read what comes after it.
      await tx.memberships.leave(groupId, removed, seq);
      await tx.memberships.join(groupId, added, epoch + 1, seq);
      if (b.groupInfo !== undefined) await tx.groups.setGroupInfo(groupId, b.groupInfo, b.ratchetTree ?? null);
      // The Welcome goes only to the added clients.
      if (b.welcome !== undefined) {
        const welcome = b.welcome;
        await tx.queues.enqueue(added.map((c): NewQueueEntry => ({ clientId: c, kind: "welcome", groupId, epoch: epoch + 1, message: welcome, createdAt: now })));
      }
      const readers = members.filter((m) => m !== client.id).length;
      return { epoch: epoch + 1, delivered: readers + (b.welcome !== undefined ? added.length : 0), added };
    });
    await this.wake([groupTopic(groupId), ...result.added.map(clientTopic)]);
    return { epoch: result.epoch, delivered: result.delivered };
  }

  /** The roster clients a commit bundle says it removes (RFC 9420 §12.1.3). */
  private async removedClients(tx: StoreTx, identities: readonly string[], roster: ReadonlySet<ClientId>, committer: ClientId): Promise<ClientId[]> {
    const removed: ClientId[] = [];
    for (const identity of identities) {
      let parsed;
      try {
        parsed = parseClientIdentity(identity);
      } catch {
        throw new ApiError("INVALID_ROSTER_CHANGE", `not a client identity: ${identity}`);
      }
      const c = parsed.domain === this.o.domain ? await tx.clients.getByName(parsed.user, parsed.device) : undefined;
      if (c === undefined || !roster.has(c.id)) throw new ApiError("INVALID_ROSTER_CHANGE", `${identity} is not in the roster`);
      if (c.id === committer) throw new ApiError("INVALID_ROSTER_CHANGE", "a committer cannot remove itself (RFC 9420 §12.2)");
      if (!removed.includes(c.id)) removed.push(c.id);
    }
    return removed;
  }

  /** The clients whose KeyPackages the Welcome names: they join the roster. */
  private async welcomedClients(tx: StoreTx, refs: readonly Uint8Array[], roster: ReadonlySet<ClientId>, removed: readonly ClientId[]): Promise<ClientId[]> {
    const owners = await tx.keyPackages.owners(refs);
    const added: ClientId[] = [];
    for (const ref of refs) {
      const owner = owners.get(toHex(ref));
      if (owner === undefined) throw new ApiError("UNKNOWN_KEY_PACKAGE", `the Welcome names KeyPackageRef ${toHex(ref)} that this DS never stored`);
      if (roster.has(owner) && !removed.includes(owner)) throw new ApiError("INVALID_ROSTER_CHANGE", "the Welcome adds a client already in the roster");
      if (!added.includes(owner)) added.push(owner);
    }
    return added;
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

  /** The latest GroupInfo, for external joins: any authenticated client may fetch it. */
  async groupInfo(groupIdText: string): Promise<GroupInfoResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.o.store.groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
    if (g.groupInfo === null) throw new ApiError("GROUP_INFO_NOT_FOUND", "no GroupInfo was published for this group");
    // The epoch of the GroupInfo itself: later commits may have come without one.
    const epoch = Number(readGroupInfo(g.groupInfo).groupContext.epoch);
    return { groupId: groupIdText, epoch, groupInfo: toBase64Url(g.groupInfo), ratchetTree: g.ratchetTree === null ? null : toBase64Url(g.ratchetTree) };
  }
}
