/**
 * HTTP transport for the Conclave DS/AS JSON API (packages/api routes.ts, ds.ts).
 * Every non-2xx reply becomes an ApiError carrying the server's stable `code`,
 * so callers branch on codes (e.g. EPOCH_MISMATCH) rather than on statuses.
 */
import { ApiError, ROUTES, routePath, type ErrorBody, type ErrorCode, type RouteName } from "@conclave/api";

/** One request's parts: path parameters, query, a JSON or message/mls body, the bearer token. */
export interface RequestOptions {
  readonly params?: Record<string, string>;
  readonly query?: Record<string, string | number>;
  readonly json?: unknown;
  /** Raw MLS bytes, sent as message/mls. */
  readonly mls?: Uint8Array;
  readonly token?: string;
}

/** The Conclave JSON API over fetch: one call per route name of ROUTES (@conclave/api). */
export class HttpTransport {
  /** The server's base URL, without a trailing slash. */
  readonly baseUrl: string;

  /** `baseUrl`: the server, e.g. "https://chat.example.org" (route paths start with /v1). */
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /**
   * Calls `route` and returns its parsed JSON answer (the caller names the type).
   * @throws ApiError with the server's `code` for a non-2xx answer (`INTERNAL` / `BAD_REQUEST` when the body
   * has none), `SERVICE_UNAVAILABLE` when the server cannot be reached.
   */
  async request<T>(route: RouteName, opts: RequestOptions = {}): Promise<T> {
    const { method } = ROUTES[route];
    let url = this.baseUrl + routePath(route, opts.params);
    if (opts.query !== undefined) {
      const q = new URLSearchParams(Object.entries(opts.query).map(([k, v]) => [k, String(v)]));
      url += `?${q.toString()}`;
    }
    const headers: Record<string, string> = {};
    let body: BodyInit | undefined;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.mls !== undefined) {
      headers["content-type"] = "message/mls";
      body = new Uint8Array(opts.mls);
    }
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      throw new ApiError("SERVICE_UNAVAILABLE", `cannot reach ${this.baseUrl}: ${(e as Error).message}`, { cause: e });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const err = (parsed as Partial<ErrorBody> | undefined)?.error;
      const code = (typeof err?.code === "string" ? err.code : res.status >= 500 ? "INTERNAL" : "BAD_REQUEST") as ErrorCode;
      const e = new ApiError(code, err?.message ?? `${method} ${route}: HTTP ${res.status}`);
      Object.assign(e, { details: parsed });
      throw e;
    }
    return parsed as T;
  }

  /** ws:// URL of a path on this server. */
  wsUrl(path: string): string {
    return this.baseUrl.replace(/^http/, "ws") + path;
  }
}
