/**
 * Token buckets in PostgreSQL, for server processes that already share one
 * database and have no Redis.
 *
 * A take is one statement: INSERT ... ON CONFLICT DO UPDATE. PostgreSQL locks
 * the conflicting row for the update, so concurrent takes on one bucket are
 * serialised and each sees the previous one's result: two processes never both
 * spend the last token. Time comes from the database (clock_timestamp()), so
 * processes with skewed clocks still refill at one rate.
 *
 * The table is UNLOGGED (rate-limit state need not survive a crash, and
 * skipping the WAL keeps a take cheap) and lives beside the store's tables in
 * the same schema; it is not part of the store's migrations because it holds
 * no data worth migrating: CREATE ... IF NOT EXISTS on first use. Rows of
 * buckets that are full again are deleted in the background.
 *
 * The store uses a pool of its own (2 connections by default) rather than the
 * Store's: a flood of requests being refused must not starve the queries that
 * serve the ones being accepted.
 */
import pg from "pg";
import { createSchemaIfMissing, ddlUnderLock } from "../../storage/postgres.js";
import type { BucketStore, TakeResult, TokenBucketConfig } from "../rateLimit.js";

/** Options of {@link PostgresBucketStore.open}. */
export interface PostgresBucketStoreOptions {
  readonly connectionString: string;
  /** Schema of the table (default "public"); the same pattern as the store's. */
  readonly schema?: string;
  /** Table name (default "rate_limit_buckets"). */
  readonly table?: string;
  /** Pool size (default 2). */
  readonly maxConnections?: number;
  /** How often full buckets are deleted (default 60 s; 0 disables). */
  readonly sweepEveryMs?: number;
}

const NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)";

/** Token buckets in a PostgreSQL table, shared by every process using it. `open` throws Error for an invalid schema or table name. */
export class PostgresBucketStore implements BucketStore {
  readonly kind = "postgres";
  private readonly takeSql: string;
  private readonly sweepSql: string;
  private sweeper: NodeJS.Timeout | undefined;
  private created: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly qualified: string,
  ) {
    const table = qualified;
    // $1 key, $2 capacity, $3 refill per second. The clock is read once, into the proposed row
    // (excluded.updated_at); `refilled` is the stored bucket after refill, before the take.
    const refilled = `least($2::float8, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * $3::float8 / 1000)`;
    const after = `case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end`;
    // Two takes read the clock before either locks the row, so the later one to lock may carry
    // the earlier time: the bucket's time only moves forward, or that span would refill twice.
    const now = `greatest(b.updated_at, excluded.updated_at)`;
    this.takeSql = `
      insert into ${table} as b (key, tokens, updated_at, full_at, granted)
      values ($1, $2::float8 - 1, ${NOW_MS}, ${NOW_MS} + 1000 / $3::float8, true)
      on conflict (key) do update set
        granted = ${refilled} >= 1,
        tokens = ${after},
        full_at = ${now} + ($2::float8 - ${after}) * 1000 / $3::float8,
        updated_at = ${now}
      returning granted, tokens`;
    this.sweepSql = `delete from ${table} where full_at < ${NOW_MS}`;
  }

  /**
   * Creates the table in the background: a database that is not there yet fails takes
   * (the server then limits per process) rather than the server's start.
   * @throws Error for a schema or table name that is not a plain lower-case SQL identifier.
   */
  static open(o: PostgresBucketStoreOptions): PostgresBucketStore {
    const schema = o.schema ?? "public";
    const table = o.table ?? "rate_limit_buckets";
    if (!NAME_RE.test(schema) || !NAME_RE.test(table)) throw new Error(`invalid schema or table name ${JSON.stringify(`${schema}.${table}`)}`);
    const pool = new pg.Pool({ connectionString: o.connectionString, max: o.maxConnections ?? 2, connectionTimeoutMillis: 2000 });
    pool.on("error", () => undefined); // an idle connection dropping must not crash the process
    const store = new PostgresBucketStore(pool, schema, `"${schema}"."${table}"`);
    store.ready().catch(() => undefined);
    const every = o.sweepEveryMs ?? 60_000;
    if (every > 0) {
      store.sweeper = setInterval(() => void store.sweep().catch(() => undefined), every);
      store.sweeper.unref();
    }
    return store;
  }

  /** The table exists (created once; a failed attempt is retried by the next caller). */
  ready(): Promise<void> {
    this.created ??= createTable(this.pool, this.schema, this.qualified).catch((e: unknown) => {
      this.created = undefined;
      throw e;
    });
    return this.created;
  }

  /**
   * Takes a token from bucket `key` in one upsert (atomic across processes).
   * @throws Error (pg's) while the database fails; FailoverBucketStore then limits per process.
   */
  async take(key: string, config: TokenBucketConfig): Promise<TakeResult> {
    await this.ready();
    const r = await this.pool.query<{ granted: boolean; tokens: number }>(this.takeSql, [key, config.capacity, config.refillPerSecond]);
    const row = r.rows[0];
    if (row === undefined) throw new Error("rate-limit upsert returned no row");
    if (row.granted) return { ok: true };
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((1 - Number(row.tokens)) / config.refillPerSecond) * 1000)) };
  }

  /** Deletes the rows of buckets that are full again (they behave like absent ones); returns how many went. */
  async sweep(): Promise<number> {
    await this.ready();
    return (await this.pool.query(this.sweepSql)).rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.pool.end();
  }
}

/** The schema, then the table, each created under its advisory lock (storage/postgres.ts). */
async function createTable(pool: pg.Pool, schema: string, qualified: string): Promise<void> {
  await createSchemaIfMissing(pool, schema);
  await ddlUnderLock(
    pool,
    "conclave_rate_limit_buckets_ddl",
    `create unlogged table if not exists ${qualified} (key text primary key, tokens float8 not null, updated_at float8 not null, full_at float8 not null, granted boolean not null)`,
  );
}
