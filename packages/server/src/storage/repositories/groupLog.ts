/**
 * The group log's batched writer: the statements every accepted application
 * message runs (the DS's group commit, ds/logWriter.ts), written as SQL and
 * run without Kysely's query building (handle.ts runSql).
 */
import { APPEND_FUNCTION } from "../appendFunctionMigration.js";
import { chunk, handleOf, int, runSql, type Handle } from "../handle.js";
import type { LogEntry } from "../dsStore.js";
import type { ClientId, Store } from "../store.js";

/** What appending to a group's log needs of the group (its lock taken). */
export interface AppendTarget {
  readonly epoch: number;
  /** The position the next appended entry takes. */
  readonly nextSeq: number;
  readonly memberCount: number;
}

/**
 * Appends several messages to a group's log in one transaction: few
 * statements per batch instead of several per message. Call inside a
 * transaction, in this order: lock, check the senders, append.
 */
export interface GroupLogWriterRepository {
  /**
   * Locks the group until the transaction ends (PostgreSQL: its row; SQLite
   * holds its write lock from BEGIN IMMEDIATE) and reads what appending needs;
   * undefined when there is no such group.
   */
  lockForAppend(groupId: Uint8Array): Promise<AppendTarget | undefined>;
  /** Which of these clients are on the group's roster now. */
  currentMembers(groupId: Uint8Array, clients: readonly ClientId[]): Promise<Set<ClientId>>;
  /**
   * Writes the entries, whose positions must run on from the locked group's
   * `nextSeq` without a gap, and moves `next_seq` past the last one.
   */
  appendMany(groupId: Uint8Array, entries: readonly LogEntry[]): Promise<void>;
}

/**
 * Runs `fn` with the group log writer in a transaction of its own: on SQLite
 * a direct one (sqliteDirect.ts: BEGIN IMMEDIATE, the statements, COMMIT
 * under the connection's lock, no Kysely), elsewhere the store's.
 */
export function withGroupLog<T>(store: Store, fn: (log: GroupLogWriterRepository) => Promise<T>): Promise<T> {
  const h = handleOf(store);
  const direct = h.sqlite?.direct;
  if (direct === undefined) return store.transaction((tx) => fn(new GroupLog(handleOf(tx))));
  const inside: Handle = {
    engine: h.engine,
    db: () => {
      throw new Error("storage: the group log's direct transaction has no Kysely handle");
    },
    sqlite: { direct, locked: true },
  };
  return direct.transaction(() => fn(new GroupLog(inside)));
}

const COLUMNS = "(group_id, seq, kind, epoch, content_type, sender_client_id, message, created_at)";

/** Rows per SQLite insert statement at most (a power of two). */
const MAX_ROWS_PER_INSERT = 32;

/** The largest power of two that is at most `remaining` and {@link MAX_ROWS_PER_INSERT}. */
function rowsPerInsert(remaining: number): number {
  let n = MAX_ROWS_PER_INSERT;
  while (n > remaining) n >>= 1;
  return n;
}

const insertTexts = new Map<number, string>();
function insertText(rows: number): string {
  let t = insertTexts.get(rows);
  if (t === undefined) insertTexts.set(rows, (t = `insert into group_log ${COLUMNS} values ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`));
  return t;
}

function row(e: LogEntry): unknown[] {
  return [e.groupId, e.seq, e.kind, e.epoch, e.contentType, e.senderClientId, e.message, e.createdAt];
}

export class GroupLog implements GroupLogWriterRepository {
  constructor(private readonly h: Handle) {}

  async lockForAppend(groupId: Uint8Array): Promise<AppendTarget | undefined> {
    // PostgreSQL: the row lock orders this batch with commits and other processes' batches (READ COMMITTED
    // reads the latest committed row once the lock is ours). SQLite: BEGIN IMMEDIATE already serialises writers.
    const text = `select epoch, next_seq, member_count from groups where group_id = ?${this.h.engine === "postgres" ? " for update" : ""}`;
    const { rows } = await runSql<{ epoch: unknown; next_seq: unknown; member_count: unknown }>(this.h, text, [groupId]);
    const r = rows[0];
    return r === undefined ? undefined : { epoch: int(r.epoch), nextSeq: int(r.next_seq), memberCount: int(r.member_count) };
  }

  async currentMembers(groupId: Uint8Array, clients: readonly ClientId[]): Promise<Set<ClientId>> {
    const out = new Set<ClientId>();
    if (clients.length === 1) {
      // The common case (one sender in a batch): one cached statement.
      const { rows } = await runSql(this.h, "select 1 as one from group_membership where group_id = ? and client_id = ? and left_seq is null", [groupId, clients[0]]);
      if (rows.length > 0) out.add(clients[0]!);
      return out;
    }
    for (const part of chunk(clients, 500)) {
      const { rows } = await runSql<{ client_id: unknown }>(
        this.h,
        `select client_id from group_membership where group_id = ? and left_seq is null and client_id in (${part.map(() => "?").join(", ")})`,
        [groupId, ...part],
      );
      for (const r of rows) out.add(int(r.client_id) as ClientId);
    }
    return out;
  }

  async appendMany(groupId: Uint8Array, entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const first = entries[0]!.seq;
    const next = entries[entries.length - 1]!.seq + 1;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.seq !== first + i) throw new Error("storage: appended positions must be consecutive");
    if (this.h.engine === "sqlite") {
      // Guarded by the position the lock read: a caller that did not lock the group fails here instead of forking the log.
      const moved = await runSql(this.h, "update groups set next_seq = ? where group_id = ? and next_seq = ?", [next, groupId, first]);
      if (moved.changes !== 1) throw new Error("storage: the group's next position moved under its lock");
      // Several rows per statement (one native call and one step for up to 32 rows), in power-of-two chunks so
      // only six statement texts are ever prepared.
      for (let i = 0; i < entries.length;) {
        const n = rowsPerInsert(entries.length - i);
        const parameters: unknown[] = [];
        for (let k = i; k < i + n; k++) parameters.push(...row(entries[k]!));
        await runSql(this.h, insertText(n), parameters);
        i += n;
      }
      return;
    }
    // PostgreSQL: migration 0009's function moves next_seq (guarded the same way) and inserts the rows, one round trip.
    await runSql(this.h, `select ${APPEND_FUNCTION}(?, ?, ?, ?, ?, ?, ?, ?)`, [
      groupId,
      first,
      entries.map((e) => e.kind),
      entries.map((e) => e.epoch),
      entries.map((e) => e.contentType),
      entries.map((e) => e.senderClientId),
      entries.map((e) => Buffer.from(e.message.buffer, e.message.byteOffset, e.message.byteLength)),
      entries.map((e) => e.createdAt),
    ]);
  }
}
