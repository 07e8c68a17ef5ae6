/**
 * `@conclave/mls/node`: the node:crypto provider, the fast path on Node.
 * Kept out of the main entry point so browser bundles never see node:crypto.
 */
export { nodeCryptoProvider, nodeEd25519Backend, nodeNativeCryptoInUse } from "./crypto/node/index.js";
