/**
 * Device changes reported as they happen (issue 23). After the transaction
 * that recorded a change (deviceLog.ts) commits, the AS tells its
 * subscribers:
 * - the DS, which wakes the /v1/stream of every client of the account through
 *   the notifier's client topics (`c<id>`, across processes with PostgreSQL);
 *   each stream session then reads the account's new changes with a
 *   DeviceChangeWatch and pushes them as `{ "type": "device", change }`, and
 *   closes the stream of a device that was itself revoked;
 * - anything else that acts on a change: the DS's removal of a revoked
 *   client from its groups (issue 17) can subscribe here.
 * A notification is a hint: the stored list (GET /v1/users/:user/device-changes)
 * is the record, read by clients that were offline.
 */
import { toBase64Url, type DeviceChange } from "@conclave/api";
import type { DeviceEventRecord } from "../storage/repositories/accountSecurity.js";
import type { ClientId, ClientRecord, Store } from "../storage/store.js";

export interface DeviceChangeNotice {
  readonly kind: "added" | "revoked";
  /** The device added or revoked. */
  readonly client: ClientRecord;
  /** Every client of the account, revoked ones included, the changed one too. */
  readonly accountClients: readonly ClientId[];
}

export type DeviceChangeListener = (notice: DeviceChangeNotice) => void | Promise<void>;

const PAGE = 200;

export function deviceChangeJson(r: DeviceEventRecord): DeviceChange {
  return { seq: r.seq, kind: r.kind, device: r.device, signatureKey: toBase64Url(r.signatureKey), by: r.actor, at: r.createdAt, logIndex: r.logIndex };
}

export class DeviceFeed {
  readonly #listeners = new Set<DeviceChangeListener>();

  constructor(private readonly store: Store) {}

  /** Calls `listener` after each committed device change; returns the unsubscribe function. */
  subscribe(listener: DeviceChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Tells every subscriber; call it after the change's transaction committed.
   * Never throws: the change is recorded, a lost notice delays only the push
   * (`onError` hears why).
   */
  async publish(kind: DeviceChangeNotice["kind"], client: ClientRecord, onError?: (e: unknown) => void): Promise<void> {
    if (this.#listeners.size === 0) return;
    let accountClients: ClientId[];
    try {
      accountClients = (await this.store.clients.listByUser(client.user)).map((c) => c.id);
    } catch (e) {
      onError?.(e);
      return;
    }
    for (const listener of [...this.#listeners]) {
      try {
        await listener({ kind, client, accountClients });
      } catch (e) {
        onError?.(e);
      }
    }
  }

  /** What one /v1/stream session of `client` pushes: the account's changes from now on. */
  watch(client: { readonly user: string; readonly device: string }): DeviceChangeWatch {
    return new DeviceChangeWatch(this.store, client);
  }
}

/**
 * One stream session's reader of its account's device changes: from where the
 * list ends when the session opens (one read, started at once), it returns
 * only what is new at each wake-up.
 */
export class DeviceChangeWatch {
  readonly #start: Promise<number>;
  #after = 0;

  constructor(
    private readonly store: Store,
    private readonly client: { readonly user: string; readonly device: string },
  ) {
    // A failed read starts from the beginning: the client is told too much rather than too little.
    this.#start = this.read(0).then(
      (r) => r.after,
      () => 0,
    );
  }

  private async read(from: number): Promise<{ changes: DeviceChange[]; after: number }> {
    const changes: DeviceChange[] = [];
    let after = from;
    for (;;) {
      const rows = await this.store.accountSecurity.listDeviceEvents(this.client.user, after, PAGE);
      for (const r of rows) changes.push(deviceChangeJson(r));
      if (rows.length > 0) after = rows[rows.length - 1]!.seq;
      if (rows.length < PAGE) return { changes, after };
    }
  }

  /** The changes since the last poll (or since the session opened); `revoked` when one of them revoked this very device. */
  async poll(): Promise<{ changes: DeviceChange[]; revoked: boolean }> {
    this.#after = Math.max(this.#after, await this.#start);
    const { changes, after } = await this.read(this.#after);
    this.#after = after;
    return { changes, revoked: changes.some((c) => c.kind === "revoked" && c.device === this.client.device) };
  }
}
