/**
 * The crypto API: the cipher suite abstraction and both providers.
 * Browser bundles should import ./web/index.js directly (or rely on
 * tree-shaking): ./node/index.js imports node:crypto.
 */
export * from "./cipherSuite.js";
export { nodeCryptoProvider } from "./node/index.js";
export { createWebCryptoProvider, webCryptoProvider } from "./web/index.js";
