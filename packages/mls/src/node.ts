/**
 * `@conclave/mls/node`: the node:crypto provider, the fast path on Node.
 * Kept out of the main entry point so browser bundles never see node:crypto.
 */
export { nodeAesGcmBackend, nodeCryptoProvider, nodeEd25519Backend } from "./crypto/node/index.js";
