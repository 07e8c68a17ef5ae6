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
import { toErrorResponse } from "../http/errors.js";
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
}

function rejectUpgrade(socket: Duplex, error: unknown): void {
  const r = toErrorResponse(error);
  const body = JSON.stringify(r.body);
  socket.end(`HTTP/1.1 ${r.status} Error\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
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
  ) {}

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
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const f = frame as { type?: unknown; upTo?: unknown };
    if (f.type === "ack" && typeof f.upTo === "number" && Number.isSafeInteger(f.upTo) && f.upTo >= 0) {
      const acknowledged = await this.queues.ack(this.client.id, f.upTo).catch(() => 0);
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify({ type: "acked", upTo: f.upTo, acknowledged }));
    }
  }
}

export function installStream(o: StreamOptions): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  o.app.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== DS_STREAM_PATH) {
      rejectUpgrade(socket, Object.assign(new Error("no such WebSocket route"), { statusCode: 404 }));
      return;
    }
    const token = url.searchParams.get("token");
    const authorization = req.headers.authorization ?? (token !== null ? `Bearer ${token}` : undefined);
    const afterText = url.searchParams.get("after") ?? "0";
    const after = /^(0|[1-9][0-9]{0,15})$/.test(afterText) ? Number(afterText) : -1;
    o.authenticate(authorization).then(
      (client) => {
        if (after < 0) {
          rejectUpgrade(socket, Object.assign(new Error("after must be a non-negative integer"), { statusCode: 400 }));
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          const session = new StreamSession(ws, client, o.queues, after);
          const unsubscribe = o.notifier.subscribe(client.id, session.wake);
          ws.on("message", (data) => void session.onFrame(data.toString()));
          ws.on("close", unsubscribe);
          ws.on("error", unsubscribe);
          session.wake();
        });
      },
      (e: unknown) => rejectUpgrade(socket, e),
    );
  });
  o.app.addHook("onClose", async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
}
