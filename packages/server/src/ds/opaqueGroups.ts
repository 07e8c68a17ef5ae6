/**
 * Opaque groups (issue 17 item 5, RFC 9750 §5.3): groups whose policy asks
 * for encrypted handshakes (GroupPolicy.handshakes "private"). The DS cannot
 * read or validate their commits, so it does not advance on the first one and
 * trust it: it keeps every commit of an epoch in arrival order (a commit for
 * the current epoch moves the DS's epoch on, one for the epoch before is kept
 * beside it), and members apply the first commit they can validate. A member
 * that cannot apply one reports it with the disclosure of that one message
 * (mls framing/disclosure.ts); when the disclosure opens the stored ciphertext
 * and shows a malformed content, or a signature that is not the poster's under
 * the epoch's GroupContext, the DS drops the commit, so one member cannot wedge
 * the group. What this cannot prevent is in docs/security.md.
 */
import { ApiError, fromBase64Url, type AcceptedResponse, type CommitBundleRequest, type ReportCommitRequest, type ReportCommitResponse } from "@conclave/api";
import {
  bytesEqual,
  ContentType,
  decode,
  encode,
  groupContextCodec,
  mlsMessageCodec,
  MlsError,
  openDisclosedMessage,
  toHex,
  verifyGroupInfoSignature,
  WireFormat,
  type CryptoProvider,
  type DisclosedMessage,
  type GroupContext,
} from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { GroupRecord, NewQueueEntry } from "../storage/dsStore.js";
import type { ClientId, Store, StoreTx } from "../storage/store.js";
import { EpochMismatchError } from "./errors.js";
import type { FramingHeader } from "./mlsHeader.js";
import { readWelcome } from "./mlsHeader.js";

export interface OpaqueGroupsOptions {
  readonly store: Store;
  readonly provider: CryptoProvider;
  readonly clock: Clock;
}

/** The GroupContext a GroupInfo (MLSMessage) carries, once its signature verifies under `signatureKey`. */
async function signedGroupContext(provider: CryptoProvider, groupInfo: Uint8Array, signatureKey: Uint8Array): Promise<GroupContext | undefined> {
  try {
    const m = decode(mlsMessageCodec, groupInfo);
    if (m.wireFormat !== WireFormat.groupInfo) return undefined;
    const ok = await verifyGroupInfoSignature(provider.suite(m.groupInfo.groupContext.cipherSuite), signatureKey, m.groupInfo);
    return ok ? m.groupInfo.groupContext : undefined;
  } catch {
    return undefined;
  }
}

export class OpaqueGroups {
  constructor(private readonly o: OpaqueGroupsOptions) {}

