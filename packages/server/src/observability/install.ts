/**
 * Wires ServerMetrics into the fastify app and serves the Prometheus
 * endpoint. The endpoint is never public by accident: it is served either on
 * a listener of its own (`listen`, e.g. 127.0.0.1:9300, off the API's port and
 * path), or on the API's port at `path` only with `Authorization: Bearer
 * <token>` (compared in constant time), or both. Configuring neither is an
 * error. It is not under /v1 and not in the OpenAPI document.
 *
 * What is measured, and where (no DS code is involved):
 * - every answered request (route pattern, status, latency) and every error
 *   answer's stable code, from fastify's onResponse / onSend hooks;
 * - fan-out and deliveries from the DS's own answer to an accepted message
 *   (AcceptedResponse.delivered, the @conclave/api contract), before serialisation;
 * - entries handed out by GET /v1/queue, likewise;
 * - open /v1/stream WebSockets, as upgraded sockets on that path still open;
 * - unread deliveries from the store on scrape (QueueDepthSource).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, DS_ROUTES, DS_STREAM_PATH, type AcceptedResponse, type QueueResponse } from "@conclave/api";
import { isQueueDepthSource, ServerMetrics, type QueueDepthSource } from "./metrics.js";

/** createConclaveServer's `metrics` option: where /metrics is served and to whom. */
export interface MetricsOptions {
  /** Serve on the API's own port at `path`, only to requests bearing this token. */
  readonly token?: string;
  /** Path of the endpoint (default "/metrics"). */
  readonly path?: string;
  /** Serve on a listener of its own (no token needed there unless `token` is set too). Port 0 picks one. */
  readonly listen?: { readonly host?: string; readonly port: number };
  /** Include prom-client's process and Node.js metrics (default true). */
  readonly processMetrics?: boolean;
  /** Where unread deliveries come from (default: the store, when it implements QueueDepthSource). */
  readonly queueDepth?: QueueDepthSource;
}

/** What installObservability returns: the metrics and the separate listener's address. */
export interface Observability {
  readonly metrics: ServerMetrics;
  /** The separate metrics listener's address, when `listen` was given (after the app is ready). */
  listenerAddress(): { host: string; port: number } | undefined;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Set when the server was created with `metrics` options. */
    conclaveObservability?: Observability;
  }
}

const ERROR_CODE_RE = /^\{"error":\{"code":"([A-Z0-9_]{1,64})"/;
const ACCEPTING_ROUTES = new Set<string>([DS_ROUTES.postMessage.path, DS_ROUTES.postCommit.path]);

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? "unmatched";
}

function tokenMatches(authorization: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer (.+)$/.exec(authorization ?? "");
  if (m === null) return false;
  // Equal-length digests: timingSafeEqual neither leaks the length nor the first differing byte.
  return timingSafeEqual(createHash("sha256").update(m[1]!).digest(), expected);
}

/** Counts upgraded sockets on /v1/stream until they close. */
function trackStreams(app: FastifyInstance): () => number {
  const open = new Set<Duplex>();
  app.server.on("upgrade", (req: IncomingMessage, socket: Duplex) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== DS_STREAM_PATH) return;
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  return () => open.size;
}

function instrument(app: FastifyInstance, metrics: ServerMetrics, path: string): void {
  app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(request);
    if (route === path) return;
    metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook("onSend", async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode >= 400 && typeof payload === "string") {
      const code = ERROR_CODE_RE.exec(payload)?.[1];
      if (code !== undefined) metrics.error(code, reply.statusCode);
    }
    return payload;
  });
  app.addHook("preSerialization", async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const route = routeOf(request);
    if (reply.statusCode < 300 && ACCEPTING_ROUTES.has(route)) {
      const delivered = (payload as Partial<AcceptedResponse> | null)?.delivered;
      if (typeof delivered === "number") metrics.messageAccepted(route, delivered);
    } else if (reply.statusCode < 300 && route === DS_ROUTES.fetchQueue.path) {
      const messages = (payload as Partial<QueueResponse> | null)?.messages;
      if (Array.isArray(messages)) metrics.entriesFetched(messages.length);
    }
    return payload;
  });
}

/** Installs metrics on `app` (call before routes are defined); `store` is asked for queue depth if it can tell. */
export function installObservability(app: FastifyInstance, o: MetricsOptions, store: unknown): Observability {
  if (o.token === undefined && o.listen === undefined) {
    throw new Error("metrics: give a token (served on the API port) or a listen address (a port of its own), so the endpoint is not public by accident");
  }
  if (o.token !== undefined && o.token.length < 16) throw new Error("metrics: the token must be at least 16 characters");
  const path = o.path ?? "/metrics";
  const queueDepth = o.queueDepth ?? (isQueueDepthSource(store) ? store : undefined);
  const metrics = new ServerMetrics({
    processMetrics: o.processMetrics ?? true,
    streamConnections: trackStreams(app),
    ...(queueDepth === undefined ? {} : { queueDepth }),
  });
  instrument(app, metrics, path);
  const expected = o.token === undefined ? undefined : createHash("sha256").update(o.token).digest();
  const authorized = (authorization: string | undefined): boolean => expected === undefined || tokenMatches(authorization, expected);

  if (o.token !== undefined) {
    app.get(path, async (request, reply) => {
      if (!authorized(request.headers.authorization)) {
        throw new ApiError(request.headers.authorization === undefined ? "AUTH_REQUIRED" : "AUTH_TOKEN_INVALID", "the metrics endpoint needs its bearer token");
      }
      const { contentType, body } = await metrics.scrape();
      return reply.type(contentType).send(body);
    });
  }

  let listener: Server | undefined;
  if (o.listen !== undefined) {
    listener = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (req.method !== "GET" || url.pathname !== path) return void res.writeHead(404).end();
      if (!authorized(req.headers.authorization)) return void res.writeHead(401).end();
      metrics.scrape().then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    const l = listener;
    const { host = "127.0.0.1", port } = o.listen;
    // Opened with the app (ready/listen), so a server that fails to build leaves no listener behind.
    app.addHook("onReady", async () => {
      await new Promise<void>((resolve, reject) => {
        l.once("error", reject);
        l.listen(port, host, () => resolve());
      });
    });
    app.addHook("onClose", async () => new Promise<void>((resolve) => (l.listening ? l.close(() => resolve()) : resolve())));
  }

  const observability: Observability = {
    metrics,
    listenerAddress() {
      const a = listener?.address();
      return a === undefined || a === null || typeof a === "string" ? undefined : { host: a.address, port: a.port };
    },
  };
  app.decorate("conclaveObservability", observability);
  return observability;
}
