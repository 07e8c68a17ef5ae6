/**
 * Federation routes (issue 22):
 * - GET /.well-known/conclave-federation: the domain's key and endpoints (public).
 * - /federation/v1/*: server-to-server routes; each request is verified by
 *   requestAuth.ts before its handler runs, with the raw body bytes (the
 *   signature covers their hash), capped at the configured size.
 * - GET /v1/admin/federation: peers, pins and events (admin token).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError, FEDERATION_WELL_KNOWN_PATH, type FederationAdminResponse, type FederationPingResponse } from "@conclave/api";
import { constantTimeEqual } from "@conclave/mls";
import { sha256 } from "../crypto.js";
import type { ConclaveContext } from "../http/context.js";
import { object, type JsonSchema } from "../http/schemas.js";
import type { VerifiedPeer } from "./requestAuth.js";
import type { FederationService } from "./service.js";

/** What an S2S handler gets: the verified peer and the body, parsed. */
export interface PeerRequest {
  readonly peer: VerifiedPeer;
  readonly body: unknown;
  readonly request: FastifyRequest;
}

export type PeerHandler = (r: PeerRequest) => Promise<unknown>;

/** The S2S routes a feature adds: method, path under /federation/v1, handler. */
export interface PeerRoute {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly handler: PeerHandler;
}

const enc = new TextEncoder();

/** The admin token check of the admin routes (hashes first: the same time whatever the lengths). */
export function requireAdmin(adminToken: string | undefined, authorization: string | undefined): void {
  const given = /^Bearer (.{1,512})$/.exec(authorization ?? "")?.[1];
  if (adminToken === undefined || given === undefined || !constantTimeEqual(sha256(enc.encode(given)), sha256(enc.encode(adminToken)))) {
    throw new ApiError("ADMIN_TOKEN_INVALID", "this route needs the server's admin token");
  }
}

const str: JsonSchema = { type: "string" };
const nullable = (t: string): JsonSchema => ({ type: [t, "null"] });
const adminResponse = object({
  domain: str,
  signatureKey: str,
  peers: {
    type: "array",
    items: object({ domain: str, signatureKey: nullable("string"), source: nullable("string"), pinnedAt: nullable("integer"), url: nullable("string"), allowed: { type: "boolean" } }),
  },
  events: { type: "array", items: object({ id: { type: "integer" }, at: { type: "integer" }, domain: str, kind: str, detail: str }) },
});

function parseJson(raw: Uint8Array): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(raw).toString("utf8")) as unknown;
  } catch {
    throw new ApiError("MALFORMED_JSON", "the federation request body is not JSON");
  }
}

export async function installFederationRoutes(app: FastifyInstance, ctx: ConclaveContext, fed: FederationService, peerRoutes: readonly PeerRoute[]): Promise<void> {
  app.get(FEDERATION_WELL_KNOWN_PATH, async () => fed.document());

  await app.register(async (s2s) => {
    // Raw bytes: the signature covers their hash; JSON is parsed only once the request is verified.
    s2s.removeAllContentTypeParsers();
    s2s.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit: fed.options.maxBodyBytes }, (_req, body, done) => {
      const b = body as Buffer;
      done(null, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
    const all: PeerRoute[] = [{ method: "POST", path: "/ping", handler: async ({ peer }): Promise<FederationPingResponse> => ({ domain: fed.domain, from: peer.domain }) }, ...peerRoutes];
    for (const r of all) {
      s2s.route({
        method: r.method,
        url: `/federation/v1${r.path}`,
        bodyLimit: fed.options.maxBodyBytes,
        handler: async (request) => {
          const raw = request.body instanceof Uint8Array ? request.body : new Uint8Array(0);
          const peer = await fed.auth.verify({ method: request.method, url: request.url, headers: request.headers, body: raw });
          return r.handler({ peer, body: parseJson(raw), request });
        },
      });
    }
  });

  ctx.routes.define(
    {
      method: "GET",
      url: "/v1/admin/federation",
      operationId: "federationAdmin",
      summary: "Federation peers, pinned keys and events (Authorization: Bearer <admin token>)",
      tags: ["federation"],
      auth: false,
      responses: { 200: adminResponse },
    },
    async (req): Promise<FederationAdminResponse> => {
      requireAdmin(ctx.as.accountOptions.adminToken, req.headers.authorization);
      return fed.adminView();
    },
  );
}
