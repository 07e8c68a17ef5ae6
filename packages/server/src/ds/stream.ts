/**
 * GET /v1/stream: a WebSocket that pushes the client's queue entries
 * (RFC 9750 §5: the DS delivers messages to clients). On connect it sends
 * every entry after `?after=` (default 0: everything not yet acknowledged),
 * then each new one when the notifier wakes it. Authentication: the usual
 * bearer token, in the Authorization header or (for browsers) `?token=`.
 * Frames are JSON (StreamServerFrame / StreamClientFrame in @conclave/api).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import { WebSocketServer, type WebSocket } from "ws";
import { ApiError } from "@conclave/api";
import { RateLimitError, toErrorResponse } from "../http/errors.js";
import type { TokenBucketLimiter } from "../http/rateLimit.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Notifier } from "./notifier.js";
import { queueEntryJson, type QueueDelivery } from "./queueDelivery.js";

export { DS_STREAM_PATH as STREAM_PATH } from "@conclave/api";
import { DS_STREAM_PATH } from "@conclave/api";

export interface StreamOptions {
  readonly app: FastifyInstance;
  readonly authenticate: (authorization: string | undefined) => Promise<AuthenticatedClient>;
  readonly queues: QueueDelivery;
  readonly notifier: Notifier;
  /**
   * The HTTP API's token buckets, so the stream cannot be used to get around
   * them: an upgrade costs a request from the IP's and the client's bucket,
   * and so does every frame the client sends (each ack is a write).
   */
  readonly perIp?: TokenBucketLimiter;
  readonly perClient?: TokenBucketLimiter;
  /** Open streams one client may hold at once (default 8); more are refused with 429. */
  readonly maxStreamsPerClient?: number;
  /** The requester's address as the HTTP API sees it (honouring trustProxy). */
  readonly ipOf: (req: IncomingMessage) => string;
}

const DEFAULT_MAX_STREAMS_PER_CLIENT = 8;

function rejectUpgrade(socket: Duplex, error: unknown): void {
  const r = toErrorResponse(error);
  const body = JSON.stringify(r.body);
  const retry = r.retryAfter === undefined ? "" : `Retry-After: ${r.retryAfter}\r\n`;
  socket.end(`HTTP/1.1 ${r.status} Error\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`);
}

/** One connection's pump: sends entries after the cursor, coalescing wake-ups. */
class StreamSession {
  private running = false;
  private again = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly client: AuthenticatedClient,
    private readonly queues: QueueDelivery,
    private cursor: number,
    private readonly perClient: TokenBucketLimiter | undefined,
  ) {}

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

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.ws.readyState !== this.ws.OPEN) return;
        const batch = await this.queues.fetch(this.client.id, this.cursor, 200);
        for (const e of batch) this.ws.send(JSON.stringify({ type: "message", entry: queueEntryJson(e) }));
        if (batch.length === 0) return;
        this.cursor = batch[batch.length - 1]!.id;
      }
    } catch {
      // Storage hiccup: the next wake-up (or reconnect) retries from the cursor.
    }
  }

  async onFrame(data: string): Promise<void> {
    try {
      this.perClient?.require(`client:${this.client.id}`);
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
    const f = frame as { type?: unknown; upTo?: unknown };
    if (f.type === "ack" && typeof f.upTo === "number" && Number.isSafeInteger(f.upTo) && f.upTo >= 0) {
      const acknowledged = await this.queues.ack(this.client.id, f.upTo).catch(() => 0);
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: "acked", upTo: f.upTo, acknowledged }));
      return;
    }
    this.refuse(new ApiError("BAD_REQUEST", 'the only client frame is {"type":"ack","upTo":<entry id>}'));
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
    try {
      o.perIp?.require(`ip:${o.ipOf(req)}`);
    } catch (e) {
      rejectUpgrade(socket, e);
      return;
    }
    const token = url.searchParams.get("token");
    const authorization = req.headers.authorization ?? (token !== null ? `Bearer ${token}` : undefined);
    const afterText = url.searchParams.get("after") ?? "0";
    const after = /^(0|[1-9][0-9]{0,15})$/.test(afterText) ? Number(afterText) : -1;
    o.authenticate(authorization)
      .then((client) => {
        o.perClient?.require(`client:${client.id}`);
        if (after < 0) throw new ApiError("BAD_REQUEST", "after must be a non-negative integer");
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
          const session = new StreamSession(ws, client, o.queues, after, o.perClient);
          const unsubscribe = o.notifier.subscribe(client.id, session.wake);
          const end = (): void => {
            unsubscribe();
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
  o.app.addHook("onClose", async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
}
