/** Retention of the group logs and the direct queues (DESIGN: DS delivery). */
import { sql } from "kysely";
import type { Handle } from "../handle.js";
import type { RetentionRepository, RetentionResult } from "../dsStore.js";

export class Retention implements RetentionRepository {
  constructor(private readonly h: Handle) {}

  async prune(readBefore: number, unreadBefore: number): Promise<RetentionResult> {
    const db = this.h.db();
    // Read by every current and departing reader of the group (a group nobody reads keeps nothing unread).
    const read = await sql`delete from group_log where created_at < ${readBefore} and seq <= coalesce(
        (select min(m.acked_seq) from group_membership m where m.group_id = group_log.group_id), seq)`.execute(db);
    const unread = await db.deleteFrom("group_log").where("created_at", "<", unreadBefore).executeTakeFirst();
    await sql`update groups set first_seq = coalesce((select min(l.seq) from group_log l where l.group_id = groups.group_id), next_seq)
        where first_seq <> coalesce((select min(l.seq) from group_log l where l.group_id = groups.group_id), next_seq)`.execute(db);
    // A removed client whose removal is no longer in the log has nothing left to read.
    const gone = await sql`delete from group_membership where left_seq is not null and left_seq < (select g.first_seq from groups g where g.group_id = group_membership.group_id)`.execute(
      db,
    );
    const queued = await db.deleteFrom("client_queue").where("created_at", "<", unreadBefore).executeTakeFirst();
    // A Welcome's tree lives as long as the Welcome may still be unread.
    await db.deleteFrom("group_welcome_trees").where("created_at", "<", unreadBefore).execute();
    return {
      logEntries: Number(read.numAffectedRows ?? 0n) + Number(unread.numDeletedRows),
      queueEntries: Number(queued.numDeletedRows),
      memberships: Number(gone.numAffectedRows ?? 0n),
    };
  }
}
