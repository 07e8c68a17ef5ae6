/** The key schedule (RFC 9420 §8) and the secret tree (§9). */
export * from "./keySchedule.js";
export * from "./pskSecret.js";
export * from "./secretTree.js";
export * from "./senderData.js";
export * from "./transcriptHash.js";
