/**
 * The hub's fan-out to follower domains (issue 22 item 2 and 5). What a
 * member of another domain is owed waits in its stand-in's queue
 * (remoteMembers.ts) exactly as a local client's does: the group's log read
 * through its own cursor, and its Welcomes. The pusher reads each stand-in's
 * queue like a client would, sends the page to the member's domain, and
 * acknowledges it only once that domain answered. So:
 * - a follower that is down keeps its traffic queued here, delivered in order
 *   when it returns (one page in flight per domain, retried with back-off);
 * - nothing is lost (the cursor moves only on the follower's answer) and
 *   nothing is applied twice (every entry has a key the follower records).
 */
import { createHash } from "node:crypto";
import type { QueueEntryJson } from "@conclave/api";
import type { QueueDelivery } from "../ds/queueDelivery.js";
import { rosterIdentity } from "../ds/groupState.js";
import type { ClientRecord } from "../storage/store.js";
import type { RemoteMembers } from "./remoteMembers.js";
import type { FederationService } from "./service.js";

/** One entry as it travels to the follower. */
export interface DeliveredEntry extends QueueEntryJson {
  /** Unique per recipient and position: the follower applies each key once. */
  readonly key: string;
}

/** `POST /federation/v1/deliver`: entries for one member of the receiving domain. */
export interface DeliveryBatch {
  readonly recipient: string;
  readonly entries: readonly DeliveredEntry[];
}

const PAGE = 100;
const MAX_BACKOFF_MS = 5_000;

export function deliveryKey(recipient: string, e: QueueEntryJson): string {
  return createHash("sha256").update(`${recipient}\0${e.source}\0${e.groupId}\0${e.seq}`).digest("hex");
}

export class HubPusher {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #backoff = new Map<string, { until: number; failures: number }>();

  constructor(
    private readonly fed: FederationService,
    private readonly members: RemoteMembers,
    private readonly queues: QueueDelivery,
    private readonly onError: (domain: string, err: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.pass()
        .catch((e: unknown) => this.onError("*", e))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, intervalMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass over every follower domain that is not backing off. */
  async pass(): Promise<void> {
    const now = Date.now();
    for (const [domain, clients] of await this.members.byDomain()) {
      const b = this.#backoff.get(domain);
      if (b !== undefined && b.until > now) continue;
      try {
        for (const c of clients) await this.drain(domain, c);
        this.#backoff.delete(domain);
      } catch (e) {
        const failures = (b?.failures ?? 0) + 1;
        this.#backoff.set(domain, { until: Date.now() + Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 10)), failures });
        this.onError(domain, e);
      }
    }
  }

  private async drain(domain: string, c: ClientRecord): Promise<void> {
    const recipient = rosterIdentity(c, this.fed.domain);
    for (;;) {
      const page = await this.queues.fetch(c.id, PAGE);
      if (page.entries.length > 0) {
        const batch: DeliveryBatch = { recipient, entries: page.entries.map((e) => ({ ...e, key: deliveryKey(recipient, e) })) };
        await this.fed.client.request(domain, "POST", "/federation/v1/deliver", batch);
      }
      // Only now: what the follower has is acknowledged (own messages and gaps included).
      if (page.cursor.direct > 0 || page.cursor.groups.length > 0) await this.queues.ack(c.id, page.cursor);
      if (!page.more) return;
    }
  }
}
