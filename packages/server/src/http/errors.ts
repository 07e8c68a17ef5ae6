/**
 * The server's error model: every 4xx/5xx is `{ "error": { "code", "message" } }`
 * with a code from @conclave/api errors.ts. ApiErrors keep their code; MlsErrors
 * from the protocol library pass through with 400 and their own code; fastify's
 * own failures (schema validation, body size, media type, bad JSON) map to
 * stable codes; anything unexpected is a 500 INTERNAL whose details go to the
 * log, not to the client.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, type ErrorBody, type ErrorCode } from "@conclave/api";
import { MlsError } from "@conclave/mls";

/** 429 with the Retry-After the limiter computed. */
export class RateLimitError extends ApiError {
  constructor(
    readonly retryAfterSeconds: number,
    message = `too many requests: retry after ${retryAfterSeconds} s`,
  ) {
    super("RATE_LIMITED", message);
  }
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_EMPTY_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_REQUEST",
  FST_ERR_CTP_EMPTY_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_MAX_PARAM_LENGTH: "URI_TOO_LONG",
  FST_ERR_BAD_URL: "BAD_REQUEST",
  FST_ERR_ASYNC_CONSTRAINT: "BAD_REQUEST",
};

/** Driver errors that mean "the database is not there right now". */
const UNAVAILABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08006", "SQLITE_BUSY"]);

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** Translates anything thrown in a request into (status, body). */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody; retryAfter?: number; internal: boolean } {
  if (error instanceof ApiError) {
    return { status: error.status, body: error.toBody(), internal: false, ...(error instanceof RateLimitError ? { retryAfter: error.retryAfterSeconds } : {}) };
  }
  if (error instanceof MlsError) return { status: 400, body: { error: { code: error.code, message: error.message } }, internal: false };
  const fe = error as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation !== undefined) return { status: 400, body: { error: { code: "BAD_REQUEST", message: fe.message ?? "invalid request" } }, internal: false };
  const code = codeOf(error);
  if (code !== undefined && FASTIFY_CODES[code] !== undefined) {
    const api = new ApiError(FASTIFY_CODES[code], fe.message ?? code);
    return { status: api.status, body: api.toBody(), internal: false };
  }
  if (error instanceof SyntaxError && fe.statusCode === 400) return { status: 400, body: { error: { code: "MALFORMED_JSON", message: error.message } }, internal: false };
  if (code !== undefined && UNAVAILABLE.has(code)) {
    return { status: 503, body: { error: { code: "SERVICE_UNAVAILABLE", message: "storage unavailable, retry later" } }, internal: true };
  }
  const status = fe.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const mapped: ErrorCode = status === 404 ? "NOT_FOUND" : status === 413 ? "PAYLOAD_TOO_LARGE" : status === 415 ? "UNSUPPORTED_MEDIA_TYPE" : "BAD_REQUEST";
    const api = new ApiError(mapped, fe.message ?? "bad request");
    return { status: api.status, body: api.toBody(), internal: false };
  }
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal server error" } }, internal: true };
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const r = toErrorResponse(error);
  if (r.internal) request.log.error({ err: error }, "request failed");
  if (r.retryAfter !== undefined) void reply.header("retry-after", String(r.retryAfter));
  return reply.code(r.status).type("application/json; charset=utf-8").send(r.body);
}

/** For fastify's `frameworkErrors` option: router-level failures (bad URL, over-long parameter). */
export function frameworkErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  sendError(error, request, reply);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => sendError(error, request, reply));
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const body: ErrorBody = { error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}` } };
    return reply.code(404).type("application/json; charset=utf-8").send(body);
  });
}
