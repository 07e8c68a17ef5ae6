/**
 * The OpenAPI 3.1 document of the server, generated from the RouteRegistry
 * (served at GET /v1/openapi.json).
 */
import { API_ERROR_STATUS } from "@conclave/api";
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

function operation(spec: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(spec.responses)) {
    responses[status] =
      schema === null
        ? { description: spec.responseContentType !== undefined ? "binary body" : "no content", ...(spec.responseContentType !== undefined ? { content: { [spec.responseContentType]: { schema: { type: "string", format: "binary" } } } } : {}) }
        : { description: "success", content: { "application/json": { schema } } };
  }
  responses["default"] = { description: "error (see the error codes in @conclave/api)", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
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

export function buildOpenApi(routes: readonly RouteSpec[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of routes) {
    const path = spec.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    (paths[path] ??= {})[spec.method.toLowerCase()] = operation(spec);
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      schemas: { Error: errorBody },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "token from POST /v1/clients or POST /v1/auth/tokens" } },
    },
    "x-error-codes": API_ERROR_STATUS,
  };
}
