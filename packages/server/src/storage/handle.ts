/**
 * What a Kysely repository works on: the engine name and the database handle
 * (the root Kysely instance, or the transaction's). Shared helpers normalise
 * what the two drivers return. New repositories (the DS's) build on this.
 */
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.js";
import type { StorageEngine } from "./store.js";

export type Db = Kysely<Database> | Transaction<Database>;

export interface Handle {
  readonly engine: StorageEngine;
  db(): Db;
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
