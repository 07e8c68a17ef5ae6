/**
 * Limits on account creation per client IP and per network prefix (IPv4 /24,
 * IPv6 /48), and on recovery-code guesses per user name: token buckets
 * (http/rateLimit.ts), in this process's memory until the server shares its
 * rate-limit store (Redis or PostgreSQL) with them, so N processes enforce
 * one limit. A refusal is 429 RATE_LIMITED.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { Clock } from "../crypto.js";
import { RateLimitError } from "../http/errors.js";
import { MemoryBucketStore, type BucketStore, type TokenBucketConfig } from "../http/rateLimit.js";

/** The /24 of an IPv4 address, the /48 of an IPv6 one (IPv4-mapped IPv6 counts as IPv4). */
export function networkPrefix(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped?.[1] ?? ip;
  if (isIPv4(v4)) return `${v4.split(".").slice(0, 3).join(".")}.0/24`;
  if (!isIPv6(ip)) return ip;
  const [head = "", tail = ""] = ip.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = ip.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = ip.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  return `${groups
    .slice(0, 3)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/48`;
}

function refuse(what: string, retryAfterMs: number): RateLimitError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new RateLimitError(seconds, `too many ${what}; retry after ${seconds} s`);
}

export class AccountLimits {
  private buckets: BucketStore;

  constructor(
    clock: Clock,
    private readonly perIp: TokenBucketConfig | false,
    private readonly perPrefix: TokenBucketConfig | false,
    private readonly recovery: TokenBucketConfig | false,
  ) {
    this.buckets = new MemoryBucketStore(clock);
  }

  /** Keeps the buckets in `store` from now on (the server's shared rate-limit store). */
  share(store: BucketStore): void {
    this.buckets = store;
  }

  /** Takes one account creation for `ip`; throws RATE_LIMITED when its address or prefix is spent. */
  async creation(ip: string): Promise<void> {
    for (const [config, key] of [
      [this.perIp, `ip:${ip}`],
      [this.perPrefix, `prefix:${networkPrefix(ip)}`],
    ] as const) {
      if (config === false) continue;
      const r = await this.buckets.take(`as:create:${key}`, config);
      if (!r.ok) throw refuse("account creations from this network", r.retryAfterMs);
    }
  }

  /** Takes one recovery-code attempt for `user`. */
  async recoveryAttempt(user: string): Promise<void> {
    if (this.recovery === false) return;
    const r = await this.buckets.take(`as:recovery:${user}`, this.recovery);
    if (!r.ok) throw refuse("recovery-code attempts for this user", r.retryAfterMs);
  }
}
