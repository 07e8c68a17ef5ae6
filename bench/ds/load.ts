/**
 * One load window, in a process of its own: autocannon POSTs the same
 * message/mls body to `path` for `seconds` over `connections` keep-alive
 * connections, each request with the next sender's bearer token. Reads a
 * LoadSpec on stdin, prints a LoadResult.
 */
import autocannon from "autocannon";
import { readInput } from "./processes.js";

export interface LoadSpec {
  readonly url: string;
  readonly path: string;
  /** Bearer tokens, used in turn (none for the bare ceiling). */
  readonly tokens: readonly string[];
  /** The body, base64. */
  readonly body: string;
  readonly connections: number;
  readonly seconds: number;
}

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

const spec = await readInput<LoadSpec>();
let next = 0;
const r = await autocannon({
  url: spec.url,
  connections: spec.connections,
  pipelining: 1,
  duration: spec.seconds,
  method: "POST",
  headers: { "content-type": "message/mls" },
  body: Buffer.from(spec.body, "base64"),
  requests: [
    {
      setupRequest: (req) => {
        if (spec.tokens.length === 0) return { ...req, path: spec.path };
        const token = spec.tokens[next++ % spec.tokens.length]!;
        return { ...req, path: spec.path, headers: { ...req.headers, authorization: `Bearer ${token}` } };
      },
    },
  ],
});
const result: LoadResult = {
  ok: r["2xx"],
  failed: r.non2xx + r.errors + r.timeouts,
  seconds: r.duration,
  perSecond: r["2xx"] / r.duration,
  p50: r.latency.p50,
  p99: r.latency.p99,
};
process.stdout.write(JSON.stringify(result));
