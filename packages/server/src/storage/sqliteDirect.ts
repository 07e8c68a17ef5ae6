/**
 * The SQLite connection's hot path without Kysely: prepared better-sqlite3
 * statements run directly, for the statements every message runs (token
 * lookup, the group log writer; handle.ts runSql). Kysely's driver call costs
 * several promise hops and a statement-cache lookup per query; a direct call
 * on a free connection is one synchronous native call.
 *
 * One connection, one lock: SQLite has a single connection per store, and a
 * transaction is a state of that connection, so a statement run while another
 * caller's transaction is open would run inside it. Kysely's driver and the
 * direct statements therefore take the same FIFO lock ({@link ConnectionLock}):
 * Kysely for each query or transaction, a direct statement outside a
 * transaction for its single call (synchronously when the lock is free).
 * Inside a transaction (whose handle holds the lock) direct statements run as
 * they are.
 */
import type BetterSqlite3 from "better-sqlite3";
import { CompiledQuery, SqliteDriver, type DatabaseConnection } from "kysely";

/** A FIFO lock: waiters get it in arrival order, handed over directly on release. */
export class ConnectionLock {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  /** True when taken at once; otherwise a promise that resolves once the lock is ours. */
  tryAcquire(): true | Promise<void> {
    if (!this.held) {
      this.held = true;
      return true;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async acquire(): Promise<void> {
    const got = this.tryAcquire();
    if (got !== true) await got;
  }

  release(): void {
    const next = this.waiters.shift();
    if (next === undefined) this.held = false;
    else next(); // still held: ownership passes to the next waiter
  }
}

/** What a direct statement returns: the rows of a reader, the changed rows of a writer. */
export interface DirectResult<R> {
  readonly rows: R[];
  readonly changes: number;
}

/** Statements kept prepared (hot-path texts are few; the bound keeps odd callers from growing it). */
const MAX_STATEMENTS = 128;

export class SqliteDirect {
  readonly lock = new ConnectionLock();
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly db: BetterSqlite3.Database) {}

  private prepare(text: string): BetterSqlite3.Statement {
    let s = this.statements.get(text);
    if (s === undefined) {
      s = this.db.prepare(text);
      if (this.statements.size >= MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value as string);
      this.statements.set(text, s);
    }
    return s;
  }

  /** Runs one statement; the caller holds the lock (inside a transaction). */
  runLocked<R>(text: string, parameters: readonly unknown[]): DirectResult<R> {
    const s = this.prepare(text);
    if (s.reader) return { rows: s.all(...parameters) as R[], changes: 0 };
    return { rows: [], changes: s.run(...parameters).changes };
  }

  /**
   * Runs `fn` in a transaction of its own (BEGIN IMMEDIATE .. COMMIT, rolled
   * back when it throws), holding the connection's lock throughout: for the
   * group commit's batches, whose statements are all direct (`fn` runs them
   * with {@link runLocked}), without Kysely's transaction machinery.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const got = this.lock.tryAcquire();
    if (got !== true) await got;
    try {
      this.runLocked("begin immediate", []);
      try {
        const result = await fn();
        this.runLocked("commit", []);
        return result;
      } catch (e) {
        // SQLite may have rolled back already (some errors end the transaction themselves).
        if (this.db.inTransaction) this.runLocked("rollback", []);
        throw e;
      }
    } finally {
      this.lock.release();
    }
  }

  /** Runs one statement outside any transaction, under the connection's lock. */
  async run<R>(text: string, parameters: readonly unknown[]): Promise<DirectResult<R>> {
    const got = this.lock.tryAcquire();
    if (got !== true) await got;
    try {
      return this.runLocked<R>(text, parameters);
    } finally {
      this.lock.release();
    }
  }
}

/**
 * Kysely's SQLite driver behind the shared lock: a query or a transaction
 * holds it from acquiring the connection to releasing it. (Kysely's own mutex,
 * inside, is then never contended.) Transactions begin IMMEDIATE (sqlite.ts).
 */
export class LockedSqliteDriver extends SqliteDriver {
  constructor(
    config: ConstructorParameters<typeof SqliteDriver>[0],
    private readonly lock: ConnectionLock,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire();
    try {
      return await super.acquireConnection();
    } catch (e) {
      this.lock.release();
      throw e;
    }
  }

  override async releaseConnection(): Promise<void> {
    try {
      await super.releaseConnection();
    } finally {
      this.lock.release();
    }
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}
