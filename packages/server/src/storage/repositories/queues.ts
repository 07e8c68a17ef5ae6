/** Per-client durable delivery queues (RFC 9750 §5: the DS fans messages out to each member). */
import { bytes, chunk, int, type Handle } from "../handle.js";
import type { NewQueueEntry, QueueEntry, QueueKind, QueueRepository } from "../dsStore.js";
import type { ClientId } from "../store.js";

export class Queues implements QueueRepository {
  constructor(private readonly h: Handle) {}

  async enqueue(entries: readonly NewQueueEntry[]): Promise<void> {
    for (const part of chunk(entries, 1000)) {
      if (part.length === 0) continue;
      await this.h
        .db()
        .insertInto("client_queue")
        .values(part.map((e) => ({ client_id: e.clientId, kind: e.kind, group_id: e.groupId, epoch: e.epoch, message: e.message, created_at: e.createdAt })))
        .execute();
    }
  }

  async fetch(clientId: ClientId, after: number, limit: number): Promise<QueueEntry[]> {
    const rows = await this.h.db().selectFrom("client_queue").selectAll().where("client_id", "=", clientId).where("id", ">", after).orderBy("id").limit(limit).execute();
    return rows.map((r) => ({
      id: int(r.id),
      clientId: int(r.client_id) as ClientId,
      kind: r.kind as QueueKind,
      groupId: bytes(r.group_id),
      epoch: int(r.epoch),
      message: bytes(r.message),
      createdAt: int(r.created_at),
    }));
  }

  async ack(clientId: ClientId, upTo: number): Promise<number> {
    const r = await this.h.db().deleteFrom("client_queue").where("client_id", "=", clientId).where("id", "<=", upTo).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async size(): Promise<number> {
    const r = await this.h
      .db()
      .selectFrom("client_queue")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .executeTakeFirstOrThrow();
    return int(r.n);
  }
}
