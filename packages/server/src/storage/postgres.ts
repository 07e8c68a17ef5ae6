/**
 * The production engine: PostgreSQL through a pg connection pool, shared by
 * any number of server processes.
 *
 * - `schema` puts every table in one PostgreSQL schema (created if missing)
 *   through the connection's search_path: tests give each run its own schema.
 * - int8 columns come back as JavaScript numbers (checked to be safe
 *   integers), bytea as bytes, exactly like the SQLite engine.
 * - Isolation is READ COMMITTED; the transparency log serialises appends with
 *   SELECT ... FOR UPDATE on its state row.
 */
import pg from "pg";
import { Kysely, PostgresDialect } from "kysely";
import { KyselyStore } from "./kyselyStore.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** e.g. postgres://user@host:5432/db */
  readonly connectionString: string;
  /** Schema holding the tables (default "public"). Must match /^[a-z_][a-z0-9_]*$/. */
  readonly schema?: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** Give up connecting after this many ms (default 5000). */
  readonly connectTimeoutMs?: number;
}

const INT8_OID = 20;
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`storage: int8 value ${text} exceeds 2^53-1`);
  return n;
}

/** pg's built-in parsers; its typings say `any`, and what a parser is stays opaque here. */
const builtinParser = pg.types.getTypeParser as (oid: number, format?: "text" | "binary") => unknown;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === INT8_OID && format !== "binary" ? parseInt8 : builtinParser(oid, format))) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * Connects a pool to PostgreSQL, creates `schema` if needed and migrates it
 * to the latest version (concurrent starters wait on the migration lock).
 * @throws Error for an invalid schema name, when the database cannot be reached, or when a migration fails.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? "public";
  if (!SCHEMA_RE.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    options: `-c search_path=${schema}`,
    types,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (schema !== "public") await createSchemaIfMissing(pool, schema);
    await migrateToLatest(db as Kysely<unknown>, "postgres", schema);
  } catch (e) {
    await db.destroy();
    throw e;
  }
  return new KyselyStore("postgres", db, async () => {});
}

/**
 * CREATE ... IF NOT EXISTS is not safe against itself: two processes starting at once can both
 * try, and one fails on the catalog's unique index. Runs `statement` in a transaction holding
 * the advisory lock named `lock`, so creators of the same object take turns.
 */
export async function ddlUnderLock(pool: pg.Pool, lock: string, statement: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query("begin");
    await c.query("select pg_advisory_xact_lock(hashtext($1))", [lock]);
    await c.query(statement);
    await c.query("commit");
  } catch (e) {
    await c.query("rollback").catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Every creator of a schema (a store, another process's rate-limit table) takes one lock. */
export function createSchemaIfMissing(pool: pg.Pool, schema: string): Promise<void> {
  return ddlUnderLock(pool, "conclave_create_schema", `create schema if not exists "${schema}"`);
}
