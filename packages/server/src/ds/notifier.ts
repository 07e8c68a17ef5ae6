/**
 * Wakes the WebSocket streams that have something new to read: a group's
 * streams when its log grew (one topic per group, however many members), a
 * client's streams when its direct queue did (a Welcome). The stored rows are
 * the durable truth (written in the accepting transaction); a notification
 * only says "look again", so a lost one delays nothing past the next one or
 * the next fetch.
 *
 * - LocalNotifier: one process.
 * - PostgresNotifier: several processes on one PostgreSQL deliver to each
 *   other's connected clients through LISTEN/NOTIFY (DESIGN: fan-out through
 *   an existing engine, no home-made cluster protocol).
 */
import pg from "pg";
import { toHex } from "@conclave/mls";
import type { ClientId } from "../storage/store.js";

/** The callback a {@link Notifier} calls when a topic it was subscribed to has news. */
export type Wake = () => void;

/** What a stream listens to: a group's log, or one client's direct queue. */
export type Topic = string & { readonly __topic: unique symbol };

export function groupTopic(groupId: Uint8Array): Topic {
  return `g${toHex(groupId)}` as Topic;
}

export function clientTopic(client: ClientId): Topic {
  return `c${client}` as Topic;
}

const TOPIC = /^(g[0-9a-f]{2,510}|c[0-9]{1,16})$/;

/** Wakes the DS's waiters (long polls, streams) when a group's or client's queue changed. */
export interface Notifier {
  /** Called after a transaction that wrote to these topics committed. */
  publish(topics: readonly Topic[]): Promise<void>;
  /** Calls `wake` on each publish to `topic` (by any process sharing the notifier); returns the unsubscribe function. */
  subscribe(topic: Topic, wake: Wake): () => void;
  /** Stops delivering and releases connections. */
  close(): Promise<void>;
}

/** A {@link Notifier} within one process. */
export class LocalNotifier implements Notifier {
  private readonly subs = new Map<Topic, Set<Wake>>();

  async publish(topics: readonly Topic[]): Promise<void> {
    this.wakeLocal(topics);
  }

  /** Wakes this process's subscribers of `topics` (what publish does here; a cross-process notifier calls it on each notification). */
  wakeLocal(topics: Iterable<Topic>): void {
    for (const t of topics) {
      const s = this.subs.get(t);
      if (s !== undefined) for (const w of s) w();
    }
  }

  /** Wakes every subscribed stream (after a lost notification channel came back). */
  wakeAll(): void {
    for (const s of this.subs.values()) for (const w of s) w();
  }

  subscribe(topic: Topic, wake: Wake): () => void {
    let s = this.subs.get(topic);
    if (s === undefined) this.subs.set(topic, (s = new Set()));
    s.add(wake);
    return () => {
      s.delete(wake);
      if (s.size === 0) this.subs.delete(topic);
    };
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}

/** Options of {@link PostgresNotifier.connect}. */
export interface PostgresNotifierOptions {
  /** e.g. postgres://user@host:5432/db (the notifier holds one connection of its own). */
  readonly connectionString: string;
  /** NOTIFY channel; processes sharing a database schema must use the same one. */
  readonly channel: string;
}

/** NOTIFY payloads are limited to 8000 bytes: send topics in chunks below it. */
const NOTIFY_PAYLOAD_BYTES = 7000;

/**
 * A {@link Notifier} across processes sharing one PostgreSQL database (LISTEN/NOTIFY).
 * `connect` throws Error for an invalid channel name, and rejects when the database cannot be reached.
 */
export class PostgresNotifier extends LocalNotifier {
  private client: pg.Client | undefined;
  private closing = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(private readonly o: PostgresNotifierOptions) {
    super();
  }

  /**
   * Connects and LISTENs on `o.channel`; reconnects by itself when the connection drops later.
   * @throws Error for a channel name outside [a-z_][a-z0-9_]{0,62}, or pg's error when the database cannot be reached.
   */
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
      const topics: Topic[] = [];
      for (const part of msg.payload.split(",")) if (TOPIC.test(part)) topics.push(part as Topic);
      this.wakeLocal(topics);
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

  override async publish(topics: readonly Topic[]): Promise<void> {
    this.wakeLocal(topics);
    const client = this.client;
    if (client === undefined) return; // reconnecting: the other processes wake everyone when we are back
    let payload = "";
    for (const t of topics) {
      if (payload.length > 0 && payload.length + 1 + t.length > NOTIFY_PAYLOAD_BYTES) {
        await client.query("select pg_notify($1, $2)", [this.o.channel, payload]);
        payload = "";
      }
      payload = payload.length === 0 ? t : `${payload},${t}`;
    }
    if (payload.length > 0) await client.query("select pg_notify($1, $2)", [this.o.channel, payload]);
  }

  override async close(): Promise<void> {
    this.closing = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    await super.close();
    await this.client?.end().catch(() => {});
  }
}
