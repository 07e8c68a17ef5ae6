/**
 * Migration "0007_opaque_groups" (issue 17 item 5, RFC 9750 §5.3): groups
 * whose handshakes are encrypted. `groups.opaque_suite` is the cipher suite
 * of such a group (null for a group the DS validates); `group_log.dropped_at`
 * marks a commit a member proved invalid (ds/opaqueGroups.ts), which no
 * reader receives any more; `group_log.group_info` the GroupInfo an opaque
 * commit came with (signed by its poster), which anchors the GroupContext of
 * the epoch it starts when a report is checked. Additive: existing groups stay validated ones.
 */
import type { Kysely, Migration } from "kysely";
import type { StorageEngine } from "./store.js";

export function opaqueGroupsMigration(engine: StorageEngine): Migration {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("groups").addColumn("opaque_suite", "integer").execute();
      await db.schema.alterTable("group_log").addColumn("dropped_at", "bigint").execute();
      await db.schema.alterTable("group_log").addColumn("group_info", bytes).execute();
    },
  };
}
