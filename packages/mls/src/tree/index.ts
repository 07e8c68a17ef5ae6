/** Tree structure shared by the ratchet tree and the secret tree. */
export * from "./treeMath.js";
