/** AS credential routes: issue, list, status, revoke, validate, same-client (RFC 9750 §4). */
import {
  ROUTES,
  type AsKeysResponse,
  type CredentialStatusResponse,
  type IssueCredentialRequest,
  type IssueCredentialResponse,
  type ListCredentialsResponse,
  type RevokeCredentialRequest,
  type SameClientRequest,
  type SameClientResponse,
  type ValidateCredentialRequest,
  type ValidationResult,
} from "@conclave/api";
import { clientOf, type ConclaveContext } from "../context.js";
import * as S from "../schemas.js";
import { basicIdentity, domainOfPresented } from "../../federation/remoteIdentity.js";

export function credentialRoutes(ctx: ConclaveContext): void {
  const { routes, as } = ctx;
  const tags = ["as"];

  routes.define(
    {
      method: "GET",
      url: ROUTES.asKeys.path,
      operationId: "asKeys",
      summary: "The AS root certificate and transparency log key, for clients to pin",
      tags,
      auth: false,
      responses: { 200: S.asKeysResponse },
    },
    async (): Promise<AsKeysResponse> => as.publicKeys(),
  );

  routes.define<IssueCredentialRequest>(
    {
      method: "POST",
      url: ROUTES.issueCredential.path,
      operationId: "issueCredential",
      summary: "A credential for your own signature key, logged in the transparency log (201 new, 200 re-handed basic credential)",
      tags,
      auth: true,
      body: S.issueCredentialRequest,
      responses: { 200: S.issueCredentialResponse, 201: S.issueCredentialResponse },
    },
    async (req, reply): Promise<IssueCredentialResponse> => {
      const { created, body } = await as.credentials.issue(clientOf(req), req.body.type);
      void reply.code(created ? 201 : 200);
      return body;
    },
  );

  routes.define(
    {
      method: "GET",
      url: ROUTES.listCredentials.path,
      operationId: "listCredentials",
      summary: "Every credential issued to your user's clients",
      tags,
      auth: true,
      responses: { 200: S.listCredentialsResponse },
    },
    async (req): Promise<ListCredentialsResponse> => ({ credentials: await as.credentials.listForUser(clientOf(req)) }),
  );

  routes.define<unknown, unknown, { credentialId: string }>(
    {
      method: "GET",
      url: ROUTES.credentialStatus.path,
      operationId: "credentialStatus",
      summary: "Valid, expired or revoked",
      tags,
      auth: false,
      params: S.credentialParams,
      responses: { 200: S.credentialStatusResponse },
    },
    async (req): Promise<CredentialStatusResponse> => as.credentials.status(req.params.credentialId),
  );

  routes.define<RevokeCredentialRequest, unknown, { credentialId: string }>(
    {
      method: "POST",
      url: ROUTES.revokeCredential.path,
      operationId: "revokeCredential",
      summary: "Revoke a credential of your own user",
      tags,
      auth: true,
      params: S.credentialParams,
      body: S.revokeCredentialRequest,
      responses: { 200: S.credentialStatusResponse },
    },
    async (req): Promise<CredentialStatusResponse> => as.credentials.revoke(clientOf(req), req.params.credentialId, req.body.reason ?? "unspecified"),
  );

  routes.define<ValidateCredentialRequest>(
    {
      method: "POST",
      url: ROUTES.validateCredential.path,
      operationId: "validateCredential",
      summary: "Validate a credential and signature key against a reference identifier (RFC 9420 §5.3.1)",
      tags,
      auth: true,
      body: S.validateRequest,
      responses: { 200: S.validationResult },
    },
    async (req): Promise<ValidationResult> => {
      // A credential of another domain is validated by that domain's AS, with its log's proofs (issue 22).
      const domain = domainOfPresented(req.body, req.body.reference, basicIdentity);
      const fed = req.server.conclaveFederation;
      if (domain === undefined || domain === ctx.domain || fed === undefined) return as.validator.validate(req.body, req.body.reference);
      return fed.identity.validate(domain, { credential: req.body.credential, signatureKey: req.body.signatureKey, cipherSuite: req.body.cipherSuite }, req.body.reference);
    },
  );

  routes.define<SameClientRequest>(
    {
      method: "POST",
      url: ROUTES.sameClient.path,
      operationId: "sameClient",
      summary: "Do two credentials represent the same client?",
      tags,
      auth: true,
      body: S.sameClientRequest,
      responses: { 200: S.sameClientResponse },
    },
    async (req): Promise<SameClientResponse> => as.validator.sameClient(req.body.a, req.body.b),
  );
}
