/**
 * What route modules receive: the services, the limits, and the registry to
 * define routes with. The DS adds its service here and its routes module to
 * ROUTE_MODULES in app.ts.
 */
import type { FastifyRequest } from "fastify";
import { ApiError } from "@conclave/api";
import type { CryptoProvider } from "@conclave/mls";
import type { AuthenticationService } from "../as/service.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";
import type { ServerLimits } from "./options.js";
import type { RouteRegistry } from "./registry.js";
import type { IncomingMessage } from "node:http";
import type { RateLimiter } from "./rateLimit.js";

/** What every route module gets: the store, the AS, crypto, clock, limits and the route registry (`app.conclave`). */
export interface ConclaveContext {
  readonly store: Store;
  readonly as: AuthenticationService;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly limits: ServerLimits;
  readonly domain: string;
  readonly routes: RouteRegistry;
  /** The HTTP API's token buckets (absent when disabled), for the WebSocket stream to share. */
  readonly limiters: { readonly perIp?: RateLimiter; readonly perClient?: RateLimiter };
  /** A raw request's client address as fastify's request.ip reports it (honouring trustProxy). */
  readonly ipOf: (req: IncomingMessage) => string;
}

/** A group of routes: registers them on `ctx.routes`. */
export type RouteModule = (ctx: ConclaveContext) => void;

declare module "fastify" {
  interface FastifyRequest {
    /** Set by the authenticate pre-handler on routes defined with `auth: true`. */
    client: AuthenticatedClient | null;
  }
  interface FastifyInstance {
    conclave: ConclaveContext;
  }
}

/** The authenticated client of a request on an `auth: true` route. */
export function clientOf(request: FastifyRequest): AuthenticatedClient {
  if (request.client === null) throw new ApiError("AUTH_REQUIRED", "this route needs an Authorization: Bearer token");
  return request.client;
}

/** A query-string integer already matched by `queryInteger`'s pattern. */
export function intParam(value: string | undefined, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new ApiError("BAD_REQUEST", "missing integer parameter");
    return fallback;
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new ApiError("BAD_REQUEST", `not a non-negative integer: ${value}`);
  return n;
}
