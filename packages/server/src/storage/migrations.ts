/**
 * Versioned schema migrations, the same for both engines (column types differ
 * only where SQL dialects do: bytes, auto-increment ids). They run at start-up
 * through Kysely's Migrator, which records applied names in its own table and
 * takes a lock, so running them again, or from two processes, is a no-op.
 *
 * Rules: never edit a migration once committed; add the next one with a
 * higher, zero-padded number ("0002_delivery_service", ...).
 */
import { inspect } from "node:util";
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { StorageEngine } from "./store.js";
import { publicStateMigration } from "./publicStateMigration.js";
import { accountSecurityMigration } from "./accountSecurityMigration.js";
import { retireAccountSecretsMigration } from "./retireAccountSecretsMigration.js";
import { opaqueGroupsMigration } from "./opaqueGroupsMigration.js";

interface ColumnTypes {
  bytes: "blob" | "bytea";
  autoId: "integer" | "bigserial";
}

function columnTypes(engine: StorageEngine): ColumnTypes {
  return engine === "postgres" ? { bytes: "bytea", autoId: "bigserial" } : { bytes: "blob", autoId: "integer" };
}

/** An auto-increment primary key column in each dialect. */
function autoIdColumn(engine: StorageEngine) {
  const t = columnTypes(engine);
  return [t.autoId, (c: import("kysely").ColumnDefinitionBuilder) => (engine === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey())] as const;
}

