/** Storage: the Store interface and its two engines. */
import { createPostgresStore, type PostgresStoreOptions } from "./postgres.js";
import { createSqliteStore, type SqliteStoreOptions } from "./sqlite.js";
import type { Store } from "./store.js";

export * from "./store.js";
export { StoreMisuseError } from "./kyselyStore.js";
export { createSqliteStore, type SqliteStoreOptions } from "./sqlite.js";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres.js";

/** Where createConclaveServer (or {@link openStore}) opens its store: a SQLite file or a PostgreSQL database. */
export type StoreConfig = ({ engine: "sqlite" } & SqliteStoreOptions) | ({ engine: "postgres" } & PostgresStoreOptions);

/** Opens (and migrates) the configured engine. */
export function openStore(config: StoreConfig): Promise<Store> {
  return config.engine === "postgres" ? createPostgresStore(config) : createSqliteStore(config);
}
