/**
 * What the WebSocket push of one process reads of a group per round
 * (ds/groupFeed.ts): the log's new entries, once for every connected member,
 * and the current roster that says who may have them. Hand-written
 * statements (handle.ts runSql): they run on every push round.
 */
import type { LogEntry } from "../dsStore.js";
import { bytes, handleOf, int, runSql } from "../handle.js";
import type { GroupLogTable } from "../schema.js";
import { logEntryFromRow } from "./groups.js";
import type { ClientId, Store } from "../store.js";

/** A current member's stay: it reads the log's entries after `joinedSeq`. */
export type CurrentRoster = ReadonlyMap<ClientId, number>;

/** What the feed selects of a log row: the row (but the opaque group's GroupInfo) and whether it was dropped. */
type LogRow = Omit<GroupLogTable, "dropped_at" | "group_info"> & { dropped: unknown };

/** A log entry as the feed reads it; `dropped`: an opaque group's commit a member proved invalid (nobody receives it). */
export type FeedLogEntry = LogEntry & { readonly dropped: boolean };

export class GroupFeedReader {
  constructor(private readonly store: Store) {}

  /** The group's last position (next_seq - 1); undefined when there is no such group. */
  async lastSeq(groupId: Uint8Array): Promise<number | undefined> {
    const { rows } = await runSql<{ next_seq: unknown }>(handleOf(this.store), "select next_seq from groups where group_id = ?", [groupId]);
    return rows[0] === undefined ? undefined : int(rows[0].next_seq) - 1;
  }

  /** Up to `limit` committed entries after `after`, in order (positions are visible in order: queueDelivery.ts). */
  async entriesAfter(groupId: Uint8Array, after: number, limit: number): Promise<FeedLogEntry[]> {
    const { rows } = await runSql<LogRow>(
      handleOf(this.store),
      "select group_id, seq, kind, epoch, content_type, sender_client_id, message, created_at, case when dropped_at is null then 0 else 1 end as dropped from group_log where group_id = ? and seq > ? order by seq limit ?",
      [groupId, after, limit],
    );
    return rows.map((r) => ({ ...logEntryFromRow(r), message: bytes(r.message), dropped: int(r.dropped) !== 0 }));
  }

  /** The members whose stay has not ended, with the position each joined at. */
  async roster(groupId: Uint8Array): Promise<CurrentRoster> {
    const { rows } = await runSql<{ client_id: unknown; joined_seq: unknown }>(
      handleOf(this.store),
      "select client_id, joined_seq from group_membership where group_id = ? and left_seq is null",
      [groupId],
    );
    return new Map(rows.map((r) => [int(r.client_id) as ClientId, int(r.joined_seq)]));
  }
}
