/**
 * Retention of what the DS keeps for readers (DESIGN: DS delivery): a group
 * message everyone has read stays `readMs` (clients that lost a race catch up
 * from the handshake log), anything unread stays at most `unreadMs` (a reader
 * that comes back later is told of the gap: QueueResponse.gaps). A background
 * job enforces both.
 */
import type { Clock } from "../crypto.js";
import type { RetentionResult } from "../storage/dsStore.js";
import type { Store } from "../storage/store.js";

/** How long the DS keeps delivered messages (DeliveryServiceOptions.retention). */
export interface RetentionOptions {
  /** How long a message every reader acknowledged is kept (default 7 days). */
  readonly readMs: number;
  /** How long anything unacknowledged is kept (default 30 days). */
  readonly unreadMs: number;
  /** How often the job runs (default every minute). */
  readonly intervalMs: number;
}

/**
 * Retention from CONCLAVE_RETENTION_READ_DAYS and CONCLAVE_RETENTION_UNREAD_DAYS
 * (positive numbers of days; the defaults where unset). Throws a RangeError naming
 * the variable for anything else, so a typo stops the server instead of keeping
 * messages for a surprising time.
 */
export function retentionFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Partial<RetentionOptions> {
  const days = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number of days, got ${JSON.stringify(v)}`);
    return n * 86_400_000;
  };
  const readMs = days("CONCLAVE_RETENTION_READ_DAYS");
  const unreadMs = days("CONCLAVE_RETENTION_UNREAD_DAYS");
  return { ...(readMs === undefined ? {} : { readMs }), ...(unreadMs === undefined ? {} : { unreadMs }) };
}

export const DEFAULT_RETENTION: RetentionOptions = { readMs: 7 * 86_400_000, unreadMs: 30 * 86_400_000, intervalMs: 60_000 };

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionResult> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly options: RetentionOptions,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /** One pass now (a pass already running is joined, not doubled). */
  runOnce(): Promise<RetentionResult> {
    if (this.running !== undefined) return this.running;
    const now = this.clock();
    const pass = this.store.transaction((tx) => tx.retention.prune(now - this.options.readMs, now - this.options.unreadMs));
    this.running = pass.finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.runOnce().catch(this.onError), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
