/**
 * What a Client takes from its runtime, browser edition (selected by the
 * "browser" condition of package.json "imports" `#platform`): the WebCrypto
 * provider and the DS push stream over the browser's own WebSocket.
 */
import type { StreamOpener } from "../stream.js";

export { webCryptoProvider as defaultProvider } from "@conclave/mls";

/**
 * A browser WebSocket cannot set headers, so the bearer token rides in the
 * query (`?token=`, which the DS stream accepts for browsers, ds/stream.ts).
 */
export const openStream: StreamOpener = async (url, token, onMessage) => {
  const u = new URL(url);
  u.searchParams.set("token", token);
  const sock = new WebSocket(u.toString());
  sock.addEventListener("message", (e) => onMessage(typeof e.data === "string" ? e.data : ""));
  return { close: () => sock.close() };
};
