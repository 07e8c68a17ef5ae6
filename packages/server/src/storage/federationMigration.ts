/**
 * Migration "0008_federation" (issue 22): what server-to-server federation keeps.
 *
 * - federation_nonces: every accepted request nonce per origin domain until its
 *   timestamp leaves the accepted window (replay protection survives restarts and
 *   is shared by every process on one database).
 * - federation_peers: the pinned signing key of each peer domain, how it was
 *   pinned (configured or first contact) and when.
 * - federation_events: pins, key changes (accepted or refused), refused requests.
 * - (The hub's outbox is no table of its own: what a member of another domain
 *   is owed waits in its stand-in client's queue, federation/hubPush.ts.)
 * - federation_inbox: deliveries a follower already applied, per origin (a hash of
 *   recipient, source and position), so a retried delivery is never applied twice.
 * - federation_logs: each peer's transparency-log key (pinned like its domain
 *   key) and the last tree head verified, so every later head must be proven
 *   consistent with it (RFC 9162 §2.1.4).
 * - federation_groups: the hub of each group a follower hears of, so its users'
 *   requests for that group are forwarded there.
 */
import { type Kysely, type Migration } from "kysely";
import type { StorageEngine } from "./store.js";

export function federationMigration(engine: StorageEngine): Migration {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const autoId = engine === "postgres" ? "bigserial" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("federation_nonces")
        .addColumn("origin", "text", (c) => c.notNull())
        .addColumn("nonce", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("federation_nonces_pk", ["origin", "nonce"])
        .execute();
      await db.schema.createIndex("federation_nonces_expiry").on("federation_nonces").column("expires_at").execute();

      await db.schema
        .createTable("federation_peers")
        .addColumn("domain", "text", (c) => c.primaryKey())
        .addColumn("signature_key", bytes, (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("pinned_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("federation_logs")
        .addColumn("domain", "text", (c) => c.primaryKey())
        .addColumn("log_key", bytes, (c) => c.notNull())
        .addColumn("tree_size", "bigint", (c) => c.notNull())
        .addColumn("root_hash", bytes)
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("federation_events")
        .addColumn("id", autoId, (c) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("domain", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("detail", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("federation_inbox")
        .addColumn("origin", "text", (c) => c.notNull())
        .addColumn("delivery_key", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("federation_inbox_pk", ["origin", "delivery_key"])
        .execute();
      await db.schema.createIndex("federation_inbox_age").on("federation_inbox").column("received_at").execute();

      await db.schema
        .createTable("federation_groups")
        .addColumn("group_id", bytes, (c) => c.primaryKey())
        .addColumn("hub", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
  };
}
