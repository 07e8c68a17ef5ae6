/**
 * Migration "0004_account_security" (issue 23): tables of
 * repositories/accountSecurity.ts. Additive only: no existing table changes.
 * The new tables do not reference accounts, so the unused-account sweep can
 * delete an account first (guarded against a racing registration) and its
 * rows after.
 */
import type { Kysely, Migration } from "kysely";
import type { StorageEngine } from "./store.js";

export function accountSecurityMigration(engine: StorageEngine): Migration {
  const bytes = engine === "postgres" ? "bytea" : "blob";
  const autoId = (c: import("kysely").ColumnDefinitionBuilder) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey());
  const idType = engine === "postgres" ? "bigserial" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("client_auth_keys")
        .addColumn("client_id", "bigint", (c) => c.primaryKey().references("clients.id"))
        .addColumn("auth_key", bytes, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("account_recovery")
        .addColumn("user_name", "text", (c) => c.primaryKey())
        .addColumn("code_hash", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("invites")
        .addColumn("token_hash", bytes, (c) => c.primaryKey())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("used_at", "bigint")
        .addColumn("used_by", "text")
        .execute();

      await db.schema
        .createTable("device_approvals")
        .addColumn("id", idType, autoId)
        .addColumn("user_name", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("cipher_suite", "integer", (c) => c.notNull())
        .addColumn("signature_key", bytes, (c) => c.notNull())
        .addColumn("auth_key", bytes, (c) => c.notNull())
        .addColumn("approver_client_id", "bigint", (c) => c.notNull())
        .addColumn("signature", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("used_at", "bigint")
        .execute();
      await db.schema.createIndex("device_approvals_device").on("device_approvals").columns(["user_name", "device_id"]).execute();

      await db.schema
        .createTable("device_events")
        .addColumn("id", idType, autoId)
        .addColumn("user_name", "text", (c) => c.notNull())
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("signature_key", bytes, (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("log_index", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("device_events_user").on("device_events").columns(["user_name", "id"]).execute();
      await db.schema.createIndex("accounts_created").on("accounts").column("created_at").execute();
    },
  };
}
