/**
 * What a Client takes from its runtime, Node edition (package.json "imports"
 * maps `#platform` here by default and to browser/platform.ts under the
 * "browser" condition): the default crypto provider and the DS push stream.
 */
import type { StreamOpener } from "./stream.js";

export { nodeCryptoProvider as defaultProvider } from "@conclave/mls/node";

/** The DS /v1/stream WebSocket through `ws`, which can send the bearer token as a header. */
export const openStream: StreamOpener = async (url, token, onMessage) => {
  const { WebSocket } = await import("ws");
  const sock = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  sock.on("message", (data) => onMessage(String(data)));
  sock.on("error", () => undefined); // polling covers a stream that fails
  return { close: () => sock.close() };
};
