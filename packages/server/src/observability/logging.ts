/**
 * Structured logs: fastify's pino logger, JSON lines, at a configurable level
 * (the entry points default to "warn": a local run prints nothing but
 * problems; "info" adds a line per request).
 *
 * Secrets never reach a log line:
 * - request headers are logged with Authorization (bearer tokens, the admin
 *   and metrics tokens), Proxy-Authorization and cookies replaced by
 *   "[redacted]" (pino's redact, applied to the serialised object);
 * - the `token` query parameter (the browser's way to authenticate
 *   /v1/stream) is replaced in logged URLs;
 * - bodies (MLS messages, account secrets, passphrases) are never logged:
 *   no serializer includes them.
 */
import type { FastifyRequest, FastifyServerOptions } from "fastify";

/** The log levels, most severe first ("silent" logs nothing). */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Whether `s` is one of {@link LOG_LEVELS}. */
export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/**
 * Parses a level from a flag or the environment; `fallback` when unset or empty.
 * @throws Error for anything but a {@link LogLevel} (a typo must not silence the logs).
 */
export function parseLogLevel(s: string | undefined, fallback: LogLevel): LogLevel {
  if (s === undefined || s === "") return fallback;
  if (!isLogLevel(s)) throw new Error(`unknown log level ${JSON.stringify(s)} (one of ${LOG_LEVELS.join(", ")})`);
  return s;
}

/** The server's log settings (createConclaveServer's `log` option). */
export interface LogOptions {
  readonly level: LogLevel;
  /** Where lines go (default stdout); anything with write(line). */
  readonly stream?: { write(line: string): void };
}

/** What replaces a secret (token, cookie, authorization header) in the logs. */
export const REDACTED = "[redacted]";
const SECRET_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie"];
const SECRET_QUERY = /([?&](?:token|access_token)=)[^&#]*/gi;

/** A URL with its secret query parameters replaced. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, `$1${encodeURIComponent(REDACTED)}`);
}

function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    route: request.routeOptions?.url,
    remoteAddress: request.ip,
    headers: { ...request.headers },
  };
}

/** fastify's `logger` option for these settings. */
export function loggerOptions(o: LogOptions): NonNullable<FastifyServerOptions["logger"]> {
  return {
    level: o.level,
    redact: { paths: SECRET_HEADERS.map((h) => `req.headers["${h}"]`), censor: REDACTED },
    serializers: { req: serializeRequest as (req: unknown) => Record<string, unknown> },
    ...(o.stream === undefined ? {} : { stream: o.stream }),
  };
}
