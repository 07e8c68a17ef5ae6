/**
 * Groups on the DS (RFC 9750 §5.2; DESIGN: DS): the roster of member clients,
 * per-group strong ordering of handshake messages, commit bundles accepted or
 * rejected atomically, the latest GroupInfo for external joins, the kept
 * handshake log, and fan-out into per-client queues.
 *
 * The DS cannot read the group's tree: it knows who is in the group from what
 * it accepted — the creator, the clients whose KeyPackageRefs a Welcome names,
 * minus the clients a committer declares removed.
 */
import { ApiError, formatClientIdentity, fromBase64Url, parseClientIdentity, toBase64Url, type AcceptedResponse, type CommitBundleRequest, type GroupInfoResponse, type GroupResponse, type HandshakesResponse } from "@conclave/api";
import { bytesEqual, ContentType, SenderType, toHex, WireFormat } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { GroupRecord, NewQueueEntry } from "../storage/dsStore.js";
import type { ClientId, Store, StoreTx } from "../storage/store.js";
import { EpochMismatchError } from "./errors.js";
import { externalCommitRemovedLeaves, leafSignatureKey, readFramingHeader, readGroupInfo, readWelcome, type FramingHeader } from "./mlsHeader.js";
import type { Notifier } from "./notifier.js";

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
  private async wake(recipients: readonly ClientId[]): Promise<void> {
    try {
      await this.o.notifier.publish(recipients);
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

  private async memberGroup(repos: StoreTx | Store, client: AuthenticatedClient, groupId: Uint8Array, lock: boolean): Promise<GroupRecord> {
    const g = lock ? await repos.groups.lock(groupId) : await repos.groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
    if (!(await repos.groups.isMember(groupId, client.id))) throw new ApiError("NOT_GROUP_MEMBER", "you are not in this group's roster");
    return g;
  }

  async get(client: AuthenticatedClient, groupIdText: string): Promise<GroupResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.memberGroup(this.o.store, client, groupId, false);
    return { groupId: groupIdText, epoch: g.epoch, members: await this.identities(this.o.store, await this.o.store.groups.members(groupId)) };
  }

  /** A single MLS message: application, proposal, or a commit without Welcome/GroupInfo/roster change. */
  async postMessage(client: AuthenticatedClient, groupIdText: string, bytes: Uint8Array): Promise<AcceptedResponse> {
    const groupId = groupIdParam(groupIdText);
    const header = readFramingHeader(bytes);
    if (!bytesEqual(header.groupId, groupId)) throw new ApiError("WRONG_GROUP", "the message's group_id is not this group");
    if (header.contentType === ContentType.commit) return this.acceptCommit(client, groupId, { commit: bytes, header, welcomeRefs: [], removed: [] });
    const now = this.o.clock();
    const isApp = header.contentType === ContentType.application;
    const { result, recipients } = await this.o.store.transaction(async (tx) => {
      // Proposals are ordered with commits (they must be for the current epoch): lock the group.
      const g = await this.memberGroup(tx, client, groupId, !isApp);
      const epoch = Number(header.epoch);
      const oldest = isApp ? g.epoch - this.o.pastEpochs : g.epoch;
      if (header.epoch > BigInt(g.epoch) || epoch < oldest) throw new EpochMismatchError(g.epoch, header.epoch);
      if (!isApp) await tx.groups.appendHandshake({ groupId, epoch, contentType: header.contentType, senderClientId: client.id, message: bytes, createdAt: now });
      const recipients = (await tx.groups.members(groupId)).filter((m) => m !== client.id);
      const kind = isApp ? "application" : "handshake";
      await tx.queues.enqueue(recipients.map((c): NewQueueEntry => ({ clientId: c, kind, groupId, epoch, message: bytes, createdAt: now })));
      return { result: { epoch: g.epoch, delivered: recipients.length }, recipients };
    });
    await this.wake(recipients);
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
    const { result, recipients } = await this.o.store.transaction(async (tx) => {
      const g = external ? await tx.groups.lock(groupId) : await this.memberGroup(tx, client, groupId, true);
      if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", "no such group");
      if (b.header.epoch !== BigInt(g.epoch)) throw new EpochMismatchError(g.epoch, b.header.epoch);
      const members = await tx.groups.members(groupId);
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

      const removed: ClientId[] = [];
      for (const identity of b.removed) {
        let parsed;
        try {
          parsed = parseClientIdentity(identity);
        } catch {
          throw new ApiError("INVALID_ROSTER_CHANGE", `not a client identity: ${identity}`);
        }
        const c = parsed.domain === this.o.domain ? await tx.clients.getByName(parsed.user, parsed.device) : undefined;
        if (c === undefined || !memberSet.has(c.id)) throw new ApiError("INVALID_ROSTER_CHANGE", `${identity} is not in the roster`);
        if (c.id === client.id) throw new ApiError("INVALID_ROSTER_CHANGE", "a committer cannot remove itself (RFC 9420 §12.2)");
        if (!removed.includes(c.id)) removed.push(c.id);
      }

      const owners = await tx.keyPackages.owners(b.welcomeRefs);
      const added: ClientId[] = [];
      for (const ref of b.welcomeRefs) {
        const owner = owners.get(toHex(ref));
        if (owner === undefined) throw new ApiError("UNKNOWN_KEY_PACKAGE", `the Welcome names KeyPackageRef ${toHex(ref)} that this DS never stored`);
        if (memberSet.has(owner) && !removed.includes(owner)) throw new ApiError("INVALID_ROSTER_CHANGE", "the Welcome adds a client already in the roster");
        if (!added.includes(owner)) added.push(owner);
      }

      if (external && !resync) added.push(client.id);
      const epoch = g.epoch;
      if (!(await tx.groups.advanceEpoch(groupId, epoch))) throw new EpochMismatchError(epoch + 1, b.header.epoch);
      await tx.groups.appendHandshake({ groupId, epoch, contentType: ContentType.commit, senderClientId: client.id, message: b.commit, createdAt: now });
      await tx.groups.removeMembers(groupId, removed);
      await tx.groups.addMembers(groupId, added, epoch + 1);
      if (b.groupInfo !== undefined) await tx.groups.setGroupInfo(groupId, b.groupInfo, b.ratchetTree ?? null);

      // The commit goes to every previous member but its sender (removed ones learn of their removal);
      // the Welcome only to the added clients.
      const commitTo = members.filter((m) => m !== client.id);
      const entries: NewQueueEntry[] = commitTo.map((c) => ({ clientId: c, kind: "handshake", groupId, epoch, message: b.commit, createdAt: now }));
      if (b.welcome !== undefined) for (const c of added) entries.push({ clientId: c, kind: "welcome", groupId, epoch: epoch + 1, message: b.welcome, createdAt: now });
      await tx.queues.enqueue(entries);
      return { result: { epoch: epoch + 1, delivered: entries.length }, recipients: [...commitTo, ...added] };
    });
    await this.wake(recipients);
    return result;
  }

  async handshakes(client: AuthenticatedClient, groupIdText: string, sinceEpoch: number, limit: number): Promise<HandshakesResponse> {
    const groupId = groupIdParam(groupIdText);
    const g = await this.memberGroup(this.o.store, client, groupId, false);
    const rows = await this.o.store.groups.handshakesSince(groupId, sinceEpoch, Math.min(limit, MAX_HANDSHAKES_PER_PAGE));
    const names = new Map<ClientId, string>();
    for (const r of rows) if (!names.has(r.senderClientId)) names.set(r.senderClientId, (await this.identities(this.o.store, [r.senderClientId]))[0] ?? "");
    return {
      currentEpoch: g.epoch,
      messages: rows.map((r) => ({ id: r.id, epoch: r.epoch, contentType: r.contentType, sender: names.get(r.senderClientId) ?? "", message: toBase64Url(r.message) })),
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