  /**
   * A commit (PrivateMessage) of an opaque group, kept in arrival order. One
   * for the current epoch moves the DS's epoch on; one for the epoch before is
   * a competing commit, kept beside the first. Its optional GroupInfo, signed
   * by the poster, anchors the GroupContext of the epoch it starts.
   */
  async commit(
    tx: StoreTx,
    g: GroupRecord,
    seq: number,
    client: AuthenticatedClient,
    commit: Uint8Array,
    header: FramingHeader,
    req: CommitBundleRequest,
  ): Promise<AcceptedResponse & { woken: ClientId[] }> {
    if (header.wireFormat !== WireFormat.privateMessage) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "an opaque group's handshakes travel as PrivateMessage");
    const epoch = Number(header.epoch);
    const advances = epoch === g.epoch;
    if (!advances && epoch !== g.epoch - 1) throw new EpochMismatchError(g.epoch, header.epoch);
    const groupInfo = req.groupInfo === undefined ? undefined : fromBase64Url(req.groupInfo, "groupInfo");
    if (groupInfo !== undefined) {
      const ctx = await signedGroupContext(this.o.provider, groupInfo, client.signatureKey);
      if (ctx === undefined || !bytesEqual(ctx.groupId, g.groupId) || ctx.epoch !== header.epoch + 1n) {
        throw new ApiError("BAD_REQUEST", "the GroupInfo must be of the epoch this commit starts, signed by you");
      }
    }
    const now = this.o.clock();
    await tx.groups.append({
      groupId: g.groupId,
      seq,
      kind: "handshake",
      epoch,
      contentType: ContentType.commit,
      senderClientId: client.id,
      message: commit,
      createdAt: now,
      ...(groupInfo === undefined ? {} : { groupInfo }),
    });
    if (advances && !(await tx.groups.advanceEpoch(g.groupId, epoch))) throw new EpochMismatchError(g.epoch, header.epoch);
    const welcomed = req.welcome === undefined ? [] : await this.welcome(tx, g, client, fromBase64Url(req.welcome, "welcome"), epoch + 1, seq);
    return { epoch: advances ? epoch + 1 : g.epoch, delivered: g.memberCount - 1 + welcomed.length, woken: welcomed };
  }

  /**
   * The DS cannot see whom an encrypted commit adds: the Welcome's entries
   * name KeyPackages, and their owners join the roster (the roster limits of
   * opaque groups: docs/security.md). Only KeyPackages the DS knows count.
   */
  private async welcome(tx: StoreTx, g: GroupRecord, client: AuthenticatedClient, welcome: Uint8Array, epoch: number, seq: number): Promise<ClientId[]> {
    const refs = readWelcome(welcome).secrets.map((s) => s.newMember);
    const owners = await tx.keyPackages.owners(refs);
    const named = refs.map((r) => owners.get(toHex(r)));
    if (named.some((c) => c === undefined)) throw new ApiError("INVALID_ROSTER_CHANGE", "the Welcome names a KeyPackage the DS does not know");
    const clients = [...new Set(named as ClientId[])].filter((c) => c !== client.id);
    const fresh: ClientId[] = [];
    for (const c of clients) if (!(await tx.memberships.isMember(g.groupId, c))) fresh.push(c);
    await tx.memberships.join(g.groupId, fresh, epoch, seq);
    const now = this.o.clock();
    await tx.queues.enqueue(clients.map((c): NewQueueEntry => ({ clientId: c, kind: "welcome", groupId: g.groupId, epoch, message: welcome, createdAt: now })));
    return clients;
  }

  /**
   * A proposal of an opaque group: kept for the members, unread by the DS. A
   * PublicMessage is taken too (SelfRemove travels as one, draft-ietf-mls-extensions).
   */
  async proposal(tx: StoreTx, g: GroupRecord, seq: number, client: AuthenticatedClient, message: Uint8Array, header: FramingHeader): Promise<AcceptedResponse> {
    if (Number(header.epoch) !== g.epoch) throw new EpochMismatchError(g.epoch, header.epoch);
    await tx.groups.append({ groupId: g.groupId, seq, kind: "handshake", epoch: g.epoch, contentType: ContentType.proposal, senderClientId: client.id, message, createdAt: this.o.clock() });
    return { epoch: g.epoch, delivered: g.memberCount - 1 };
  }

  /** What the disclosure proves about the commit, or the ApiError that refuses the report. */
  private async judge(g: GroupRecord, message: Uint8Array, epoch: number, disclosure: Uint8Array, posterKey: Uint8Array): Promise<DisclosedMessage> {
    let opened: DisclosedMessage;
    try {
      opened = await openDisclosedMessage(this.o.provider, message, disclosure, posterKey);
    } catch (e) {
      if (e instanceof MlsError) throw new ApiError("REPORT_EVIDENCE_INVALID", `the disclosure does not open this commit (${e.code})`, { cause: e });
      throw e;
    }
    if (opened.fault === undefined) throw new ApiError("REPORT_UNPROVEN", "the commit opens to a well-formed content signed by its poster");
    if (opened.fault === "invalid-signature") {
      // A reporter could disclose a GroupContext of its own making, under which any signature fails: the
      // signature proves nothing unless the context is the one the epoch's commit (or creation) announced.
      const anchor = epoch === 0 ? g.groupInfo : await this.o.store.groups.commitGroupInfo(g.groupId, epoch);
      const creator = epoch === 0 ? await this.o.store.clients.get(g.createdBy) : undefined;
      const anchorKey = epoch === 0 ? creator?.signatureKey : await this.anchorSigner(g, epoch);
      const ctx = anchor === undefined || anchor === null || anchorKey === undefined ? undefined : await signedGroupContext(this.o.provider, anchor, anchorKey);
      if (ctx === undefined) throw new ApiError("REPORT_UNPROVEN", "the DS holds no GroupContext of that epoch to check the signature against");
      if (!bytesEqual(encode(groupContextCodec, ctx), encode(groupContextCodec, opened.groupContext))) {
        throw new ApiError("REPORT_EVIDENCE_INVALID", "the disclosed GroupContext is not the epoch's");
      }
    }
    return opened;
  }

  /** The signature key of the poster of the commit that anchors `epoch` (its first standing commit of the epoch before). */
  private async anchorSigner(g: GroupRecord, epoch: number): Promise<Uint8Array | undefined> {
    const rows = await this.o.store.groups.handshakes(g.groupId, epoch - 1, 0, 1000);
    const first = rows.find((r) => r.epoch === epoch - 1 && r.contentType === ContentType.commit);
    return first === undefined ? undefined : (await this.o.store.clients.get(first.senderClientId))?.signatureKey;
  }

  /**
   * A member's report of a commit it cannot apply (RFC 9750 §5.3). Proven:
   * the commit is dropped, and when it was the only standing commit of the
   * epoch before the DS's, the DS's epoch steps back to it.
   */
  async report(client: AuthenticatedClient, g: GroupRecord, req: ReportCommitRequest): Promise<ReportCommitResponse> {
    const entry = await this.o.store.groups.entry(g.groupId, req.seq);
    if (entry === undefined || entry.kind !== "handshake" || entry.contentType !== ContentType.commit) throw new ApiError("NOT_FOUND", `no commit at position ${req.seq}`);
    if (entry.senderClientId === client.id) throw new ApiError("BAD_REQUEST", "report another member's commit, not your own");
    if (entry.droppedAt !== null) return { seq: req.seq, dropped: true, epoch: g.epoch };
    const poster = await this.o.store.clients.get(entry.senderClientId);
    if (poster === undefined) throw new ApiError("INTERNAL", "the commit's poster is unknown");
    await this.judge(g, entry.message, entry.epoch, fromBase64Url(req.disclosure, "disclosure"), poster.signatureKey);
    const epoch = await this.o.store.transaction(async (tx) => {
      await tx.groups.drop(g.groupId, req.seq, this.o.clock());
      const now = (await tx.groups.get(g.groupId))?.epoch ?? g.epoch;
      if (entry.epoch !== now - 1 || (await tx.groups.standingCommits(g.groupId, entry.epoch)) > 0) return now;
      // The epoch rested on this commit alone: it steps back, and members commit again from there.
      await tx.groups.setEpoch(g.groupId, entry.epoch);
      return entry.epoch;
    });
    return { seq: req.seq, dropped: true, epoch };
  }
}
