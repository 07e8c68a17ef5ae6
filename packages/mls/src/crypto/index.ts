/** The crypto API: the cipher suite abstraction and the providers. */
export * from "./cipherSuite.js";
export { nodeCryptoProvider } from "./node/index.js";
