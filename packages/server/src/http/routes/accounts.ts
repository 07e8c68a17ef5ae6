/** Accounts, client registration and bearer tokens (AS side of RFC 9750 §3.1, §5 authentication). */
import {
  ROUTES,
  toBase64Url,
  type ChallengeResponse,
  type ClientInfo,
  type CreateAccountRequest,
  type CreateAccountResponse,
  type ListClientsResponse,
  type LoginRequest,
  type RegisterClientRequest,
  type RevokeClientResponse,
  type TokenResponse,
} from "@conclave/api";
import { clientOf, type ConclaveContext } from "../context.js";
import * as S from "../schemas.js";

export function accountRoutes(ctx: ConclaveContext): void {
  const { routes, as } = ctx;
  const tags = ["accounts"];

  routes.define<CreateAccountRequest>(
    { method: "POST", url: ROUTES.createAccount.path, operationId: "createAccount", summary: "Claim a user name; returns its account secret", tags, auth: false, body: S.createAccountRequest, responses: { 201: S.createAccountResponse } },
    async (req, reply): Promise<CreateAccountResponse> => {
      const body = await as.registrar.createAccount(req.body.user);
      void reply.code(201);
      return body;
    },
  );

  routes.define(
    { method: "POST", url: ROUTES.createChallenge.path, operationId: "createChallenge", summary: "A fresh single-use nonce to sign (see @conclave/api auth.ts)", tags, auth: false, responses: { 201: S.challengeResponse } },
    async (_req, reply): Promise<ChallengeResponse> => {
      const { nonce, expiresAt } = await as.auth.createChallenge();
      void reply.code(201);
      return { nonce: toBase64Url(nonce), expiresAt, domain: as.domain };
    },
  );

  routes.define<RegisterClientRequest>(
    { method: "POST", url: ROUTES.registerClient.path, operationId: "registerClient", summary: "Register a device with the account secret and a signed challenge", tags, auth: false, body: S.registerClientRequest, responses: { 201: S.tokenResponse } },
    async (req, reply): Promise<TokenResponse> => {
      const body = await as.registrar.registerClient(req.body);
      void reply.code(201);
      return body;
    },
  );

  routes.define<LoginRequest>(
    { method: "POST", url: ROUTES.login.path, operationId: "login", summary: "A bearer token for a registered client, against a signed challenge", tags, auth: false, body: S.loginRequest, responses: { 201: S.tokenResponse } },
    async (req, reply): Promise<TokenResponse> => {
      const body = await as.registrar.login(req.body);
      void reply.code(201);
      return body;
    },
  );

  routes.define(
    { method: "DELETE", url: ROUTES.logout.path, operationId: "logout", summary: "Invalidate the bearer token of this request", tags, auth: true, responses: { 204: null } },
    async (req, reply) => {
      await as.auth.revokeToken(clientOf(req).tokenHash);
      return reply.code(204).send();
    },
  );

  routes.define(
    { method: "GET", url: ROUTES.currentClient.path, operationId: "currentClient", summary: "The authenticated client", tags, auth: true, responses: { 200: S.clientInfo } },
    async (req): Promise<ClientInfo> => as.registrar.currentClient(clientOf(req)),
  );

  routes.define<unknown, unknown, { user: string }>(
    { method: "GET", url: ROUTES.listUserClients.path, operationId: "listUserClients", summary: "All clients (devices) of a user, revoked ones included", tags, auth: true, params: S.userParams, responses: { 200: S.listClientsResponse } },
    async (req): Promise<ListClientsResponse> => ({ clients: await as.registrar.listClients(req.params.user) }),
  );

  routes.define<unknown, unknown, { user: string; device: string }>(
    { method: "POST", url: ROUTES.revokeClient.path, operationId: "revokeClient", summary: "Revoke a client of your own user with its credentials and tokens", tags, auth: true, params: S.userDeviceParams, responses: { 200: S.revokeClientResponse } },
    async (req): Promise<RevokeClientResponse> => as.registrar.revokeClient(clientOf(req), req.params.user, req.params.device),
  );
}
