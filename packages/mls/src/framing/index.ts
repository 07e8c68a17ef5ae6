/** Message framing and protection (RFC 9420 §6): content signing, PublicMessage and PrivateMessage. */
export * from "./context.js";
export * from "./contentAuth.js";
export * from "./publicMessage.js";
export * from "./privateMessage.js";
export * from "./privateMessageOpen.js";
