/** Tree structure shared by the ratchet tree and the secret tree. */
export * from "./treeMath.js";
/** The ratchet tree (RFC 9420 §4, §7), its hashes, validation and TreeKEM. */
export * from "./ratchetTree.js";
export * from "./parentHash.js";
export * from "./leafNodeValidation.js";
export * from "./treeValidation.js";
export * from "./privateTreeKeys.js";
export * from "./treeKem.js";
