/**
 * The embedded engine: SQLite through better-sqlite3, one file (or ":memory:"
 * for tests), zero set-up.
 *
 * - WAL journal: readers in other processes (backups, a second server reading)
 *   do not block the writer.
 * - busy_timeout: a writer in another process makes us wait, not fail.
 * - Transactions start with BEGIN IMMEDIATE, taking the write lock up front,
 *   so two processes can never both read a value and then race to update it
 *   (a deferred transaction would fail with SQLITE_BUSY at the upgrade).
 * - foreign_keys on; prepared statements cached.
 * - The hot-path statements run on the connection directly, under the lock
 *   Kysely's driver takes too (sqliteDirect.ts).
 */
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Dialect, type SqliteDatabase, type SqliteStatement } from "kysely";
import { KyselyStore } from "./kyselyStore.js";
import { migrateToLatest } from "./migrations.js";
import { LockedSqliteDriver, SqliteDirect } from "./sqliteDirect.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** File path, or ":memory:" (the default) for a private in-memory database. */
  readonly path?: string;
  /** How long a write waits for another process's lock, in ms (default 5000). */
  readonly busyTimeoutMs?: number;
}

/** better-sqlite3 compiles a statement on every prepare(); keep the recent ones. */
function withStatementCache(db: BetterSqlite3.Database, max = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt !== undefined) {
        cache.delete(sql); // re-insert: Map order is our LRU order
      } else {
        stmt = db.prepare(sql) as unknown as SqliteStatement;
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/**
 * Opens (or creates) a SQLite database file in WAL mode, or a private
 * in-memory one, and migrates it to the latest version.
 * @throws Error (better-sqlite3's) when the file cannot be opened or is not a database; Error when a migration fails.
 */
export async function createSqliteStore(options: SqliteStoreOptions = {}): Promise<Store> {
  const path = options.path ?? ":memory:";
  const raw = new BetterSqlite3(path);
  try {
    raw.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (path !== ":memory:") raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL"); // durable across application crashes in WAL mode
    raw.pragma("foreign_keys = ON");
  } catch (e) {
    raw.close();
    throw e;
  }
  const database = withStatementCache(raw);
  const direct = new SqliteDirect(raw);
  const dialect: Dialect = {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new LockedSqliteDriver({ database }, direct.lock),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
  const db = new Kysely<Database>({ dialect });
  try {
    await migrateToLatest(db as Kysely<unknown>, "sqlite");
  } catch (e) {
    await db.destroy();
    throw e;
  }
  return new KyselyStore("sqlite", db, async () => {}, direct);
}
