/**
 * Unused accounts expire (issue 23): an account on which no device
 * registered within `unusedAccountTtlMs` of its creation is deleted by a
 * background sweep, and its name can be claimed again. Expired invites and
 * device approvals go in the same sweep.
 */
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";

const BATCH = 500;

export class AccountSweeper {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly unusedAccountTtlMs: number,
  ) {}

  /** One pass; returns the names of the deleted accounts. */
  async sweep(): Promise<string[]> {
    const now = this.clock();
    const deleted: string[] = [];
    for (;;) {
      const batch = await this.store.transaction((tx) => tx.accountSecurity.deleteUnusedAccounts(now - this.unusedAccountTtlMs, BATCH));
      deleted.push(...batch);
      if (batch.length < BATCH) break;
    }
    await this.store.accountSecurity.purgeExpired(now);
    return deleted;
  }

  /** Runs `sweep` every `intervalMs` in the background (the timer does not keep the process alive). */
  start(intervalMs: number, onError: (e: unknown) => void): void {
    if (intervalMs <= 0 || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.running !== undefined) return;
      this.running = this.sweep()
        .catch(onError)
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