function asFoundation(engine: StorageEngine): Migration {
  const { bytes } = columnTypes(engine);
  const [idType, idDef] = autoIdColumn(engine);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("accounts")
        .addColumn("user_name", "text", (c) => c.primaryKey())
        .addColumn("secret_hash", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("clients")
        .addColumn("id", idType, idDef)
        .addColumn("user_name", "text", (c) => c.notNull().references("accounts.user_name"))
        .addColumn("device_id", "text", (c) => c.notNull())
        .addColumn("cipher_suite", "integer", (c) => c.notNull())
        // RFC 9750 §4: no two clients share a signature key.
        .addColumn("signature_key", bytes, (c) => c.notNull().unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .addUniqueConstraint("clients_user_device", ["user_name", "device_id"])
        .execute();

      await db.schema
        .createTable("auth_challenges")
        .addColumn("nonce", bytes, (c) => c.primaryKey())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("auth_challenges_expiry").on("auth_challenges").column("expires_at").execute();

      await db.schema
        .createTable("auth_tokens")
        .addColumn("token_hash", bytes, (c) => c.primaryKey())
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("auth_tokens_client").on("auth_tokens").column("client_id").execute();
      await db.schema.createIndex("auth_tokens_expiry").on("auth_tokens").column("expires_at").execute();

      await db.schema
        .createTable("credentials")
        .addColumn("id", idType, idDef)
        .addColumn("credential_hash", bytes, (c) => c.notNull())
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("credential_type", "integer", (c) => c.notNull())
        .addColumn("credential", bytes, (c) => c.notNull())
        .addColumn("x509_serial", "text", (c) => c.unique())
        .addColumn("not_before", "bigint", (c) => c.notNull())
        .addColumn("not_after", "bigint", (c) => c.notNull())
        .addColumn("issued_at", "bigint", (c) => c.notNull())
        .addColumn("log_index", "bigint", (c) => c.notNull().unique())
        .execute();
      await db.schema.createIndex("credentials_hash").on("credentials").column("credential_hash").execute();
      await db.schema.createIndex("credentials_client").on("credentials").column("client_id").execute();

      await db.schema
        .createTable("revocations")
        .addColumn("credential_hash", bytes, (c) => c.primaryKey())
        .addColumn("revoked_at", "bigint", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("revoked_by", "bigint", (c) => c.references("clients.id"))
        .execute();

      await db.schema
        .createTable("log_state")
        .addColumn("id", "integer", (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn("tree_size", "bigint", (c) => c.notNull())
        .execute();
      await db
        .insertInto("log_state" as never)
        .values({ id: 1, tree_size: 0 } as never)
        .execute();

      await db.schema
        .createTable("log_leaves")
        .addColumn("leaf_index", "bigint", (c) => c.primaryKey())
        .addColumn("leaf", bytes, (c) => c.notNull())
        .addColumn("appended_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("log_nodes")
        .addColumn("level", "integer", (c) => c.notNull())
        .addColumn("node_index", "bigint", (c) => c.notNull())
        .addColumn("hash", bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint("log_nodes_pk", ["level", "node_index"])
        .execute();

      await db.schema
        .createTable("log_tree_heads")
        .addColumn("tree_size", "bigint", (c) => c.primaryKey())
        .addColumn("timestamp", "bigint", (c) => c.notNull())
        .addColumn("root_hash", bytes, (c) => c.notNull())
        .addColumn("signature", bytes, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("server_keys")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("algorithm", "text", (c) => c.notNull())
        .addColumn("private_key", bytes, (c) => c.notNull())
        .addColumn("public_key", bytes, (c) => c.notNull())
        .addColumn("certificate", bytes)
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
  };
}

/** RFC 9750 §5: the Delivery Service's KeyPackage directory, groups, rosters, handshake log and client queues. */
function deliveryService(engine: StorageEngine): Migration {
  const { bytes } = columnTypes(engine);
  const [idType, idDef] = autoIdColumn(engine);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("key_packages")
        .addColumn("id", idType, idDef)
        .addColumn("ref", bytes, (c) => c.notNull().unique())
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("cipher_suite", "integer", (c) => c.notNull())
        .addColumn("last_resort", "integer", (c) => c.notNull())
        .addColumn("key_package", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("claimed_at", "bigint")
        .execute();
      await db.schema.createIndex("key_packages_claim").on("key_packages").columns(["client_id", "cipher_suite", "last_resort", "claimed_at"]).execute();

      await db.schema
        .createTable("groups")
        .addColumn("group_id", bytes, (c) => c.primaryKey())
        .addColumn("epoch", "bigint", (c) => c.notNull())
        .addColumn("created_by", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("group_info", bytes)
        .addColumn("ratchet_tree", bytes)
        .execute();

      await db.schema
        .createTable("group_members")
        .addColumn("group_id", bytes, (c) => c.notNull().references("groups.group_id"))
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("joined_epoch", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("group_members_pk", ["group_id", "client_id"])
        .execute();
      await db.schema.createIndex("group_members_client").on("group_members").column("client_id").execute();

      await db.schema
        .createTable("group_messages")
        .addColumn("id", idType, idDef)
        .addColumn("group_id", bytes, (c) => c.notNull().references("groups.group_id"))
        .addColumn("epoch", "bigint", (c) => c.notNull())
        .addColumn("content_type", "integer", (c) => c.notNull())
        .addColumn("sender_client_id", "bigint", (c) => c.notNull())
        .addColumn("message", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("group_messages_epoch").on("group_messages").columns(["group_id", "epoch"]).execute();

      await db.schema
        .createTable("client_queue")
        .addColumn("id", idType, idDef)
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("group_id", bytes, (c) => c.notNull())
        .addColumn("epoch", "bigint", (c) => c.notNull())
        .addColumn("message", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("client_queue_client").on("client_queue").columns(["client_id", "id"]).execute();
    },
  };
}

/**
 * Store-once delivery (DESIGN: DS delivery): a group message is stored once in
 * group_log at a gap-free position taken under the group's row lock, and each
 * member reads it through its own cursor (group_membership) instead of getting
 * a copy in its queue. client_queue keeps entries for one client (Welcomes).
 *
 * Existing data: the handshake log becomes the start of each group's log; the
 * current members' cursors start after it (its messages were already copied to
 * their queues, and those queued copies are still delivered as direct entries).
 */
function storeOnceDelivery(engine: StorageEngine): Migration {
  const { bytes } = columnTypes(engine);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("group_log")
        .addColumn("group_id", bytes, (c) => c.notNull().references("groups.group_id"))
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("epoch", "bigint", (c) => c.notNull())
        .addColumn("content_type", "integer", (c) => c.notNull())
        .addColumn("sender_client_id", "bigint", (c) => c.notNull())
        .addColumn("message", bytes, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("group_log_pk", ["group_id", "seq"])
        .execute();
      await db.schema.createIndex("group_log_created").on("group_log").column("created_at").execute();
      // Catch-up reads only the handshakes of a log that may hold many application messages.
      await db.schema.createIndex("group_log_handshakes").on("group_log").columns(["group_id", "kind", "seq"]).execute();
      await sql`insert into group_log (group_id, seq, kind, epoch, content_type, sender_client_id, message, created_at)
        select group_id, row_number() over (partition by group_id order by id), 'handshake', epoch, content_type, sender_client_id, message, created_at
        from group_messages`.execute(db);

      await db.schema
        .alterTable("groups")
        .addColumn("next_seq", "bigint", (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema
        .alterTable("groups")
        .addColumn("first_seq", "bigint", (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema
        .alterTable("groups")
        .addColumn("member_count", "bigint", (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update groups set
        next_seq = coalesce((select max(seq) from group_log l where l.group_id = groups.group_id), 0) + 1,
        member_count = (select count(*) from group_members m where m.group_id = groups.group_id)`.execute(db);

      await db.schema
        .createTable("group_membership")
        .addColumn("group_id", bytes, (c) => c.notNull().references("groups.group_id"))
        .addColumn("client_id", "bigint", (c) => c.notNull().references("clients.id"))
        .addColumn("joined_epoch", "bigint", (c) => c.notNull())
        .addColumn("joined_seq", "bigint", (c) => c.notNull())
        .addColumn("left_seq", "bigint")
        .addColumn("acked_seq", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("group_membership_pk", ["group_id", "client_id", "joined_seq"])
        .execute();
      // At most one current stay per client and group.
      await db.schema.createIndex("group_membership_current").on("group_membership").columns(["group_id", "client_id"]).unique().where(sql.ref("left_seq"), "is", null).execute();
      await db.schema.createIndex("group_membership_client").on("group_membership").columns(["client_id", "group_id"]).execute();
      await sql`insert into group_membership (group_id, client_id, joined_epoch, joined_seq, left_seq, acked_seq)
        select m.group_id, m.client_id, m.joined_epoch, g.next_seq - 1, null, g.next_seq - 1
        from group_members m join groups g on g.group_id = m.group_id`.execute(db);

      await db.schema.dropTable("group_members").execute();
      await db.schema.dropTable("group_messages").execute();
    },
  };
}

/** Every migration, by name; names sort in the order they must run. */
export function migrations(engine: StorageEngine): Record<string, Migration> {
  return {
    "0001_as_foundation": asFoundation(engine),
    "0002_delivery_service": deliveryService(engine),
    "0004_account_security": accountSecurityMigration(engine),
    "0003_store_once_delivery": storeOnceDelivery(engine),
    "0005_public_group_state": publicStateMigration(engine),
    "0006_retire_account_secrets": retireAccountSecretsMigration(),
    "0007_opaque_groups": opaqueGroupsMigration(engine),
  };
}

export const MIGRATION_TABLE = "conclave_migrations";
export const MIGRATION_LOCK_TABLE = "conclave_migrations_lock";

/** Brings the schema up to date. Throws if any migration fails (the failed one is rolled back). */
export async function migrateToLatest(db: Kysely<unknown>, engine: StorageEngine, schema?: string): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Migrations are additive and independent: one written on a branch may land after a higher-numbered one
    // (0005 after 0006), and a database that already ran the higher one must still take it.
    allowUnorderedMigrations: true,
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`storage migration ${failed} failed: ${error instanceof Error ? error.message : inspect(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
