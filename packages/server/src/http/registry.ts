/**
 * Route definitions that serve two purposes at once: each `defineRoute` call
 * registers the fastify route (validation and serialisation from its schemas)
 * and records it for the OpenAPI 3.1 document (openapi.ts), so the published
 * contract is generated from exactly what the server enforces.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { JsonSchema } from "./schemas.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
export type BodyContentType = "application/json" | "message/mls";

/** One route: what fastify validates and what the OpenAPI document says about it. */
export interface RouteSpec {
  readonly method: HttpMethod;
  /** fastify path: `/v1/users/:user/clients` */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** Needs a bearer token (runs the authenticate pre-handler). */
  readonly auth: boolean;
  readonly body?: JsonSchema;
  /** Defaults to application/json. "message/mls" bodies arrive as Uint8Array. */
  readonly bodyContentType?: BodyContentType;
  readonly querystring?: JsonSchema;
  readonly params?: JsonSchema;
  /** Status -> JSON schema (null: no body, e.g. 204). */
  readonly responses: Readonly<Record<number, JsonSchema | null>>;
  /** Content type of non-JSON success bodies (e.g. message/mls downloads). */
  readonly responseContentType?: string;
  /** Per-route body size limit in bytes (defaults to the server's limits). */
  readonly bodyLimit?: number;
}

export interface RouteRequest<B, Q, P> {
  Body: B;
  Querystring: Q;
  Params: P;
}

/** A route's handler: its result is the JSON (or message/mls) body; it throws ApiError for a 4xx answer. */
export type RouteHandler<B, Q, P> = (request: FastifyRequest<RouteRequest<B, Q, P>>, reply: FastifyReply) => Promise<unknown>;

/** Registers routes on fastify and records their specs for {@link buildOpenApi}. */
export class RouteRegistry {
  private readonly specs: RouteSpec[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly authenticate: preHandlerAsyncHookHandler,
  ) {}

  get routes(): readonly RouteSpec[] {
    return this.specs;
  }

  define<B = unknown, Q = unknown, P = unknown>(spec: RouteSpec, handler: RouteHandler<B, Q, P>): void {
    this.specs.push(spec);
    const response: Record<number, JsonSchema> = {};
    for (const [status, schema] of Object.entries(spec.responses)) if (schema !== null) response[Number(status)] = schema;
    this.app.route<RouteRequest<B, Q, P>>({
      method: spec.method,
      url: spec.url,
      schema: {
        ...(spec.body !== undefined ? { body: spec.body } : {}),
        ...(spec.querystring !== undefined ? { querystring: spec.querystring } : {}),
        ...(spec.params !== undefined ? { params: spec.params } : {}),
        response,
      },
      ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
      ...(spec.auth ? { preHandler: this.authenticate } : {}),
      handler: handler as never,
    });
  }
}
