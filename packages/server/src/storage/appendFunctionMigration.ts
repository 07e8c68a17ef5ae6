/**
 * Migration "0009_append_function": on PostgreSQL, a PL/pgSQL function that
 * appends a batch of entries to a group's log — moves `next_seq` past them
 * (guarded by the position read under the group's lock) and inserts the rows —
 * in one round trip instead of two or more (repositories/groupLog.ts). Batches
 * of the group commit (ds/logWriter.ts) call it once per group.
 *
 * The function is created in the schema the migration runs in (the
 * connection's search_path) and names its tables unqualified, as every other
 * statement of the store does. SQLite has no server-side functions and needs
 * none: its statements are local calls (storage/sqliteDirect.ts).
 */
import { sql, type Kysely, type Migration } from "kysely";
import type { StorageEngine } from "./store.js";

/** The function's name, as repositories/groupLog.ts calls it. */
export const APPEND_FUNCTION = "conclave_append_group_log";

export function appendFunctionMigration(engine: StorageEngine): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (engine !== "postgres") return;
      // Positions first_seq .. first_seq + n - 1; raises (rolling the caller's transaction back) when the group's
      // next position is not first_seq, i.e. the caller did not hold the group's lock since reading it.
      await sql
        .raw(
          `create or replace function ${APPEND_FUNCTION}(
             p_group_id bytea, p_first_seq bigint, p_kinds text[], p_epochs bigint[], p_content_types integer[],
             p_senders bigint[], p_messages bytea[], p_created_at bigint[]
           ) returns void language plpgsql as $fn$
           declare n integer := coalesce(array_length(p_messages, 1), 0);
           begin
             if n = 0 then return; end if;
             update groups set next_seq = p_first_seq + n where group_id = p_group_id and next_seq = p_first_seq;
             if not found then
               raise exception 'storage: the group''s next position moved under its lock';
             end if;
             insert into group_log (group_id, seq, kind, epoch, content_type, sender_client_id, message, created_at)
               select p_group_id, p_first_seq + i - 1, p_kinds[i], p_epochs[i], p_content_types[i], p_senders[i], p_messages[i], p_created_at[i]
               from generate_subscripts(p_messages, 1) as i;
           end
           $fn$`,
        )
        .execute(db);
    },
  };
}
