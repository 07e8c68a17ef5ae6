/**
 * @conclave/client in browsers (package.json "exports" → "browser"): the same
 * Client, with the WebCrypto provider and the browser WebSocket as defaults
 * (#platform → browser/platform.ts) and an encrypted IndexedDB store in place
 * of the Node file store. No node: module is reachable from here.
 */
export { Client, type ClientOptions } from "../client.js";
export { memberIdentity, safetyNumber, type ClientEvent, type DeviceChangeEvent } from "../events.js";
export type { DeviceAuditResult } from "../deviceAudit.js";
export { MemoryStore, StoreError, type ClientStore } from "../store.js";
export { HttpTransport, type RequestOptions } from "../transport.js";
export { DEFAULT_PBKDF2_ITERATIONS, IndexedDbStore, type IndexedDbFactory, type IndexedDbStoreOptions, type StoreWrite } from "./indexedDbStore.js";
