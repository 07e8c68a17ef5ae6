/**
 * The revocation sweep (issue 17 item 3, robustness): revocation reaches a
 * group through one Remove proposal from the DS (externalSender.ts), sent when
 * the AS announces the revocation. That proposal can be lost: the process can
 * die between the revocation and the fan-out, or a commit that does not cover
 * it ends its epoch (RFC 9420 §12.4: proposals do not outlive their epoch).
 * At start-up and then periodically, the sweep finds every revoked client
 * still on a group's roster and proposes its removal again wherever no such
 * proposal of the DS is pending in the current epoch (revocation.ts refuses
 * to send a duplicate).
 */
import type { ClientRecord, Store } from "../storage/store.js";

/** Default period of the sweep: five minutes. */
export const DEFAULT_REVOCATION_SWEEP_MS = 5 * 60_000;

/**
 * The sweep's period from DeliveryServiceOptions.revocationSweepMs: a positive
 * whole number of milliseconds (at most a day), or false for none. Anything
 * else is a RangeError, so a typo stops the server instead of leaving revoked
 * devices in groups.
 */
export function revocationSweepPeriod(value: number | false | undefined): number | false {
  if (value === undefined) return DEFAULT_REVOCATION_SWEEP_MS;
  if (value === false) return false;
  if (!Number.isSafeInteger(value) || value <= 0 || value > 86_400_000) {
    throw new RangeError(`ds.revocationSweepMs must be a whole number of milliseconds in 1..86400000 or false, got ${String(value)}`);
  }
  return value;
}

/** What the sweep needs of the groups: one revoked client's removal proposed in each of its groups. */
export interface RevocationProposer {
  revokeClient(revoked: ClientRecord): Promise<number>;
}

export class RevocationSweep {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly groups: RevocationProposer,
    private readonly intervalMs: number,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /** One pass now (a pass already running is joined, not doubled); returns the proposals sent. */
  runOnce(): Promise<number> {
    if (this.#running !== undefined) return this.#running;
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<number> {
    let sent = 0;
    for (const id of await this.store.memberships.revokedMembers()) {
      const client = await this.store.clients.get(id);
      if (client === undefined) continue;
      try {
        sent += await this.groups.revokeClient(client);
      } catch (e) {
        // One client's failure (a group in a state the DS cannot propose to) must not stop the others.
        this.onError(e);
      }
    }
    return sent;
  }

  /** Runs a first pass now, then one every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.runOnce().catch(this.onError);
    this.#timer = setInterval(() => void this.runOnce().catch(this.onError), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
