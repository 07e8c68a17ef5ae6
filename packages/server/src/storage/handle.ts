/**
 * What a Kysely repository works on: the engine name and the database handle
 * (the root Kysely instance, or the transaction's). Shared helpers normalise
 * what the two drivers return. New repositories (the DS's) build on this.
 */
import { CompiledQuery, type Kysely, type Transaction } from "kysely";
import type { Database } from "./schema.js";
import type { SqliteDirect } from "./sqliteDirect.js";
import type { StorageEngine } from "./store.js";

export type Db = Kysely<Database> | Transaction<Database>;

export interface Handle {
  readonly engine: StorageEngine;
  db(): Db;
  /**
   * SQLite: the connection's direct statements (sqliteDirect.ts), and whether
   * this handle's caller holds the connection's lock (a transaction's handle).
   */
  readonly sqlite?: { readonly direct: SqliteDirect; readonly locked: boolean };
}

/** Drivers hand back Buffers (sometimes views into shared pools): give callers their own plain copy. */
export function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** Integer columns: SQLite gives numbers, our PostgreSQL type parser too; be strict anyway. */
export function int(v: unknown): number {
  const n = typeof v === "string" || typeof v === "bigint" ? Number(v) : (v as number);
  if (!Number.isSafeInteger(n)) throw new Error(`storage: integer column out of range: ${String(v)}`);
  return n;
}

export function intOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : int(v);
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const placeholders = new Map<string, string>();

/**
 * Runs hand-written SQL with `?` placeholders (rewritten to `$1..$n` on PostgreSQL),
 * skipping Kysely's query building and compiling: for the statements every
 * message runs (authentication, the group log writer). Goes through the same
 * connection (and SQLite's connection lock) as every other query of `h`.
 */
export async function runSql<R>(h: Handle, text: string, parameters: readonly unknown[]): Promise<{ rows: R[]; changes: number }> {
  if (h.sqlite !== undefined) {
    // Prepared better-sqlite3 statements, under the lock Kysely's driver takes too (sqliteDirect.ts).
    if (h.sqlite.locked) return h.sqlite.direct.runLocked<R>(text, parameters);
    h.db(); // the misuse check: the root handle inside one of its own transactions throws
    return h.sqlite.direct.run<R>(text, parameters);
  }
  let sqlText = text;
  if (h.engine === "postgres") {
    const cached = placeholders.get(text);
    if (cached === undefined) {
      let i = 0;
      sqlText = text.replace(/\?/g, () => `$${++i}`);
      placeholders.set(text, sqlText);
    } else sqlText = cached;
  }
  const r = await h.db().executeQuery<R>(CompiledQuery.raw(sqlText, parameters as unknown[]));
  return { rows: r.rows, changes: Number(r.numAffectedRows ?? 0n) };
}

/** The handle behind each store and each running transaction's `tx` (kyselyStore.ts registers them). */
const handles = new WeakMap<object, Handle>();

export function registerHandle(repos: object, h: Handle): void {
  handles.set(repos, h);
}

/**
 * The handle of a KyselyStore or of one of its transactions' `tx`, for storage
 * modules with hand-written hot-path statements (repositories/groupLog.ts,
 * repositories/auth.ts). Throws for any other object.
 */
export function handleOf(repos: object): Handle {
  const h = findHandle(repos);
  if (h === undefined) throw new Error("storage: not a KyselyStore nor one of its transactions");
  return h;
}

/** The handle of a KyselyStore or of one of its transactions' `tx`; undefined for another Store implementation. */
export function findHandle(repos: object): Handle | undefined {
  return handles.get(repos);
}
