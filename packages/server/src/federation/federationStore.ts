/**
 * The federation tables of migration 0008 (storage/federationMigration.ts),
 * read and written with plain SQL over the store's handle: nonces, pins,
 * events, peers' logs, the follower's delivery keys and the hubs of its groups.
 */
import { bytes, handleOf, int, runSql, type Handle } from "../storage/handle.js";
import type { Store, StoreTx } from "../storage/store.js";

export interface PinRecord {
  readonly domain: string;
  readonly signatureKey: Uint8Array;
  readonly source: "configured" | "first-contact";
  readonly pinnedAt: number;
}

export interface EventRecord {
  readonly id: number;
  readonly at: number;
  readonly domain: string;
  readonly kind: string;
  readonly detail: string;
}

export interface LogRecord {
  readonly domain: string;
  readonly logKey: Uint8Array;
  /** The last tree head verified (0 and null: none yet). */
  readonly treeSize: number;
  readonly rootHash: Uint8Array | null;
}

/** Events the admin view shows. */
const MAX_EVENTS_SHOWN = 200;
/** Events kept (the oldest are dropped beyond this). */
const MAX_EVENTS_KEPT = 10_000;
/**
 * How long a delivery key is remembered. A hub resends only pages it sent but
 * could not see acknowledged (a crash, a timeout), right when it comes back;
 * a week covers any outage the hub's retention would not already have ended.
 */
const INBOX_KEY_TTL_MS = 7 * 24 * 3600_000;

export class FederationStore {
  #eventsWritten = 0;
  #inboxPrunedAt = 0;

  constructor(private readonly store: Store) {}

  private h(tx?: StoreTx): Handle {
    return handleOf(tx ?? this.store);
  }

  /** Records a nonce; false when `origin` already used it (a replay). Expired nonces are swept first. */
  async useNonce(origin: string, nonce: string, expiresAt: number, now: number): Promise<boolean> {
    await runSql(this.h(), "delete from federation_nonces where expires_at < ?", [now]);
    const r = await runSql(this.h(), "insert into federation_nonces (origin, nonce, expires_at) values (?, ?, ?) on conflict do nothing", [origin, nonce, expiresAt]);
    return r.changes === 1;
  }

  async pin(domain: string): Promise<PinRecord | undefined> {
    const { rows } = await runSql<{ domain: string; signature_key: Uint8Array; source: string; pinned_at: unknown }>(
      this.h(),
      "select domain, signature_key, source, pinned_at from federation_peers where domain = ?",
      [domain],
    );
    const r = rows[0];
    return r && { domain: r.domain, signatureKey: bytes(r.signature_key), source: r.source === "configured" ? "configured" : "first-contact", pinnedAt: int(r.pinned_at) };
  }

  async pins(): Promise<PinRecord[]> {
    const { rows } = await runSql<{ domain: string }>(this.h(), "select domain from federation_peers order by domain", []);
    const out: PinRecord[] = [];
    for (const r of rows) {
      const p = await this.pin(r.domain);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  /** Pins `key` for `domain` unless one is pinned already (first writer wins); returns the pin in force. */
  async pinIfAbsent(p: PinRecord): Promise<PinRecord> {
    await runSql(this.h(), "insert into federation_peers (domain, signature_key, source, pinned_at) values (?, ?, ?, ?) on conflict do nothing", [
      p.domain,
      p.signatureKey,
      p.source,
      p.pinnedAt,
    ]);
    return (await this.pin(p.domain)) ?? p;
  }

  async replacePin(p: PinRecord): Promise<void> {
    await runSql(this.h(), "update federation_peers set signature_key = ?, source = ?, pinned_at = ? where domain = ?", [p.signatureKey, p.source, p.pinnedAt, p.domain]);
  }

  async event(at: number, domain: string, kind: string, detail: string): Promise<void> {
    await runSql(this.h(), "insert into federation_events (at, domain, kind, detail) values (?, ?, ?, ?)", [at, domain, kind, detail.slice(0, 500)]);
    // Bounded: every 100 events, keep the newest MAX_EVENTS_KEPT.
    if (++this.#eventsWritten % 100 === 0) {
      await runSql(this.h(), `delete from federation_events where id <= (select max(id) from federation_events) - ${MAX_EVENTS_KEPT}`, []);
    }
  }

  async events(): Promise<EventRecord[]> {
    const { rows } = await runSql<{ id: unknown; at: unknown; domain: string; kind: string; detail: string }>(
      this.h(),
      `select id, at, domain, kind, detail from federation_events order by id desc limit ${MAX_EVENTS_SHOWN}`,
      [],
    );
    return rows.map((r) => ({ id: int(r.id), at: int(r.at), domain: r.domain, kind: r.kind, detail: r.detail }));
  }

  // --- peers' transparency logs ---------------------------------------------

  async log(domain: string): Promise<LogRecord | undefined> {
    const { rows } = await runSql<{ log_key: Uint8Array; tree_size: unknown; root_hash: Uint8Array | null }>(
      this.h(),
      "select log_key, tree_size, root_hash from federation_logs where domain = ?",
      [domain],
    );
    const r = rows[0];
    return r && { domain, logKey: bytes(r.log_key), treeSize: int(r.tree_size), rootHash: r.root_hash === null ? null : bytes(r.root_hash) };
  }

  /** Pins `logKey` for `domain` unless one is pinned (first writer wins); returns the record in force. */
  async pinLogIfAbsent(domain: string, logKey: Uint8Array, now: number): Promise<LogRecord> {
    await runSql(this.h(), "insert into federation_logs (domain, log_key, tree_size, root_hash, updated_at) values (?, ?, 0, null, ?) on conflict do nothing", [domain, logKey, now]);
    return (await this.log(domain))!;
  }

  /** Moves the verified head forward, only from the size it was checked against (a concurrent move loses). */
  async advanceLog(domain: string, fromSize: number, treeSize: number, rootHash: Uint8Array, now: number): Promise<void> {
    await runSql(this.h(), "update federation_logs set tree_size = ?, root_hash = ?, updated_at = ? where domain = ? and tree_size = ?", [treeSize, rootHash, now, domain, fromSize]);
  }

  // --- follower side: the inbox ---------------------------------------------

  /** Records that `origin`'s delivery `key` was applied; false when it already was (a retried delivery). */
  async markReceived(tx: StoreTx, origin: string, key: string, now: number): Promise<boolean> {
    if (now - this.#inboxPrunedAt > 3600_000) {
      this.#inboxPrunedAt = now;
      await runSql(this.h(tx), "delete from federation_inbox where received_at < ?", [now - INBOX_KEY_TTL_MS]);
    }
    const r = await runSql(this.h(tx), "insert into federation_inbox (origin, delivery_key, received_at) values (?, ?, ?) on conflict do nothing", [origin, key, now]);
    return r.changes === 1;
  }

  // --- groups: their hub (as a follower learns it) ----------------------------

  async setHub(tx: StoreTx, groupId: Uint8Array, hub: string, now: number): Promise<void> {
    await runSql(this.h(tx), "insert into federation_groups (group_id, hub, created_at) values (?, ?, ?) on conflict do nothing", [groupId, hub, now]);
  }

  async hubOf(groupId: Uint8Array): Promise<string | undefined> {
    const { rows } = await runSql<{ hub: string }>(this.h(), "select hub from federation_groups where group_id = ?", [groupId]);
    return rows[0]?.hub;
  }
}
