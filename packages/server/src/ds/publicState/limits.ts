/**
 * Per-group size limits on what the DS validates and stores (issue 17 item
 * 6): a proposal or commit over its limit is refused before any signature
 * is checked, and an epoch holds a bounded number of pending proposals, so
 * no catch-up page can be made to grow without bound.
 */
import { ApiError } from "@conclave/api";

/** Size limits the DS enforces per group on handshake messages (DeliveryServiceOptions.handshakeLimits). */
export interface HandshakeLimits {
  /** Largest MLSMessage carrying a proposal (an Add carries a KeyPackage: a few KB with X.509 chains). */
  readonly maxProposalBytes: number;
  /** Largest MLSMessage carrying a commit (proposals by value and an UpdatePath with one ciphertext per resolution node). */
  readonly maxCommitBytes: number;
  /** Largest MLSMessage(GroupInfo) (it may carry the whole ratchet tree). */
  readonly maxGroupInfoBytes: number;
  /** Proposals the DS caches in one epoch before refusing more. */
  readonly maxPendingProposals: number;
}

export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = Object.freeze({
  maxProposalBytes: 64 * 1024,
  maxCommitBytes: 4 * 1024 * 1024,
  maxGroupInfoBytes: 8 * 1024 * 1024,
  maxPendingProposals: 256,
});

export function resolveLimits(partial: Partial<HandshakeLimits> | undefined): HandshakeLimits {
  const l = { ...DEFAULT_HANDSHAKE_LIMITS, ...partial };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`handshake limit ${k} must be a non-negative integer, got ${v}`);
  }
  return l;
}

/** HANDSHAKE_TOO_LARGE when `bytes` is over `max`. */
export function requireWithin(what: string, bytes: Uint8Array, max: number): void {
  if (bytes.length > max) throw new ApiError("HANDSHAKE_TOO_LARGE", `${what} of ${bytes.length} bytes is over the group's limit of ${max}`);
}
