/** The Welcome message (RFC 9420 §12.4.3.1) and GroupInfo signatures (§12.4.3). */
export * from "./groupInfoSignature.js";
export * from "./welcome.js";
