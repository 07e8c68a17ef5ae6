/**
 * The Store implementation shared by both engines: the repositories
 * (repositories/*.ts) are written once against Kysely; the engine modules
 * (sqlite.ts, postgres.ts) supply the dialect, the driver settings and the
 * few engine-specific bits (row locking for the transparency log).
 *
 * To add a repository: implement it over a `Handle` (handle.ts) in
 * repositories/, add it to `Repositories` (store.ts) and to `repositories()` below.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Kysely } from "kysely";
import type { Database } from "./schema.js";
import { registerHandle, type Handle } from "./handle.js";
import type { SqliteDirect } from "./sqliteDirect.js";
import { Accounts } from "./repositories/accounts.js";
import { AccountSecurity } from "./repositories/accountSecurity.js";
import { Auth } from "./repositories/auth.js";
import { Clients } from "./repositories/clients.js";
import { Credentials } from "./repositories/credentials.js";
import { Groups } from "./repositories/groups.js";
import { KeyPackages } from "./repositories/keyPackages.js";
import { Memberships } from "./repositories/memberships.js";
import { Queues } from "./repositories/queues.js";
import { Retention } from "./repositories/retention.js";
import { ServerKeys } from "./repositories/serverKeys.js";
import { Transparency } from "./repositories/transparency.js";
import type { Repositories, StorageEngine, Store, StoreTx } from "./store.js";

function repositories(h: Handle): Repositories {
  return {
    accounts: new Accounts(h),
    clients: new Clients(h),
    accountSecurity: new AccountSecurity(h),
    auth: new Auth(h),
    credentials: new Credentials(h),
    transparency: new Transparency(h),
    keys: new ServerKeys(h),
    keyPackages: new KeyPackages(h),
    groups: new Groups(h),
    memberships: new Memberships(h),
    queues: new Queues(h),
    retention: new Retention(h),
  };
}

/** Marks the async context of a running transaction callback. */
const insideTransaction = new AsyncLocalStorage<true>();
/** Transaction callbacks running now (of every KyselyStore of the process). */
let running = 0;

/**
 * Runs a transaction's callback marked as inside it. Once none runs, the mark
 * is switched off (`disable`, re-enabled by the next `run`): while on, Node 20
 * puts a hook on every promise of the process, which the hot path (direct
 * SQLite statements, no store transaction) would otherwise pay on every request
 * for ever after the first transaction. A continuation a callback left behind
 * that outlives every transaction is then no longer marked, and may use the store.
 */
async function runInside<T>(fn: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await insideTransaction.run(true, fn);
  } finally {
    if (--running === 0) insideTransaction.disable();
  }
}

export class StoreMisuseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreMisuseError";
  }
}

/** The repositories of a KyselyStore are assigned in its constructor (declaration merging types them). */
export interface KyselyStore extends Repositories {}

/** A Store over a Kysely instance; `onClose` releases the engine (pool, file); `direct`: SQLite's direct statements. */
export class KyselyStore implements Store {
  private closed = false;

  constructor(
    readonly engine: StorageEngine,
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void>,
    private readonly direct?: SqliteDirect,
  ) {
    const root: Handle = {
      engine,
      ...(direct === undefined ? {} : { sqlite: { direct, locked: false } }),
      db: () => {
        if (insideTransaction.getStore() === true) {
          throw new StoreMisuseError("store used inside one of its own transactions: use the `tx` passed to the callback");
        }
        return db;
      },
    };
    Object.assign(this, repositories(root));
    registerHandle(this, root);
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (insideTransaction.getStore() === true) {
      return Promise.reject(new StoreMisuseError("nested store.transaction: call tx.transaction inside a transaction"));
    }
    return this.db.transaction().execute((trx) => {
      // SQLite: the transaction holds the connection's lock (its driver took it), so direct statements run as they are.
      const handle: Handle = { engine: this.engine, db: () => trx, ...(this.direct === undefined ? {} : { sqlite: { direct: this.direct, locked: true } }) };
      const tx: StoreTx = { ...repositories(handle), transaction: (inner) => inner(tx) };
      registerHandle(tx, handle);
      return runInside(() => fn(tx));
    });
  }

  /** Deliveries not yet acknowledged: unread group-log positions of every stay, and direct entries (the metrics' queue depth). */
  async collectQueueDepth(): Promise<number> {
    return (await this.memberships.unreadTotal()) + (await this.queues.size());
  }

  async ping(): Promise<void> {
    await this.transparency.size();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
    await this.onClose();
  }
}
