/**
 * GET /v1/stream: a WebSocket that pushes what the DS holds for the client
 * (RFC 9750 §5: the DS delivers messages to clients). On connect it sends
 * everything not yet acknowledged, then what is new each time the notifier
 * wakes it: the session listens to each of its groups' topics and to its own
 * (a Welcome, which also means a new group to listen to). After each batch it
 * sends the batch's cursor, which the client may acknowledge. Authentication:
 * the usual bearer token, in the Authorization header or (for browsers)
 * `?token=`. Frames are JSON (StreamServerFrame / StreamClientFrame in @conclave/api).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { WebSocketServer, type WebSocket } from "ws";
import { ApiError, toBase64Url } from "@conclave/api";
import { RateLimitError, toErrorResponse } from "../http/errors.js";
import type { RateLimiter } from "../http/rateLimit.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import { toHex } from "@conclave/mls";
import { findHandle } from "../storage/handle.js";
import { GroupFeedReader } from "../storage/repositories/groupFeed.js";
import { GroupFeeds } from "./groupFeed.js";
import type { Store } from "../storage/store.js";
import type { DeviceChangeWatch } from "../as/deviceFeed.js";
import { clientTopic, groupTopic, type Notifier } from "./notifier.js";
import { emptyPositions, parseCursor, type QueueDelivery, type ReadPositions } from "./queueDelivery.js";

import { DS_STREAM_PATH } from "@conclave/api";

export interface StreamOptions {
  readonly app: FastifyInstance;
  readonly authenticate: (authorization: string | undefined) => Promise<AuthenticatedClient>;
  readonly queues: QueueDelivery;
  readonly store: Store;
  readonly notifier: Notifier;
  /**
   * The HTTP API's token buckets, so the stream cannot be used to get around
   * them: an upgrade costs a request from the IP's and the client's bucket,
   * and so does every frame the client sends (each ack is a write).
   */
  readonly perIp?: RateLimiter;
  readonly perClient?: RateLimiter;
  /** Open streams one client may hold at once (default 8); more are refused with 429. */
  readonly maxStreamsPerClient?: number;
  /** The requester's address as the HTTP API sees it (honouring trustProxy). */
  readonly ipOf: (req: IncomingMessage) => string;
  /** The account's device changes, pushed as "device" frames when the client's topic wakes the session (as/deviceFeed.ts). */
  readonly devices?: (client: AuthenticatedClient) => DeviceChangeWatch;
}

const DEFAULT_MAX_STREAMS_PER_CLIENT = 8;

function rejectUpgrade(socket: Duplex, error: unknown): void {
  const r = toErrorResponse(error);
  const body = JSON.stringify(r.body);
  const retry = r.retryAfter === undefined ? "" : `Retry-After: ${r.retryAfter}\r\n`;
  socket.end(`HTTP/1.1 ${r.status} Error\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`);
}

/**
 * One connection's pump: sends what is new after its read positions, coalescing wake-ups. A wake-up by a
 * group's topic takes the group's new entries from the process's feed (groupFeed.ts) when it can; anything
 * else (connecting, a Welcome, a feed that does not cover this stream) reads the store for this client.
 */
