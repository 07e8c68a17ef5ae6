/** DS groups: epoch (strong ordering, RFC 9750 §5.2), GroupInfo, and the group's log of accepted messages. */
import { sql } from "kysely";
import { ContentType } from "@conclave/mls";
import { bytes, int, type Handle } from "../handle.js";
import type { GroupRecord, GroupRepository, LogEntry, LogKind, NewGroupState, PublicStateUpdate } from "../dsStore.js";
import type { GroupLogTable, GroupsTable } from "../schema.js";
import type { ClientId } from "../store.js";

function groupFromRow(r: GroupsTable): GroupRecord {
  return {
    groupId: bytes(r.group_id),
    epoch: int(r.epoch),
    createdBy: int(r.created_by) as ClientId,
    createdAt: int(r.created_at),
    groupInfo: r.group_info === null ? null : bytes(r.group_info),
    publicState: r.public_state === null ? null : bytes(r.public_state),
    opaqueSuite: r.opaque_suite === null || r.opaque_suite === undefined ? null : int(r.opaque_suite),
    nextSeq: int(r.next_seq),
    firstSeq: int(r.first_seq),
    memberCount: int(r.member_count),
  };
}

/** A group_log row as the repositories hand it out; the message bytes are the caller's (readers may get none). */
export function logEntryFromRow(r: Omit<GroupLogTable, "message" | "dropped_at" | "group_info">): Omit<LogEntry, "message"> {
  return {
    groupId: bytes(r.group_id),
    seq: int(r.seq),
    kind: r.kind as LogKind,
    epoch: int(r.epoch),
    contentType: int(r.content_type),
    senderClientId: int(r.sender_client_id) as ClientId,
    createdAt: int(r.created_at),
  };
}

export class Groups implements GroupRepository {
  constructor(private readonly h: Handle) {}

  async create(groupId: Uint8Array, creator: ClientId, now: number, initial?: NewGroupState): Promise<boolean> {
    const db = this.h.db();
    const row = await db
      .insertInto("groups")
      .values({
        group_id: groupId,
        epoch: 0,
        created_by: creator,
        created_at: now,
        group_info: initial?.groupInfo ?? null,
        ratchet_tree: null,
        public_state: initial?.publicState ?? null,
        opaque_suite: initial?.opaqueSuite ?? null,
        next_seq: 1,
        first_seq: 1,
        member_count: 1,
      })
      .onConflict((oc) => oc.column("group_id").doNothing())
      .returning("group_id")
      .executeTakeFirst();
    if (row === undefined) return false;
    await db.insertInto("group_membership").values({ group_id: groupId, client_id: creator, joined_epoch: 0, joined_seq: 0, left_seq: null, acked_seq: 0 }).execute();
    return true;
  }

  async get(groupId: Uint8Array): Promise<GroupRecord | undefined> {
    const r = await this.h.db().selectFrom("groups").selectAll().where("group_id", "=", groupId).executeTakeFirst();
    return r && groupFromRow(r);
  }

  async reserve(groupId: Uint8Array): Promise<{ group: GroupRecord; seq: number } | undefined> {
    // One statement both locks the row (PostgreSQL row lock; SQLite holds its write lock from BEGIN IMMEDIATE)
    // and takes the position.
    const r = await this.h
      .db()
      .updateTable("groups")
      .set({ next_seq: sql`next_seq + 1` })
      .where("group_id", "=", groupId)
      .returningAll()
      .executeTakeFirst();
    if (r === undefined) return undefined;
    const group = groupFromRow(r);
    return { group, seq: group.nextSeq - 1 };
  }

