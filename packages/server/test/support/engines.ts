/**
 * The storage engines every server test runs against (describe.each over
 * ENGINES). SQLite always runs (in memory). PostgreSQL runs when reachable at
 * CONCLAVE_TEST_PG (default postgres://postgres@127.0.0.1:5432/test); each
 * opened store lives in its own freshly created schema, dropped on dispose, so
 * concurrent test runs never see each other's rows. Locally an unreachable
 * PostgreSQL skips those tests with one loud line; with CI=true it fails.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createPostgresStore, createSqliteStore, type StorageEngine, type Store } from "../../src/storage/index.js";

export const PG_URL = process.env.CONCLAVE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export const POSTGRES_AVAILABLE = await postgresReachable();

if (!POSTGRES_AVAILABLE) {
  if (process.env.CI === "true") {
    throw new Error(`CI=true but PostgreSQL is not reachable at ${PG_URL}: the PostgreSQL engine tests must run in CI`);
  }
  console.warn(`\n!!!!! PostgreSQL not reachable at ${PG_URL}: PostgreSQL engine tests SKIPPED (set CONCLAVE_TEST_PG, or CI=true to fail) !!!!!\n`);
}

export interface TestStore {
  readonly store: Store;
  /** Closes the store and removes what it created (the PostgreSQL schema). */
  dispose(): Promise<void>;
}

export interface TestEngine {
  readonly name: StorageEngine;
  readonly available: boolean;
  open(): Promise<TestStore>;
}

export function freshSchemaName(): string {
  return `conclave_test_${process.pid}_${randomBytes(6).toString("hex")}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

export const SQLITE: TestEngine = {
  name: "sqlite",
  available: true,
  async open() {
    const store = await createSqliteStore({ path: ":memory:" });
    return { store, dispose: () => store.close() };
  },
};

export const POSTGRES: TestEngine = {
  name: "postgres",
  available: POSTGRES_AVAILABLE,
  async open() {
    const schema = freshSchemaName();
    const store = await createPostgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
    return {
      store,
      async dispose() {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
};

export const ENGINES: readonly TestEngine[] = [SQLITE, POSTGRES];
