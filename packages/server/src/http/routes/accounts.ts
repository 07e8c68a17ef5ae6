/** Accounts, devices and bearer tokens (AS side of RFC 9750 §3.1, §5 authentication; issue 23). */
import {
  ApiError,
  ROUTES,
  toBase64Url,
  type ChallengeResponse,
  type ClientInfo,
  type CreateAccountRequest,
  type CreateAccountResponse,
  type CreateInviteResponse,
  type DeviceApprovalRequest,
  type DeviceApprovalResponse,
  type DeviceChangesResponse,
  type ListClientsResponse,
  type LoginRequest,
  type RecoveryRevokeRequest,
  type RegisterClientRequest,
  type RevokeClientResponse,
  type RotateRecoveryCodeResponse,
  type TokenResponse,
  type UpgradeClientRequest,
  type UpgradeClientResponse,
} from "@conclave/api";
import { constantTimeEqual } from "@conclave/mls";
import { sha256 } from "../../crypto.js";
import { clientOf, intParam, type ConclaveContext } from "../context.js";
import * as S from "../schemas.js";
import * as A from "./accountSchemas.js";

const enc = new TextEncoder();

export function accountRoutes(ctx: ConclaveContext): void {
  const { routes, as } = ctx;
  const tags = ["accounts"];

  routes.define<CreateAccountRequest>(
    {
      method: "POST",
      url: ROUTES.createAccount.path,
      operationId: "createAccount",
      summary: "Claim a user name with a proof; returns its recovery code (once)",
      tags,
      auth: false,
      body: A.createAccountRequest,
      responses: { 201: A.createAccountResponse },
    },
    async (req, reply): Promise<CreateAccountResponse> => {
      const body = await as.registrar.createAccount(req.body.user, req.body.proof, req.ip);
      void reply.code(201);
      return body;
    },
  );

  routes.define(
    {
      method: "POST",
      url: ROUTES.createInvite.path,
      operationId: "createInvite",
      summary: "A single-use invite token (Authorization: Bearer <admin token>)",
      tags,
      auth: false,
      responses: { 201: A.createInviteResponse },
    },
    async (req, reply): Promise<CreateInviteResponse> => {
      const admin = as.accountOptions.adminToken;
      const given = /^Bearer (.{1,512})$/.exec(req.headers.authorization ?? "")?.[1];
      // Hashes first: the comparison takes the same time whatever the lengths.
      if (admin === undefined || given === undefined || !constantTimeEqual(sha256(enc.encode(given)), sha256(enc.encode(admin)))) {
        throw new ApiError("ADMIN_TOKEN_INVALID", "this route needs the server's admin token");
      }
      const body = await as.createInvite();
      void reply.code(201);
      return body;
    },
  );

  routes.define(
    {
      method: "POST",
      url: ROUTES.createChallenge.path,
      operationId: "createChallenge",
      summary: "A fresh single-use challenge for the deniable handshake (see @conclave/api auth.ts)",
      tags,
      auth: false,
      responses: { 201: A.challengeResponse },
    },
    async (_req, reply): Promise<ChallengeResponse> => {
      const c = await as.auth.createChallenge();
      void reply.code(201);
      return { nonce: toBase64Url(c.nonce), expiresAt: c.expiresAt, domain: as.domain, serverKey: toBase64Url(c.serverKey), serverEphemeral: toBase64Url(c.serverEphemeral) };
    },
  );

  routes.define<RegisterClientRequest>(
    {
      method: "POST",
      url: ROUTES.registerClient.path,
      operationId: "registerClient",
      summary: "Register a device: proof of its keys and the recovery code or an approval by a device of the account",
      tags,
      auth: false,
      body: A.registerClientRequest,
      responses: { 201: S.tokenResponse },
    },
    async (req, reply): Promise<TokenResponse> => {
      const body = await as.registrar.registerClient(req.body);
      void reply.code(201);
      return body;
    },
  );

  routes.define<LoginRequest>(
    {
      method: "POST",
      url: ROUTES.login.path,
      operationId: "login",
      summary: "A bearer token for a registered client, against the handshake",
      tags,
      auth: false,
      body: A.loginRequest,
      responses: { 201: S.tokenResponse },
    },
    async (req, reply): Promise<TokenResponse> => {
      const body = await as.registrar.login(req.body);
      void reply.code(201);
      return body;
    },
  );

  routes.define<UpgradeClientRequest>(
    {
      method: "POST",
      url: ROUTES.upgradeClient.path,
      operationId: "upgradeClient",
      summary: "A device registered before auth keys binds one, once (as/legacyUpgrade.ts)",
      tags,
      auth: false,
      body: A.upgradeClientRequest,
      responses: { 201: A.upgradeClientResponse },
    },
    async (req, reply): Promise<UpgradeClientResponse> => {
      const body = await as.legacy.upgrade(req.body);
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
    {
      method: "GET",
      url: ROUTES.listUserClients.path,
      operationId: "listUserClients",
      summary: "All clients (devices) of a user, revoked ones included",
      tags,
      auth: true,
      params: S.userParams,
      responses: { 200: S.listClientsResponse },
    },
    async (req): Promise<ListClientsResponse> => ({ clients: await as.registrar.listClients(req.params.user) }),
  );

  routes.define<unknown, unknown, { user: string; device: string }>(
    {
      method: "POST",
      url: ROUTES.revokeClient.path,
      operationId: "revokeClient",
      summary: "Revoke another device of your account with its credentials and tokens",
      tags,
      auth: true,
      params: S.userDeviceParams,
      responses: { 200: S.revokeClientResponse },
    },
    async (req): Promise<RevokeClientResponse> => as.devices.revokeByDevice(clientOf(req), req.params.user, req.params.device),
  );

  routes.define<RecoveryRevokeRequest, unknown, { user: string; device: string }>(
    {
      method: "POST",
      url: ROUTES.revokeWithRecovery.path,
      operationId: "revokeWithRecovery",
      summary: "Revoke a device of an account with its recovery code",
      tags,
      auth: false,
      params: S.userDeviceParams,
      body: A.recoveryRevokeRequest,
      responses: { 200: S.revokeClientResponse },
    },
    async (req): Promise<RevokeClientResponse> => as.devices.revokeWithRecovery(req.params.user, req.params.device, req.body.recoveryCode),
  );

  routes.define<DeviceApprovalRequest, unknown, { user: string }>(
    {
      method: "POST",
      url: ROUTES.approveDevice.path,
      operationId: "approveDevice",
      summary: "Approve a new device of your account (signed by this device)",
      tags,
      auth: true,
      params: S.userParams,
      body: A.deviceApprovalRequest,
      responses: { 201: A.deviceApprovalResponse },
    },
    async (req, reply): Promise<DeviceApprovalResponse> => {
      const body = await as.devices.approve(clientOf(req), req.params.user, req.body);
      void reply.code(201);
      return body;
    },
  );

  routes.define<unknown, { after?: string }, { user: string }>(
    {
      method: "GET",
      url: ROUTES.deviceChanges.path,
      operationId: "deviceChanges",
      summary: "Devices added to and revoked from your account, after a cursor",
      tags,
      auth: true,
      params: S.userParams,
      querystring: A.deviceChangesQuery,
      responses: { 200: A.deviceChangesResponse },
    },
    async (req): Promise<DeviceChangesResponse> => ({ changes: await as.devices.changes(clientOf(req), req.params.user, intParam(req.query.after, 0)) }),
  );

  routes.define<unknown, unknown, { user: string }>(
    {
      method: "POST",
      url: ROUTES.rotateRecoveryCode.path,
      operationId: "rotateRecoveryCode",
      summary: "Replace your account's recovery code (the old one stops working)",
      tags,
      auth: true,
      params: S.userParams,
      responses: { 201: A.rotateRecoveryCodeResponse },
    },
    async (req, reply): Promise<RotateRecoveryCodeResponse> => {
      const body = await as.devices.rotateRecoveryCode(clientOf(req), req.params.user);
      void reply.code(201);
      return body;
    },
  );
}
