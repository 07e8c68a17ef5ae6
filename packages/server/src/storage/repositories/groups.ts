/** DS groups: epoch (strong ordering, RFC 9750 §5.2), roster, GroupInfo and the handshake log. */
import { bytes, chunk, int, type Handle } from "../handle.js";
import type { GroupRecord, GroupRepository, HandshakeRecord, NewHandshake } from "../dsStore.js";
import type { ClientId } from "../store.js";

interface GroupRow {
  group_id: Uint8Array;
  epoch: number;
  created_by: number;
  created_at: number;
  group_info: Uint8Array | null;
  ratchet_tree: Uint8Array | null;
}

function groupFromRow(r: GroupRow): GroupRecord {
  return {
    groupId: bytes(r.group_id),
    epoch: int(r.epoch),
    createdBy: int(r.created_by) as ClientId,
    createdAt: int(r.created_at),
    groupInfo: r.group_info === null ? null : bytes(r.group_info),
    ratchetTree: r.ratchet_tree === null ? null : bytes(r.ratchet_tree),
  };
}

export class Groups implements GroupRepository {
  constructor(private readonly h: Handle) {}

  async create(groupId: Uint8Array, creator: ClientId, now: number): Promise<boolean> {
    const db = this.h.db();
    const row = await db
      .insertInto("groups")
      .values({ group_id: groupId, epoch: 0, created_by: creator, created_at: now, group_info: null, ratchet_tree: null })
      .onConflict((oc) => oc.column("group_id").doNothing())
      .returning("group_id")
      .executeTakeFirst();
    if (row === undefined) return false;
    await db.insertInto("group_members").values({ group_id: groupId, client_id: creator, joined_epoch: 0 }).execute();
    return true;
  }

  async get(groupId: Uint8Array): Promise<GroupRecord | undefined> {
    const r = await this.h.db().selectFrom("groups").selectAll().where("group_id", "=", groupId).executeTakeFirst();
    return r && groupFromRow(r);
  }

  async lock(groupId: Uint8Array): Promise<GroupRecord | undefined> {
    let q = this.h.db().selectFrom("groups").selectAll().where("group_id", "=", groupId);
    // SQLite transactions start with BEGIN IMMEDIATE (sqlite.ts): the write lock is already held.
    if (this.h.engine === "postgres") q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r && groupFromRow(r);
  }

  async advanceEpoch(groupId: Uint8Array, from: number): Promise<boolean> {
    const r = await this.h.db().updateTable("groups").set({ epoch: from + 1 }).where("group_id", "=", groupId).where("epoch", "=", from).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async setGroupInfo(groupId: Uint8Array, groupInfo: Uint8Array, ratchetTree: Uint8Array | null): Promise<void> {
    await this.h.db().updateTable("groups").set({ group_info: groupInfo, ratchet_tree: ratchetTree }).where("group_id", "=", groupId).execute();
  }

  async members(groupId: Uint8Array): Promise<ClientId[]> {
    const rows = await this.h.db().selectFrom("group_members").select("client_id").where("group_id", "=", groupId).orderBy("client_id").execute();
    return rows.map((r) => int(r.client_id) as ClientId);
  }

  async isMember(groupId: Uint8Array, clientId: ClientId): Promise<boolean> {
    const r = await this.h.db().selectFrom("group_members").select("client_id").where("group_id", "=", groupId).where("client_id", "=", clientId).executeTakeFirst();
    return r !== undefined;
  }

  async addMembers(groupId: Uint8Array, clients: readonly ClientId[], epoch: number): Promise<void> {
    for (const part of chunk(clients, 200)) {
      if (part.length === 0) continue;
      await this.h
        .db()
        .insertInto("group_members")
        .values(part.map((c) => ({ group_id: groupId, client_id: c, joined_epoch: epoch })))
        .onConflict((oc) => oc.columns(["group_id", "client_id"]).doNothing())
        .execute();
    }
  }

  async removeMembers(groupId: Uint8Array, clients: readonly ClientId[]): Promise<void> {
    for (const part of chunk(clients, 200)) {
      if (part.length === 0) continue;
      await this.h.db().deleteFrom("group_members").where("group_id", "=", groupId).where("client_id", "in", part).execute();
    }
  }

  async appendHandshake(m: NewHandshake): Promise<number> {
    const r = await this.h
      .db()
      .insertInto("group_messages")
      .values({ group_id: m.groupId, epoch: m.epoch, content_type: m.contentType, sender_client_id: m.senderClientId, message: m.message, created_at: m.createdAt })
      .returning("id")
      .executeTakeFirstOrThrow();
    return int(r.id);
  }

  async handshakesSince(groupId: Uint8Array, sinceEpoch: number, limit: number): Promise<HandshakeRecord[]> {
    const rows = await this.h.db().selectFrom("group_messages").selectAll().where("group_id", "=", groupId).where("epoch", ">=", sinceEpoch).orderBy("id").limit(limit).execute();
    return rows.map((r) => ({
      id: int(r.id),
      groupId: bytes(r.group_id),
      epoch: int(r.epoch),
      contentType: int(r.content_type),
      senderClientId: int(r.sender_client_id) as ClientId,
      message: bytes(r.message),
      createdAt: int(r.created_at),
    }));
  }
}
