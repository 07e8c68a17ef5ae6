/**
 * Who reads which part of a group's log (DESIGN: DS delivery): one row per
 * stay of a client in a group, with the client's acknowledged position.
 */
import { sql } from "kysely";
import { bytes, chunk, int, intOrNull, type Handle } from "../handle.js";
import type { MembershipCursor, MembershipRepository, ReadEntry } from "../dsStore.js";
import { logEntryFromRow } from "./groups.js";
import type { ClientId } from "../store.js";

export class Memberships implements MembershipRepository {
  constructor(private readonly h: Handle) {}

  async members(groupId: Uint8Array): Promise<ClientId[]> {
    const rows = await this.h.db().selectFrom("group_membership").select("client_id").where("group_id", "=", groupId).where("left_seq", "is", null).orderBy("client_id").execute();
    return rows.map((r) => int(r.client_id) as ClientId);
  }

  async isMember(groupId: Uint8Array, clientId: ClientId): Promise<boolean> {
    const r = await this.h
      .db()
      .selectFrom("group_membership")
      .select("client_id")
      .where("group_id", "=", groupId)
      .where("client_id", "=", clientId)
      .where("left_seq", "is", null)
      .executeTakeFirst();
    return r !== undefined;
  }

  async join(groupId: Uint8Array, clients: readonly ClientId[], epoch: number, seq: number): Promise<void> {
    for (const part of chunk(clients, 200)) {
      if (part.length === 0) continue;
      await this.h
        .db()
        .insertInto("group_membership")
        .values(part.map((c) => ({ group_id: groupId, client_id: c, joined_epoch: epoch, joined_seq: seq, left_seq: null, acked_seq: seq })))
        .execute();
    }
    await this.recount(groupId);
  }

  async leave(groupId: Uint8Array, clients: readonly ClientId[], seq: number): Promise<void> {
    for (const part of chunk(clients, 200)) {
      if (part.length === 0) continue;
      await this.h.db().updateTable("group_membership").set({ left_seq: seq }).where("group_id", "=", groupId).where("client_id", "in", part).where("left_seq", "is", null).execute();
    }
    await this.recount(groupId);
  }

  private async recount(groupId: Uint8Array): Promise<void> {
    await sql`update groups set member_count = (select count(*) from group_membership m where m.group_id = ${groupId} and m.left_seq is null) where group_id = ${groupId}`.execute(
      this.h.db(),
    );
  }

  async groupsOf(clientId: ClientId): Promise<Uint8Array[]> {
    const rows = await this.h.db().selectFrom("group_membership").select("group_id").where("client_id", "=", clientId).where("left_seq", "is", null).execute();
    return rows.map((r) => bytes(r.group_id));
  }

  async revokedMembers(): Promise<ClientId[]> {
    const rows = await this.h
      .db()
      .selectFrom("group_membership as m")
      .innerJoin("clients as c", "c.id", "m.client_id")
      .select("m.client_id")
      .distinct()
      .where("m.left_seq", "is", null)
      .where("c.revoked_at", "is not", null)
      .orderBy("m.client_id")
      .execute();
    return rows.map((r) => int(r.client_id) as ClientId);
  }

  async unread(clientId: ClientId): Promise<MembershipCursor[]> {
    const rows = await this.h
      .db()
      .selectFrom("group_membership as m")
      .innerJoin("groups as g", "g.group_id", "m.group_id")
      .select(["m.group_id", "m.joined_seq", "m.left_seq", "m.acked_seq", "g.next_seq", "g.first_seq"])
      .where("m.client_id", "=", clientId)
      .where((eb) => eb.or([eb.and([eb("m.left_seq", "is", null), eb("m.acked_seq", "<", sql<number>`g.next_seq - 1`)]), eb("m.acked_seq", "<", eb.ref("m.left_seq"))]))
      .orderBy("m.group_id")
      .orderBy("m.joined_seq")
      .execute();
    return rows.map((r) => ({
      groupId: bytes(r.group_id),
      joinedSeq: int(r.joined_seq),
      leftSeq: intOrNull(r.left_seq),
      ackedSeq: int(r.acked_seq),
      lastSeq: int(r.next_seq) - 1,
      firstSeq: int(r.first_seq),
    }));
  }

  async read(groupId: Uint8Array, after: number, through: number, limit: number, reader: ClientId): Promise<ReadEntry[]> {
    const rows = await this.h
      .db()
      .selectFrom("group_log")
      .select(["group_id", "seq", "kind", "epoch", "content_type", "sender_client_id", "created_at"])
      // A sender does not get its own messages back, nor anyone a dropped commit; their positions still count for cursors.
      .select(sql<Uint8Array | null>`case when sender_client_id = ${reader} or dropped_at is not null then null else message end`.as("message"))
      .where("group_id", "=", groupId)
      .where("seq", ">", after)
      .where("seq", "<=", through)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...logEntryFromRow(r), message: r.message === null ? null : bytes(r.message) }));
  }

  async ack(clientId: ClientId, groupId: Uint8Array, upTo: number): Promise<boolean> {
    const db = this.h.db();
    const g = await db.selectFrom("groups").select("next_seq").where("group_id", "=", groupId).executeTakeFirst();
    if (g === undefined) return false;
    const to = Math.min(upTo, int(g.next_seq) - 1);
    // Each stay takes the acknowledgement up to its own end; a stay that began after `to` is untouched.
    const r = await db
      .updateTable("group_membership")
      .set({ acked_seq: sql`case when left_seq is not null and left_seq < ${to} then left_seq else ${to} end` })
      .where("client_id", "=", clientId)
      .where("group_id", "=", groupId)
      .where("acked_seq", "<", to)
      .where((eb) => eb.or([eb("left_seq", "is", null), eb("acked_seq", "<", eb.ref("left_seq"))]))
      .executeTakeFirst();
    const moved = Number(r.numUpdatedRows) > 0;
    // A removed client that has read its removal is done with the group.
    if (moved)
      await db
        .deleteFrom("group_membership")
        .where("client_id", "=", clientId)
        .where("group_id", "=", groupId)
        .where("left_seq", "is not", null)
        .where("acked_seq", ">=", sql<number>`left_seq`)
        .execute();
    return moved;
  }

  async unreadTotal(): Promise<number> {
    const r = await sql<{ n: number | string | null }>`select sum(coalesce(m.left_seq, g.next_seq - 1) - m.acked_seq) as n
        from group_membership m join groups g on g.group_id = m.group_id`.execute(this.h.db());
    return int(r.rows[0]?.n ?? 0);
  }
}
