/** @conclave/client — one device's identity, KeyPackages, groups and messages over the Conclave DS/AS. */
export { Client, memberIdentity, type ClientEvent, type ClientOptions } from "./client.js";
export { FileStore, MemoryStore, type ClientStore } from "./store.js";
export { HttpTransport, type RequestOptions } from "./transport.js";
