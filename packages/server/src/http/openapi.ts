/**
 * The OpenAPI 3.1 document of the server, generated from the RouteRegistry
 * (served at GET /v1/openapi.json).
 */
import { API_ERROR_STATUS, DS_STREAM_PATH } from "@conclave/api";
import type { RouteSpec } from "./registry.js";
import { errorBody, type JsonSchema } from "./schemas.js";

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

function parameters(where: "path" | "query", schema: JsonSchema | undefined): JsonSchema[] {
  if (schema === undefined) return [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    ...(typeof s.description === "string" ? { description: s.description } : {}),
    schema: s,
  }));
}

/** The codes sent with `status`, for a response's description. */
function codesOf(status: number): string {
  return Object.entries(API_ERROR_STATUS)
    .filter(([, s]) => s === status)
    .map(([code]) => code)
    .join(", ");
}

const errorContent = { "application/json": { schema: { $ref: "#/components/schemas/Error" } } };

/**
 * The 4xx an operation can answer, from what the route is: every route can be
 * rate limited (429) and may refuse its input (400); a token makes 401 and 403
 * possible, a body 413 and 415, a path parameter 404 (and 414 when too long).
 * Conflicts (409) are possible wherever state is written. The body's `code`
 * says which (`x-error-codes` lists every code with its status).
 */
function errorResponses(spec: RouteSpec): Record<string, JsonSchema> {
  const statuses = [400, 429];
  if (spec.auth) statuses.push(401, 403);
  if (spec.body !== undefined || spec.bodyContentType !== undefined) statuses.push(413, 415);
  if (spec.params !== undefined) statuses.push(404, 414);
  if (spec.method !== "GET") statuses.push(409);
  const out: Record<string, JsonSchema> = {};
  for (const status of statuses.sort((a, b) => a - b)) out[String(status)] = { description: `error: one of ${codesOf(status)}`, content: errorContent };
  return out;
}

function operation(spec: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(spec.responses)) {
    responses[status] =
      schema === null
        ? {
            description: spec.responseContentType !== undefined ? "binary body" : "no content",
            ...(spec.responseContentType !== undefined ? { content: { [spec.responseContentType]: { schema: { type: "string", format: "binary" } } } } : {}),
          }
        : { description: "success", content: { "application/json": { schema } } };
  }
  Object.assign(responses, errorResponses(spec));
  responses["default"] = { description: "error (see the error codes in @conclave/api)", content: errorContent };
  const op: JsonSchema = {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [...spec.tags],
    parameters: [...parameters("path", spec.params), ...parameters("query", spec.querystring)],
    responses,
    security: spec.auth ? [{ bearer: [] }] : [],
  };
  if (spec.body !== undefined || spec.bodyContentType === "message/mls") {
    const type = spec.bodyContentType ?? "application/json";
    op.requestBody = {
      required: true,
      content: { [type]: { schema: type === "message/mls" ? { type: "string", format: "binary" } : spec.body } },
    };
  }
  return op;
}

/** The OpenAPI 3.1 document of `routes` (served at GET /v1/openapi.json). */
export function buildOpenApi(routes: readonly RouteSpec[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of routes) {
    const path = spec.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation(spec);
  }
  paths[DS_STREAM_PATH] = { get: streamOperation };
  return {
    openapi: "3.1.0",
    info,
    // Relative to where the document is served: the server's own origin (the paths carry /v1).
    servers: [{ url: "/", description: "this server" }],
    paths,
    components: {
      schemas: { Error: errorBody },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "token from POST /v1/clients or POST /v1/auth/tokens" } },
    },
    "x-error-codes": API_ERROR_STATUS,
  };
}

/**
 * GET /v1/stream is a WebSocket (ds/stream.ts), which OpenAPI cannot describe
 * as such: the upgrade is documented as an operation answering 101, and the
 * JSON frames each way under x-websocket-frames.
 */
const streamOperation: JsonSchema = {
  operationId: "openStream",
  summary: "WebSocket push of the client's queue (upgrade)",
  description:
    "Upgrade to a WebSocket. The server sends every queue entry after `after`, then each new one as it arrives, as {type:'message', entry}. " +
    "The client may send {type:'ack', upTo}, answered by {type:'acked', upTo, acknowledged}. A frame the server cannot use, or one over the " +
    "client's rate limit, is answered by {type:'error', error:{code, message}} and the connection stays open. Each upgrade and each client " +
    "frame count against the same per-IP and per-client rate limits as HTTP requests; a client may hold a limited number of open streams (429 beyond).",
  tags: ["delivery"],
  parameters: [
    { name: "after", in: "query", required: false, description: "queue entry id to resume after (default 0)", schema: { type: "string", pattern: "^(0|[1-9][0-9]{0,15})$" } },
    { name: "token", in: "query", required: false, description: "bearer token, for browsers that cannot set the Authorization header", schema: { type: "string" } },
  ],
  responses: {
    "101": { description: "Switching Protocols" },
    "426": { description: "error: UPGRADE_REQUIRED (a GET without Upgrade: websocket)", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    default: { description: "the upgrade was refused (401, 429 RATE_LIMITED, 400, 404)", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  },
  security: [{ bearer: [] }],
  "x-websocket-frames": {
    server: {
      oneOf: [
        { type: "object", required: ["type", "entry"], properties: { type: { const: "message" }, entry: { type: "object" } } },
        { type: "object", required: ["type", "upTo", "acknowledged"], properties: { type: { const: "acked" }, upTo: { type: "integer" }, acknowledged: { type: "integer" } } },
        { type: "object", required: ["type", "error"], properties: { type: { const: "error" }, error: { $ref: "#/components/schemas/Error/properties/error" } } },
      ],
    },
    client: { type: "object", required: ["type", "upTo"], properties: { type: { const: "ack" }, upTo: { type: "integer", minimum: 0 } } },
  },
};
