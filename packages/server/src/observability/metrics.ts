/**
 * The server's Prometheus metrics (prom-client), in a registry of their own
 * (not prom-client's global one: several servers in one process, as in tests,
 * keep separate counts).
 *
 *   conclave_http_requests_total{method,route,status}           requests answered
 *   conclave_http_request_duration_seconds{method,route,status}  latency histogram
 *   conclave_http_errors_total{code,status}                     error answers by stable API code
 *   conclave_ds_messages_accepted_total{route}                   messages and commit bundles accepted
 *   conclave_ds_fanout_recipients                                recipients per accepted message (histogram)
 *   conclave_ds_deliveries_total                                 messages made available to one member each
 *   conclave_ds_entries_fetched_total                            entries handed out by GET /v1/queue
 *   conclave_ds_unread_deliveries                                deliveries not yet acknowledged (store query on scrape)
 *   conclave_ds_stream_connections                               open /v1/stream WebSockets of this process
 *   conclave_rate_limit_rejections_total{limiter}                429s from the token buckets
 *   conclave_rate_limit_store_degraded                           1 while a shared bucket store fails (per-process limits)
 * plus prom-client's process metrics (conclave_process_*, conclave_nodejs_*) when asked.
 *
 * `route` is the route's pattern ("/v1/groups/:groupId/messages"), never the
 * raw URL, and unknown URLs are "unmatched": label values stay a small set.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What the storage can tell about unread deliveries, cheaply, at scrape time:
 * the number of (message, member) pairs made available and not yet
 * acknowledged (for a store-once log with per-member cursors: the sum over
 * memberships of head - cursor, plus targeted entries waiting). A Store that
 * implements this is used automatically.
 */
export interface QueueDepthSource {
  collectQueueDepth(): Promise<number>;
}

/** Whether `x` (e.g. a store) can report the number of unread deliveries. */
export function isQueueDepthSource(x: unknown): x is QueueDepthSource {
  return typeof (x as Partial<QueueDepthSource> | null)?.collectQueueDepth === "function";
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FANOUT_BUCKETS = [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, event-loop lag, GC). Default false. */
  readonly processMetrics?: boolean;
  readonly queueDepth?: QueueDepthSource;
  /** Open /v1/stream connections of this process (read at scrape). */
  readonly streamConnections?: () => number;
}

/** The server's Prometheus metrics (prom-client registry): requests, latency, errors, DS fan-out, queue depth. */
export class ServerMetrics {
  /** The prom-client registry holding these metrics (serve it, or merge it into your own). */
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route" | "status">;
  private readonly errors: Counter<"code" | "status">;
  private readonly accepted: Counter<"route">;
  private readonly fanOut: Histogram;
  private readonly deliveries: Counter;
  private readonly fetched: Counter;
  private readonly rejections: Counter<"limiter">;
  private readonly degraded: Gauge;

  /** Registers the metrics in a registry of their own (and Node's process metrics when `o.processMetrics`). */
  constructor(o: ServerMetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({ name: "conclave_http_requests_total", help: "HTTP requests answered", labelNames: ["method", "route", "status"], registers });
    this.latency = new Histogram({
      name: "conclave_http_request_duration_seconds",
      help: "Time from request received to response sent",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({ name: "conclave_http_errors_total", help: "Error answers by stable API error code", labelNames: ["code", "status"], registers });
    this.accepted = new Counter({ name: "conclave_ds_messages_accepted_total", help: "Messages and commit bundles the DS accepted", labelNames: ["route"], registers });
    this.fanOut = new Histogram({ name: "conclave_ds_fanout_recipients", help: "Members each accepted message was made available to", buckets: FANOUT_BUCKETS, registers });
    this.deliveries = new Counter({ name: "conclave_ds_deliveries_total", help: "Deliveries: an accepted message made available to one member", registers });
    this.fetched = new Counter({ name: "conclave_ds_entries_fetched_total", help: "Queue entries handed out by GET /v1/queue", registers });
    this.rejections = new Counter({ name: "conclave_rate_limit_rejections_total", help: "Requests refused by a token bucket (429)", labelNames: ["limiter"], registers });
    this.degraded = new Gauge({ name: "conclave_rate_limit_store_degraded", help: "1 while the shared rate-limit store fails and limits are per process", registers });
    const depth = o.queueDepth;
    if (depth !== undefined) {
      new Gauge({
        name: "conclave_ds_unread_deliveries",
        help: "Deliveries made available and not yet acknowledged (all members, all groups)",
        registers,
        async collect() {
          // A failing query must not fail the scrape: the gauge is then absent (NaN) for this scrape.
          this.set(await depth.collectQueueDepth().catch(() => Number.NaN));
        },
      });
    }
    const streams = o.streamConnections;
    if (streams !== undefined) {
      new Gauge({
        name: "conclave_ds_stream_connections",
        help: "Open /v1/stream WebSocket connections of this process",
        registers,
        collect() {
          this.set(streams());
        },
      });
    }
    if (o.processMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: "conclave_" });
  }

  /** One answered request: its route pattern (not the raw URL), status and latency. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  /** One error answer, by its stable API error code. */
  error(code: string, status: number): void {
    this.errors.inc({ code, status: String(status) });
  }

  /** One accepted message made available to `recipients` members. */
  messageAccepted(route: string, recipients: number): void {
    this.accepted.inc({ route });
    this.fanOut.observe(recipients);
    if (recipients > 0) this.deliveries.inc(recipients);
  }

  /** Queue entries handed out by one GET /v1/queue. */
  entriesFetched(n: number): void {
    if (n > 0) this.fetched.inc(n);
  }

  /** One request refused by `limiter` ("ip", "client", ...). */
  rateLimited(limiter: string): void {
    this.rejections.inc({ limiter });
  }

  /** Whether the shared rate-limit store is failing (limits per process meanwhile). */
  rateLimitStoreDegraded(degraded: boolean): void {
    this.degraded.set(degraded ? 1 : 0);
  }

  /** The text exposition format. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
