/**
 * Server-side crypto helpers. SHA-256 and randomness come from node:crypto;
 * MLS signatures (client authentication, tree-head signing) go through a
 * CryptoProvider so they are exactly what the MLS library computes.
 */
import { createHash, hash, randomFillSync } from "node:crypto";
import type { CryptoProvider } from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";

export const defaultCryptoProvider: CryptoProvider = nodeCryptoProvider;

// crypto.hash (Node ≥ 20.12) is one native call, without a Hash object, update and digest: every request hashes its token.
const oneShot = typeof hash === "function";

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(oneShot ? hash("sha256", data, "buffer") : createHash("sha256").update(data).digest());
}

export function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

/** Milliseconds since the Unix epoch; injected so tests control time. */
export type Clock = () => number;

/** The real clock: Date.now(). */
export const systemClock: Clock = () => Date.now();
