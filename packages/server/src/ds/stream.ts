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
import { ApiError } from "@conclave/api";
import { RateLimitError, toErrorResponse } from "../http/errors.js";
import type { RateLimiter } from "../http/rateLimit.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import { toHex } from "@conclave/mls";
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

/** One connection's pump: sends what is new after its read positions, coalescing wake-ups. */
class StreamSession {
  private running = false;
  private again = false;
  private refreshGroups = true;
  private readonly positions: ReadPositions = emptyPositions();
  private readonly groupSubs = new Map<string, () => void>();
  private readonly unsubscribeClient: () => void;
  private readonly devices: DeviceChangeWatch | undefined;
  private devicesDirty = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly client: AuthenticatedClient,
    private readonly o: StreamOptions,
  ) {
    this.devices = o.devices?.(client);
    this.unsubscribeClient = o.notifier.subscribe(clientTopic(client.id), () => {
      this.refreshGroups = true;
      this.devicesDirty = this.devices !== undefined;
      this.wake();
    });
  }

  close(): void {
    this.unsubscribeClient();
    for (const u of this.groupSubs.values()) u();
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
      if (!this.groupSubs.has(hex)) this.groupSubs.set(hex, this.o.notifier.subscribe(groupTopic(g), this.wake));
    }
    for (const [hex, unsubscribe] of this.groupSubs) {
      if (now.has(hex)) continue;
      unsubscribe();
      this.groupSubs.delete(hex);
    }
  }

  private async pump(): Promise<void> {
    try {
      if (this.refreshGroups) await this.subscribeGroups();
      if (this.devicesDirty && !(await this.pushDeviceChanges())) return;
      for (;;) {
        if (this.ws.readyState !== this.ws.OPEN) return;
        const page = await this.o.queues.fetch(this.client.id, 200, this.positions);
        for (const entry of page.entries) this.ws.send(JSON.stringify({ type: "message", entry }));
        if (page.entries.length > 0 || page.cursor.groups.length > 0 || page.gaps.length > 0) {
          this.ws.send(JSON.stringify({ type: "position", cursor: page.cursor, gaps: page.gaps }));
        }
        if (!page.more) return;
      }
    } catch {
      // Storage hiccup: the next wake-up (or reconnect) retries from the read positions.
      this.refreshGroups = true;
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
          const session = new StreamSession(ws, client, o);
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
