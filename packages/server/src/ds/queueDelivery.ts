/**
 * A client's view of what the DS holds for it (DESIGN: DS delivery):
 * its direct queue (Welcomes) and, for every group it is or was in, the part
 * of the group's log it has not acknowledged. A group message is stored once;
 * each member reads it through its own cursor, so fan-out costs nothing at
 * send time and nothing is deleted until its reader acknowledged it.
 *
 * Loss-freedom: group positions are gap-free and visible in order (the
 * group's row lock orders writers), and a reader's cursor moves only on its
 * acknowledgement, never past the log's end. Group positions are read before
 * the direct queue, so a Welcome is always delivered no later than the first
 * message of the group it opens.
 */
import { ApiError, fromBase64Url, toBase64Url, type QueueCursor, type QueueEntryJson, type QueueGap } from "@conclave/api";
import { toHex } from "@conclave/mls";
import type { ClientId, Store } from "../storage/store.js";

export const MAX_QUEUE_PAGE = 500;
/** Message bytes in one page (at least one entry is always sent, whatever its size). */
export const MAX_QUEUE_PAGE_BYTES = 4 * 1024 * 1024;
/** Groups one acknowledgement may name. */
export const MAX_ACK_GROUPS = 1000;

/** Read positions beyond the acknowledged ones (a stream's), by group id hex. */
export interface ReadPositions {
  direct: number;
  readonly groups: Map<string, number>;
}

export function emptyPositions(): ReadPositions {
  return { direct: 0, groups: new Map() };
}

export interface QueuePage {
  readonly entries: QueueEntryJson[];
  readonly cursor: QueueCursor;
  readonly more: boolean;
  readonly gaps: QueueGap[];
}

export class QueueDelivery {
  constructor(private readonly store: Store) {}

  /**
   * The next page after the client's acknowledged positions, or after `from`
   * where it is further (a stream that already sent entries); `from` is
   * advanced to the page's end.
   */
  async fetch(client: ClientId, limitAsked: number, from: ReadPositions = emptyPositions()): Promise<QueuePage> {
    const limit = Math.max(1, Math.min(limitAsked, MAX_QUEUE_PAGE));
    const groupEntries: QueueEntryJson[] = [];
    const cursorGroups = new Map<string, { groupId: string; seq: number }>();
    const gaps: QueueGap[] = [];
    let bytes = 0;
    let scanned = 0;
    let more = false;
    // Own messages are skipped but scanned: bound the rows one page reads too.
    const full = (): boolean => groupEntries.length >= limit || bytes >= MAX_QUEUE_PAGE_BYTES || scanned >= 4 * limit;
    for (const m of await this.store.memberships.unread(client)) {
      const hex = toHex(m.groupId);
      const groupId = toBase64Url(m.groupId);
      const through = m.leftSeq ?? m.lastSeq;
      const start = Math.max(m.ackedSeq, from.groups.get(hex) ?? 0);
      if (start >= through) continue;
      if (full()) {
        more = true;
        break;
      }
      let last = start;
      // Retention deleted what this reader had not read: say so, and go on after it.
      if (last + 1 < m.firstSeq) {
        last = Math.min(m.firstSeq - 1, through);
        gaps.push({ groupId, from: start + 1, to: last });
      }
      const rows = last < through ? await this.store.memberships.read(m.groupId, last, through, limit - groupEntries.length, client) : [];
      scanned += rows.length;
      for (const r of rows) {
        if (r.message !== null) {
          if (groupEntries.length > 0 && bytes + r.message.length > MAX_QUEUE_PAGE_BYTES) break;
          bytes += r.message.length;
          groupEntries.push({ source: "group", seq: r.seq, kind: r.kind, groupId, epoch: r.epoch, message: toBase64Url(r.message), createdAt: r.createdAt });
        }
        last = r.seq;
      }
      if (last > start) {
        cursorGroups.set(hex, { groupId, seq: last });
        from.groups.set(hex, last);
      }
      if (last < through) more = true;
    }
    // After the group logs (see above): a Welcome committed meanwhile is sent now, its group's messages next time.
    const direct = full() ? [] : await this.store.queues.fetch(client, from.direct, limit - groupEntries.length);
    const entries: QueueEntryJson[] = direct.map((e) => ({
      source: "direct",
      seq: e.id,
      kind: e.kind,
      groupId: toBase64Url(e.groupId),
      epoch: e.epoch,
      message: toBase64Url(e.message),
      createdAt: e.createdAt,
    }));
    if (direct.length > 0) from.direct = direct[direct.length - 1]!.id;
    if (direct.length === limit - groupEntries.length && direct.length > 0) more = true;
    entries.push(...groupEntries);
    return { entries, cursor: { direct: from.direct, groups: [...cursorGroups.values()] }, more, gaps };
  }

  /** Acknowledges up to the cursor: direct entries are deleted, group cursors move forward. */
  async ack(client: ClientId, cursor: QueueCursor): Promise<number> {
    if (cursor.groups.length > MAX_ACK_GROUPS) throw new ApiError("BAD_REQUEST", `an acknowledgement names at most ${MAX_ACK_GROUPS} groups`);
    let n = cursor.direct > 0 ? await this.store.queues.ack(client, cursor.direct) : 0;
    for (const g of cursor.groups) {
      const groupId = fromBase64Url(g.groupId, "groupId");
      if (groupId.length === 0 || groupId.length > 255) throw new ApiError("BAD_REQUEST", "groupId must be 1..255 bytes");
      if (await this.store.memberships.ack(client, groupId, g.seq)) n++;
    }
    return n;
  }
}

/** A cursor from a stream frame (the HTTP route validates with its JSON schema). */
export function parseCursor(v: unknown): QueueCursor | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const { direct, groups } = v as { direct?: unknown; groups?: unknown };
  if (!isPosition(direct) || !Array.isArray(groups) || groups.length > MAX_ACK_GROUPS) return undefined;
  const out: QueueCursor["groups"] = [];
  for (const g of groups as unknown[]) {
    if (typeof g !== "object" || g === null) return undefined;
    const { groupId, seq } = g as { groupId?: unknown; seq?: unknown };
    if (typeof groupId !== "string" || groupId.length === 0 || groupId.length > 344 || !isPosition(seq)) return undefined;
    out.push({ groupId, seq });
  }
  return { direct, groups: out };
}

function isPosition(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
