/**
 * Migration "0005_public_group_state" (issue 17): the DS keeps each group's
 * validated public state (ratchet tree, GroupContext, pending proposals and
 * the latest GroupInfo; ds/publicState), sealed at rest when the server has a
 * key-encryption key; and the tree of each epoch a Welcome was sent for, so
 * a joiner whose Welcome carries no tree can take it from the DS even after
 * the group moved on. Additive: groups created before it have no state and
 * take no handshakes (GROUP_STATE_MISSING).
 */
import type { Kysely, Migration } from "kysely";
import type { StorageEngine } from "./store.js";

export function publicStateMigration(engine: StorageEngine): Migration {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("groups").addColumn("public_state", bytes).execute();
      await db.schema
        .createTable("group_welcome_trees")
        .addColumn("group_id", bytes, (c) => c.notNull())
        .addColumn("epoch", "bigint", (c) => c.notNull())
        .addColumn("tree", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("group_welcome_trees_pk", ["group_id", "epoch"])
        .execute();
    },
  };
}
