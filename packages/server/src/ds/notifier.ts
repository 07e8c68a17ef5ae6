/**
 * Wakes the WebSocket streams of clients that have new queue entries. The
 * queue rows themselves are the durable truth (written in the accepting
 * transaction); a notification only says "look again", so a lost one delays
 * nothing past the next one or the next fetch.
 *
 * - LocalNotifier: one process.
 * - PostgresNotifier: several processes on one PostgreSQL deliver to each
 *   other's connected clients through LISTEN/NOTIFY (DESIGN: fan-out through
 *   an existing engine, no home-made cluster protocol).
 */
import pg from "pg";
import type { ClientId } from "../storage/store.js";

export type Wake = () => void;

export interface Notifier {
  /** Called after a transaction that queued entries for `clients` committed. */
  publish(clients: readonly ClientId[]): Promise<void>;
  subscribe(client: ClientId, wake: Wake): () => void;
  close(): Promise<void>;
}

export class LocalNotifier implements Notifier {
  private readonly subs = new Map<ClientId, Set<Wake>>();

  async publish(clients: readonly ClientId[]): Promise<void> {
    this.wakeLocal(clients);
  }

  wakeLocal(clients: Iterable<ClientId>): void {
    for (const c of clients) {
      const s = this.subs.get(c);
      if (s !== undefined) for (const w of s) w();
    }
  }

  /** Wakes every subscribed stream (after a lost notification channel came back). */
  wakeAll(): void {
    for (const s of this.subs.values()) for (const w of s) w();
  }

  subscribe(client: ClientId, wake: Wake): () => void {
    let s = this.subs.get(client);
    if (s === undefined) this.subs.set(client, (s = new Set()));
    s.add(wake);
    return () => {
      s.delete(wake);
      if (s.size === 0) this.subs.delete(client);
    };
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}

export interface PostgresNotifierOptions {
  readonly connectionString: string;
  /** NOTIFY channel; processes sharing a database schema must use the same one. */
  readonly channel: string;
}

/** NOTIFY payloads are limited to 8000 bytes: send client ids in chunks. */
const IDS_PER_NOTIFY = 500;

export class PostgresNotifier extends LocalNotifier {
  private client: pg.Client | undefined;
  private closing = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(private readonly o: PostgresNotifierOptions) {
    super();
  }

  static async connect(o: PostgresNotifierOptions): Promise<PostgresNotifier> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(o.channel)) throw new Error(`invalid NOTIFY channel ${JSON.stringify(o.channel)}`);
    const n = new PostgresNotifier(o);
    await n.open();
    return n;
  }

  private async open(): Promise<void> {
    const client = new pg.Client({ connectionString: this.o.connectionString });
    const lost = (): void => {
      if (this.client !== client || this.closing) return;
      this.client = undefined;
      // Reconnect, then wake every local stream: they re-read their queues from their cursors,
      // so notifications missed while disconnected delay nothing further.
      this.retry = setTimeout(() => {
        this.open().then(
          () => this.wakeAll(),
          () => lost(),
        );
      }, 1000);
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      // Our own NOTIFYs come back too: those clients were already woken locally.
      if (msg.channel !== this.o.channel || msg.payload === undefined || msg.processId === (client as unknown as { processID: number }).processID) return;
      const ids: ClientId[] = [];
      for (const part of msg.payload.split(",")) {
        const id = Number(part);
        if (Number.isSafeInteger(id)) ids.push(id as ClientId);
      }
      this.wakeLocal(ids);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`listen ${this.o.channel}`);
    } catch (e) {
      this.client = undefined;
      await client.end().catch(() => {});
      throw e;
    }
  }

  override async publish(clients: readonly ClientId[]): Promise<void> {
    this.wakeLocal(clients);
    const client = this.client;
    if (client === undefined) return; // reconnecting: the other processes wake everyone when we are back
    for (let i = 0; i < clients.length; i += IDS_PER_NOTIFY) {
      await client.query("select pg_notify($1, $2)", [this.o.channel, clients.slice(i, i + IDS_PER_NOTIFY).join(",")]);
    }
  }

  override async close(): Promise<void> {
    this.closing = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    await super.close();
    await this.client?.end().catch(() => {});
  }
}
