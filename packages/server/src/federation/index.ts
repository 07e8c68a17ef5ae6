/**
 * Federation between Conclave domains (issue 22, docs/federation.md): what
 * createConclaveServer installs when given `federation` options.
 */
import type { FastifyInstance } from "fastify";
import type { ConclaveContext } from "../http/context.js";
import type { FederationOptions } from "./options.js";
import { installFederationRoutes } from "./routes.js";
import { FederationService } from "./service.js";

export async function installFederation(app: FastifyInstance, ctx: ConclaveContext, options: FederationOptions, keyEncryptionKey: Uint8Array | undefined): Promise<FederationService> {
  const fed = await FederationService.create({
    store: ctx.store,
    crypto: ctx.crypto,
    clock: ctx.clock,
    domain: ctx.domain,
    options,
    ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }),
  });
  await installFederationRoutes(app, ctx, fed, []);
  app.decorate("conclaveFederation", fed);
  return fed;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Set when the server federates (tests and in-process tools reach the service through it). */
    conclaveFederation?: FederationService;
  }
}
