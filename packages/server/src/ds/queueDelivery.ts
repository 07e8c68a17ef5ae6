/**
 * Per-client durable queues (DESIGN: DS fan-out): entries are written in the
 * same transaction that accepted the message and deleted only when the client
 * acknowledges them, so nothing is lost while a client is offline or across a
 * restart. Delivery is at-least-once: a client de-duplicates by entry id.
 */
import { toBase64Url, type QueueEntryJson } from "@conclave/api";
import type { QueueEntry } from "../storage/dsStore.js";
import type { ClientId, Store } from "../storage/store.js";

export const MAX_QUEUE_PAGE = 500;

export function queueEntryJson(e: QueueEntry): QueueEntryJson {
  return { id: e.id, kind: e.kind, groupId: toBase64Url(e.groupId), epoch: e.epoch, message: toBase64Url(e.message), createdAt: e.createdAt };
}

export class QueueDelivery {
  constructor(private readonly store: Store) {}

  async fetch(client: ClientId, after: number, limit: number): Promise<QueueEntry[]> {
    return this.store.queues.fetch(client, after, Math.max(1, Math.min(limit, MAX_QUEUE_PAGE)));
  }

  async ack(client: ClientId, upTo: number): Promise<number> {
    return this.store.queues.ack(client, upTo);
  }
}
