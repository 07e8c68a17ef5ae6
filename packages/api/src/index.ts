/**
 * @conclave/api — the wire contract between Conclave servers (DS + AS) and
 * clients: JSON request/response types, error codes, base64url, the
 * authentication signing format and transparency-log proof verification.
 * Pure TypeScript, no I/O: runs in Node and browsers.
 */
export * from "./base64url.js";
export * from "./errors.js";
export * from "./identity.js";
export * from "./auth.js";
export * from "./x25519.js";
export * from "./accounts.js";
export * from "./credentials.js";
export * from "./transparency.js";
export * from "./routes.js";
export * from "./ds.js";
export * from "./groupPolicy.js";