class StreamSession {
  private running = false;
  private again = false;
  private refreshGroups = true;
  /** Read the store for everything (not only the feeds of `dirty`). */
  private full = true;
  /** Groups whose topic woke the session since its last pump. */
  private readonly dirty = new Set<string>();
  private readonly positions: ReadPositions = emptyPositions();
  private readonly groupSubs = new Map<string, { readonly groupId: Uint8Array; readonly release: () => void }>();
  private readonly unsubscribeClient: () => void;
  private readonly devices: DeviceChangeWatch | undefined;
  private devicesDirty = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly client: AuthenticatedClient,
    private readonly o: StreamOptions,
    private readonly feeds: GroupFeeds | undefined,
  ) {
    this.devices = o.devices?.(client);
    this.unsubscribeClient = o.notifier.subscribe(clientTopic(client.id), () => {
      this.refreshGroups = true;
      this.full = true;
      this.devicesDirty = this.devices !== undefined;
      this.wake();
    });
  }

  close(): void {
    this.unsubscribeClient();
    for (const g of this.groupSubs.values()) g.release();
    this.groupSubs.clear();
  }

  private refuse(e: unknown): void {
    const { body } = toErrorResponse(e);
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: "error", error: body.error }));
  }

  wake = (): void => {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pump().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  };

  /** Listens to the topics of the groups the client is in now (joined by a Welcome, or left). */
  private async subscribeGroups(): Promise<void> {
    this.refreshGroups = false;
    const now = new Set<string>();
    for (const g of await this.o.store.memberships.groupsOf(this.client.id)) {
      const hex = toHex(g);
      now.add(hex);
      if (this.groupSubs.has(hex)) continue;
      const unsubscribe = this.o.notifier.subscribe(groupTopic(g), () => {
        this.dirty.add(hex);
        this.wake();
      });
      const closeFeed = this.feeds?.open(g);
      this.groupSubs.set(hex, {
        groupId: g,
        release: () => {
          unsubscribe();
          closeFeed?.();
        },
      });
    }
    for (const [hex, sub] of this.groupSubs) {
      if (now.has(hex)) continue;
      sub.release();
      this.groupSubs.delete(hex);
    }
  }

  private async pump(): Promise<void> {
    try {
      if (this.refreshGroups) await this.subscribeGroups();
      if (this.devicesDirty && !(await this.pushDeviceChanges())) return;
      if (!this.full) {
        const dirty = [...this.dirty];
        this.dirty.clear();
        for (const hex of dirty) if (!(await this.fromFeed(hex))) this.full = true;
      }
      if (this.full) await this.fromStore();
    } catch {
      // Storage hiccup: the next wake-up (or reconnect) retries from the read positions.
      this.refreshGroups = true;
      this.full = true;
    }
  }

  /** Reads the store for this client until nothing is left; afterwards the feeds' positions count as sent. */
  private async fromStore(): Promise<void> {
    this.full = false;
    this.dirty.clear();
    // What each feed had read before this read began was committed before it: sent (or not this client's) once it ends.
    const seen = new Map<string, number>();
    for (const hex of this.groupSubs.keys()) {
      const s = this.feeds?.seen(hex);
      if (s !== undefined) seen.set(hex, s);
    }
    for (;;) {
      if (this.ws.readyState !== this.ws.OPEN) return;
      const page = await this.o.queues.fetch(this.client.id, 200, this.positions);
      this.sendAll(page.entries.map((entry) => JSON.stringify({ type: "message", entry })));
      if (page.entries.length > 0 || page.cursor.groups.length > 0 || page.gaps.length > 0) {
        this.ws.send(JSON.stringify({ type: "position", cursor: page.cursor, gaps: page.gaps }));
      }
      if (!page.more) break;
    }
    for (const [hex, s] of seen) if ((this.positions.groups.get(hex) ?? 0) < s) this.positions.groups.set(hex, s);
  }

  /**
   * Sends the group's new entries from the process's feed; false when the feed cannot serve this stream
   * (it does not reach back to the stream's position, or the client's stay does not cover what it holds).
   */
  private async fromFeed(hex: string): Promise<boolean> {
    const sub = this.groupSubs.get(hex);
    const round = this.feeds?.next(hex);
    if (sub === undefined || round === undefined) return false;
    const f = await round;
    const p = this.positions.groups.get(hex);
    const joined = f.roster.get(this.client.id);
    if (p === undefined || p < f.from || joined === undefined || joined > p) return f.seen <= (p ?? -1);
    if (f.more) {
      this.dirty.add(hex);
      this.again = true;
    }
    if (f.seen <= p) return true;
    let i = f.entries.length;
    while (i > 0 && f.entries[i - 1]!.seq > p) i--;
    const frames: string[] = [];
    for (; i < f.entries.length; i++) {
      const e = f.entries[i]!;
      if (e.sender !== this.client.id && e.frame !== null) frames.push(e.frame);
    }
    this.positions.groups.set(hex, f.seen);
    frames.push(JSON.stringify({ type: "position", cursor: { direct: this.positions.direct, groups: [{ groupId: toBase64Url(sub.groupId), seq: f.seen }] }, gaps: [] }));
    this.sendAll(frames);
    return true;
  }

  /** Frames in one socket write (the socket corked around their sends). */
  private sendAll(frames: readonly string[]): void {
    if (frames.length === 0 || this.ws.readyState !== this.ws.OPEN) return;
    const socket = (this.ws as unknown as { _socket?: Duplex })._socket;
    socket?.cork();
    try {
      for (const f of frames) this.ws.send(f);
    } finally {
      socket?.uncork();
    }
  }

  /** Sends the account's new device changes; false (and the stream closed) when this client itself was revoked. */
  private async pushDeviceChanges(): Promise<boolean> {
    this.devicesDirty = false;
    const { changes, revoked } = await this.devices!.poll();
    for (const change of changes) if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: "device", change }));
    if (revoked) this.ws.close(4403, "client revoked");
    return !revoked;
  }

  async onFrame(data: string): Promise<void> {
    try {
      await this.o.perClient?.consume(String(this.client.id));
    } catch (e) {
      this.refuse(e);
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      this.refuse(new ApiError("MALFORMED_JSON", "a stream frame must be JSON"));
      return;
    }
    const f = frame as { type?: unknown; cursor?: unknown };
    const cursor = f.type === "ack" ? parseCursor(f.cursor) : undefined;
    if (cursor !== undefined) {
      try {
        const acknowledged = await this.o.queues.ack(this.client.id, cursor);
        if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: "acked", acknowledged }));
      } catch (e) {
        this.refuse(e);
      }
      return;
    }
    this.refuse(new ApiError("BAD_REQUEST", 'the only client frame is {"type":"ack","cursor":<a cursor the stream sent>}'));
  }
}

