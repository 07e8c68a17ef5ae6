export * from "./tls.js";
export * from "./bytes.js";
