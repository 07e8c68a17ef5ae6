/** @conclave/client — one device's identity, KeyPackages, groups and messages over the Conclave DS/AS. */
export { Client, type ClientOptions } from "./client.js";
export { memberIdentity, safetyNumber, type ClientEvent, type DeviceChangeEvent } from "./events.js";
export type { DeviceAuditResult } from "./deviceAudit.js";
export { FileStore } from "./fileStore.js";
export { MemoryStore, StoreError, type ClientStore } from "./store.js";
export { HttpTransport, type RequestOptions } from "./transport.js";
// Runs wherever an IndexedDB factory is (browsers; Node with fake-indexeddb): one API for both entries.
export { DEFAULT_PBKDF2_ITERATIONS, IndexedDbStore, type IndexedDbFactory, type IndexedDbStoreOptions, type StoreWrite } from "./browser/indexedDbStore.js";