  async advanceEpoch(groupId: Uint8Array, from: number): Promise<boolean> {
    const r = await this.h
      .db()
      .updateTable("groups")
      .set({ epoch: from + 1 })
      .where("group_id", "=", groupId)
      .where("epoch", "=", from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async setPublicState(groupId: Uint8Array, u: PublicStateUpdate): Promise<void> {
    const set = u.groupInfo === undefined ? { public_state: u.publicState } : { public_state: u.publicState, group_info: u.groupInfo };
    await this.h.db().updateTable("groups").set(set).where("group_id", "=", groupId).execute();
  }

  async putWelcomeTree(groupId: Uint8Array, epoch: number, tree: Uint8Array, now: number): Promise<void> {
    await this.h
      .db()
      .insertInto("group_welcome_trees")
      .values({ group_id: groupId, epoch, tree, created_at: now })
      .onConflict((oc) => oc.columns(["group_id", "epoch"]).doNothing())
      .execute();
  }

  async welcomeTree(groupId: Uint8Array, epoch: number): Promise<Uint8Array | undefined> {
    const r = await this.h.db().selectFrom("group_welcome_trees").select("tree").where("group_id", "=", groupId).where("epoch", "=", epoch).executeTakeFirst();
    return r && bytes(r.tree);
  }

  async append(e: LogEntry): Promise<void> {
    await this.h
      .db()
      .insertInto("group_log")
      .values({
        group_id: e.groupId,
        seq: e.seq,
        kind: e.kind,
        epoch: e.epoch,
        content_type: e.contentType,
        sender_client_id: e.senderClientId,
        message: e.message,
        created_at: e.createdAt,
        dropped_at: null,
        group_info: e.groupInfo ?? null,
      })
      .execute();
  }

  async handshakes(groupId: Uint8Array, sinceEpoch: number, afterSeq: number, limit: number): Promise<LogEntry[]> {
    const rows = await this.h
      .db()
      .selectFrom("group_log")
      .selectAll()
      .where("group_id", "=", groupId)
      .where("seq", ">", afterSeq)
      .where("kind", "=", "handshake")
      .where("epoch", ">=", sinceEpoch)
      .where("dropped_at", "is", null)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...logEntryFromRow(r), message: bytes(r.message) }));
  }

  async entry(groupId: Uint8Array, seq: number): Promise<(LogEntry & { droppedAt: number | null }) | undefined> {
    const r = await this.h.db().selectFrom("group_log").selectAll().where("group_id", "=", groupId).where("seq", "=", seq).executeTakeFirst();
    return r && { ...logEntryFromRow(r), message: bytes(r.message), droppedAt: r.dropped_at === null ? null : int(r.dropped_at) };
  }

  async drop(groupId: Uint8Array, seq: number, now: number): Promise<void> {
    await this.h.db().updateTable("group_log").set({ dropped_at: now }).where("group_id", "=", groupId).where("seq", "=", seq).where("dropped_at", "is", null).execute();
  }

  async standingCommits(groupId: Uint8Array, epoch: number): Promise<number> {
    const r = await this.h
      .db()
      .selectFrom("group_log")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("group_id", "=", groupId)
      .where("epoch", "=", epoch)
      .where("kind", "=", "handshake")
      .where("content_type", "=", ContentType.commit)
      .where("dropped_at", "is", null)
      .executeTakeFirstOrThrow();
    return int(r.n);
  }

  async setEpoch(groupId: Uint8Array, epoch: number): Promise<void> {
    await this.h.db().updateTable("groups").set({ epoch }).where("group_id", "=", groupId).execute();
  }

  async commitGroupInfo(groupId: Uint8Array, epoch: number): Promise<Uint8Array | undefined> {
    const r = await this.h
      .db()
      .selectFrom("group_log")
      .select("group_info")
      .where("group_id", "=", groupId)
      .where("epoch", "=", epoch - 1)
      .where("kind", "=", "handshake")
      .where("content_type", "=", ContentType.commit)
      .where("dropped_at", "is", null)
      .orderBy("seq")
      .limit(1)
      .executeTakeFirst();
    return r?.group_info === null || r === undefined ? undefined : bytes(r.group_info);
  }
}
