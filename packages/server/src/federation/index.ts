/**
 * Federation between Conclave domains (issue 22, docs/federation.md): what
 * createConclaveServer installs when given `federation` options.
 */
import type { FastifyInstance } from "fastify";
import { ApiError, isUserName, type FederationClaimRequest, type FederationValidateRequest } from "@conclave/api";
import type { DsServices } from "../ds/routes.js";
import type { ConclaveContext } from "../http/context.js";
import type { FederationOptions } from "./options.js";
import { acceptDelivery } from "./followerInbox.js";
import { FederatedGroups, runGroupAct } from "./groupRouter.js";
import { HubPusher } from "./hubPush.js";
import { answerValidate } from "./remoteIdentity.js";
import { installFederationRoutes, type PeerRoute } from "./routes.js";
import { FederationService } from "./service.js";

function record(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new ApiError("BAD_REQUEST", "expected a JSON object");
  return body as Record<string, unknown>;
}

function suites(v: unknown): number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > 8 || !v.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 65535)) {
    throw new ApiError("BAD_REQUEST", "cipherSuites: 1..8 cipher suite numbers");
  }
  return v as number[];
}

function shortString(v: unknown, what: string, max = 65536 * 2): string {
  if (typeof v !== "string" || v.length > max) throw new ApiError("BAD_REQUEST", `${what}: expected a string`);
  return v;
}

/** The S2S routes of remote KeyPackages and identity (the answering side). */
function identityRoutes(ctx: ConclaveContext, ds: DsServices): PeerRoute[] {
  return [
    {
      method: "POST",
      path: "/key-packages/claim",
      handler: async ({ body }) => {
        const b = record(body) as Partial<FederationClaimRequest>;
        const user = shortString(b.user, "user", 64);
        if (!isUserName(user)) throw new ApiError("INVALID_NAME", "not a user name");
        return ds.keyPackages.claim(user, suites(b.cipherSuites));
      },
    },
    {
      method: "POST",
      path: "/as/validate",
      handler: async ({ body }) => {
        const b = record(body);
        const p = record(b.presented);
        const cipherSuite = p.cipherSuite;
        if (!Number.isInteger(cipherSuite)) throw new ApiError("BAD_REQUEST", "presented.cipherSuite: expected an integer");
        const req: FederationValidateRequest = {
          presented: { credential: shortString(p.credential, "credential"), signatureKey: shortString(p.signatureKey, "signatureKey", 1024), cipherSuite: cipherSuite as number },
          ...(b.reference === undefined ? {} : { reference: shortString(b.reference, "reference", 400) }),
          knownTreeSize: typeof b.knownTreeSize === "number" ? b.knownTreeSize : 0,
        };
        return answerValidate(ctx.as, ctx.store, req);
      },
    },
  ];
}

export async function installFederation(
  app: FastifyInstance,
  ctx: ConclaveContext,
  ds: DsServices,
  options: FederationOptions,
  keyEncryptionKey: Uint8Array | undefined,
): Promise<FederationService> {
  const fed = await FederationService.create({
    store: ctx.store,
    crypto: ctx.crypto,
    clock: ctx.clock,
    domain: ctx.domain,
    options,
    logPublicKey: ctx.as.keys.log.publicKey,
    ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }),
  });
  // Hub and followers (MIMI): stand-ins for remote members, fan-out, and the forwarding of this domain's users' requests.
  const members = fed.members;
  ds.local.resolveRemoteLeavesWith((leaves) => members.resolve(leaves));
  ds.groups = new FederatedGroups(ds.local, fed, ctx.store);
  const hubRoutes: PeerRoute[] = [
    { method: "POST", path: "/groups/act", handler: async ({ peer, body }) => runGroupAct(ds.local, members, peer.domain, body) },
    { method: "POST", path: "/deliver", handler: async ({ peer, body }) => acceptDelivery(fed, ctx.store, ds.notifier, peer.domain, body) },
  ];
  await installFederationRoutes(app, ctx, fed, [...identityRoutes(ctx, ds), ...hubRoutes]);
  app.decorate("conclaveFederation", fed);
  const pusher = new HubPusher(fed, members, ds.queues, (domain, err) => app.log.warn({ err, domain }, "federation delivery failed: retrying"));
  pusher.start(fed.options.pushIntervalMs);
  app.addHook("preClose", async () => pusher.stop());
  return fed;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Set when the server federates (tests and in-process tools reach the service through it). */
    conclaveFederation?: FederationService;
  }
}
