/** Configuration of accounts and devices (issue 23), with defaults. */
import type { TokenBucketConfig } from "../http/rateLimit.js";
import type { NameProofConfig } from "./nameProof.js";
import { DEFAULT_RECOVERY_COST } from "./recoveryCode.js";

/** createConclaveServer's `accounts` option: how user names are claimed and devices managed (defaults in resolveAccountOptions). */
export interface AccountOptions {
  /** What proves the right to a user name (default: admin-made invite tokens). */
  readonly nameProof?: NameProofConfig;
  /** Enables POST /v1/admin/invites for callers presenting `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string;
  /** Lifetime of invite tokens (default 7 days). */
  readonly inviteTtlMs?: number;
  /** scrypt cost of recovery-code hashes, log2 N (default 15). */
  readonly recoveryCodeCost?: number;
  /** Wrong recovery codes tolerated per user name (default 5, then one per 10 minutes). */
  readonly recoveryAttempts?: TokenBucketConfig | false;
  /** An account on which no device registered within this time is deleted (default 7 days). */
  readonly unusedAccountTtlMs?: number;
  /** How often the sweep of unused accounts runs (default 10 minutes); 0 disables the timer. */
  readonly sweepIntervalMs?: number;
  /** Account creations per client IP (default 5, then 5 per hour); false disables. */
  readonly creationPerIp?: TokenBucketConfig | false;
  /** Account creations per IPv4 /24 or IPv6 /48 (default 20, then 20 per hour); false disables. */
  readonly creationPerPrefix?: TokenBucketConfig | false;
  /** How long a device approval waits for the new device (default 10 minutes). */
  readonly approvalTtlMs?: number;
}

export type ResolvedAccountOptions = Required<Omit<AccountOptions, "adminToken">> & { readonly adminToken: string | undefined };

const HOUR = 3600_000;

export function resolveAccountOptions(o: AccountOptions = {}): ResolvedAccountOptions {
  return {
    nameProof: o.nameProof ?? { kind: "invite" },
    adminToken: o.adminToken,
    inviteTtlMs: o.inviteTtlMs ?? 7 * 24 * HOUR,
    recoveryCodeCost: o.recoveryCodeCost ?? DEFAULT_RECOVERY_COST,
    recoveryAttempts: o.recoveryAttempts ?? { capacity: 5, refillPerSecond: 1 / 600 },
    unusedAccountTtlMs: o.unusedAccountTtlMs ?? 7 * 24 * HOUR,
    sweepIntervalMs: o.sweepIntervalMs ?? 10 * 60_000,
    creationPerIp: o.creationPerIp ?? { capacity: 5, refillPerSecond: 5 / 3600 },
    creationPerPrefix: o.creationPerPrefix ?? { capacity: 20, refillPerSecond: 20 / 3600 },
    approvalTtlMs: o.approvalTtlMs ?? 10 * 60_000,
  };
}
