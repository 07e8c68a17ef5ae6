/** GET /v1/health and GET /v1/openapi.json */
import { ApiError, ROUTES, type HealthResponse } from "@conclave/api";
import type { ConclaveContext } from "../context.js";
import { buildOpenApi } from "../openapi.js";
import { healthResponse, type JsonSchema } from "../schemas.js";

const anyObject: JsonSchema = { type: "object", additionalProperties: true };

export function healthRoutes(ctx: ConclaveContext): void {
  ctx.routes.define(
    {
      method: "GET",
      url: ROUTES.health.path,
      operationId: "health",
      summary: "Liveness and storage reachability",
      tags: ["server"],
      auth: false,
      responses: { 200: healthResponse },
    },
    async (): Promise<HealthResponse> => {
      try {
        await ctx.store.ping();
      } catch (e) {
        throw new ApiError("SERVICE_UNAVAILABLE", "storage unreachable", { cause: e });
      }
      return { status: "ok", storage: ctx.store.engine, time: ctx.clock() };
    },
  );

  let cached: JsonSchema | undefined;
  ctx.routes.define(
    {
      method: "GET",
      url: ROUTES.openapi.path,
      operationId: "openapi",
      summary: "This OpenAPI 3.1 document",
      tags: ["server"],
      auth: false,
      responses: { 200: anyObject },
    },
    async () => (cached ??= buildOpenApi(ctx.routes.routes, { title: "Conclave DS/AS", version: "1", description: "RFC 9750 Delivery Service and Authentication Service" })),
  );
}
