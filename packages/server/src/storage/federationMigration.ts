/**
 * Migration "0008_federation" (issue 22): what server-to-server federation keeps.
 *
 * - federation_nonces: every accepted request nonce per origin domain until its
 *   timestamp leaves the accepted window (replay protection survives restarts and
 *   is shared by every process on one database).
 * - federation_peers: the pinned signing key of each peer domain, how it was
 *   pinned (configured or first contact) and when.
 * - federation_events: pins, key changes (accepted or refused), refused requests.
 * - federation_outbox: what a hub owes a follower domain, delivered in id order
 *   and retried until acknowledged.
 * - federation_inbox: deliveries a follower already applied, per origin (a hash of
 *   recipient, source and position), so a retried delivery is never applied twice.
 * - federation_logs: each peer's transparency-log key (pinned like its domain
 *   key) and the last tree head verified, so every later head must be proven
 *   consistent with it (RFC 9162 §2.1.4).
 * - federation_groups / federation_group_domains: a group's hub and the domains
 *   with members in it (a domain acts only for groups it has members in).
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
        .createTable("federation_outbox")
        .addColumn("id", autoId, (c) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey()))
        .addColumn("peer", "text", (c) => c.notNull())
        .addColumn("group_id", bytes, (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("body", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "bigint")
        .execute();
      await db.schema.createIndex("federation_outbox_peer").on("federation_outbox").columns(["peer", "delivered_at", "id"]).execute();

      await db.schema
        .createTable("federation_inbox")
        .addColumn("origin", "text", (c) => c.notNull())
        .addColumn("delivery_key", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("federation_inbox_pk", ["origin", "delivery_key"])
        .execute();

      await db.schema
        .createTable("federation_groups")
        .addColumn("group_id", bytes, (c) => c.primaryKey())
        .addColumn("hub", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("federation_group_domains")
        .addColumn("group_id", bytes, (c) => c.notNull())
        .addColumn("domain", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("federation_group_domains_pk", ["group_id", "domain"])
        .execute();
    },
  };
}
