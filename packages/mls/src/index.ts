/**
 * @conclave/mls — RFC 9420 Messaging Layer Security. Pure functions and state
 * machines over bytes: no I/O, runs unchanged in Node and browsers.
 */
export * from "./errors.js";
export * from "./codec/index.js";
export * from "./crypto/cipherSuite.js";
export { webCryptoProvider, createWebCryptoProvider, type WebCryptoProviderOptions } from "./crypto/web/index.js";
export * from "./tree/index.js";
export * from "./schedule/index.js";
export * from "./messages/index.js";
export * from "./framing/index.js";
export * from "./welcome/index.js";
export * from "./group/index.js";
export * from "./group/public/index.js";