export function installStream(o: StreamOptions): void {
  // A client frame is one small JSON ack; 4 KiB is generous.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  const maxPerClient = o.maxStreamsPerClient ?? DEFAULT_MAX_STREAMS_PER_CLIENT;
  const open = new Map<number, number>();
  // One feed per group for all of this process's streams (groupFeed.ts); none for a Store of another kind.
  const feeds = findHandle(o.store) === undefined ? undefined : new GroupFeeds(new GroupFeedReader(o.store));
  o.app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => undefined); // a peer resetting mid-handshake must not become an unhandled error
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== DS_STREAM_PATH) {
      rejectUpgrade(socket, new ApiError("NOT_FOUND", "no such WebSocket route"));
      return;
    }
    const token = url.searchParams.get("token");
    const authorization = req.headers.authorization ?? (token !== null ? `Bearer ${token}` : undefined);
    Promise.resolve(o.perIp?.consume(o.ipOf(req)))
      .then(() => o.authenticate(authorization))
      .then(async (client) => {
        await o.perClient?.consume(String(client.id));
        const count = open.get(client.id) ?? 0;
        if (count >= maxPerClient) throw new RateLimitError(1, `${count} streams are open for this client already (at most ${maxPerClient})`);
        open.set(client.id, count + 1);
        let closed = false;
        const release = (): void => {
          if (closed) return;
          closed = true;
          const n = (open.get(client.id) ?? 1) - 1;
          if (n <= 0) open.delete(client.id);
          else open.set(client.id, n);
        };
        socket.once("close", release);
        wss.handleUpgrade(req, socket, head, (ws) => {
          const session = new StreamSession(ws, client, o, feeds);
          const end = (): void => {
            session.close();
            release();
          };
          ws.on("message", (data) => void session.onFrame(data.toString()));
          ws.on("close", end);
          ws.on("error", end);
          session.wake();
        });
      })
      .catch((e: unknown) => rejectUpgrade(socket, e));
  });
  // A plain GET (no Upgrade) never reaches the upgrade handler: say what the route is instead of a 404.
  o.app.get(DS_STREAM_PATH, async (_req, reply) => {
    void reply.header("upgrade", "websocket");
    throw new ApiError("UPGRADE_REQUIRED", `${DS_STREAM_PATH} is a WebSocket: connect with Upgrade: websocket`);
  });
  o.app.addHook("onClose", async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
}
