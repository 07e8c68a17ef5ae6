/**
 * @conclave/mls — RFC 9420 Messaging Layer Security. Pure functions and state
 * machines over bytes: no I/O, runs unchanged in Node and browsers.
 */
export * from "./errors.js";
export * from "./codec/index.js";
export * from "./crypto/cipherSuite.js";
export * from "./messages/enums.js";
export * from "./messages/extension.js";
export * from "./messages/credential.js";
export * from "./messages/groupContext.js";
export * from "./messages/psk.js";
