/**
 * Accounts and clients (RFC 9750 §3.1 "account creation", §3.7 users and clients).
 *
 * Model: a user name is claimed once with POST /v1/accounts, which returns an
 * account secret (32 random bytes, shown once, stored as SHA-256). Each device
 * of the user registers as its own MLS client with that secret plus proof of
 * possession of its signature key; registration and later logins return
 * bearer tokens. Any client of a user may revoke any client of the same user
 * (a lost phone is revoked from the laptop), which also revokes its
 * credentials and tokens.
 */
import {
  ApiError,
  AuthPurpose,
  formatClientIdentity,
  formatUserIdentity,
  fromBase64Url,
  toBase64Url,
  type ClientInfo,
  type CreateAccountResponse,
  type LoginRequest,
  type RegisterClientRequest,
  type RevokeClientResponse,
  type TokenResponse,
} from "@conclave/api";
import { CIPHER_SUITES, constantTimeEqual, isCipherSuiteId, MlsError, type CipherSuiteId } from "@conclave/mls";
import { randomBytes, sha256, type Clock } from "../crypto.js";
import type { ClientRecord, Store } from "../storage/store.js";
import type { AuthenticatedClient, ClientAuth } from "../auth/clientAuth.js";
import { hasSignatureKeyShape } from "./spki.js";

const ACCOUNT_SECRET_LENGTH = 32;

export function clientInfo(c: ClientRecord, domain: string): ClientInfo {
  return {
    identity: formatClientIdentity({ user: c.user, domain, device: c.device }),
    user: c.user,
    device: c.device,
    cipherSuite: c.cipherSuite,
    signatureKey: toBase64Url(c.signatureKey),
    createdAt: c.createdAt,
    revokedAt: c.revokedAt,
  };
}

export function requireCipherSuite(n: number): CipherSuiteId {
  if (!isCipherSuiteId(n)) throw new MlsError("UNSUPPORTED_CIPHER_SUITE", `unknown cipher suite ${n}`);
  return n;
}

export class Registrar {
  constructor(
    private readonly store: Store,
    private readonly auth: ClientAuth,
    private readonly clock: Clock,
  ) {}

  private get domain(): string {
    return this.auth.domain;
  }

  async createAccount(user: string): Promise<CreateAccountResponse> {
    const identity = formatUserIdentity({ user, domain: this.domain });
    const secret = randomBytes(ACCOUNT_SECRET_LENGTH);
    const createdAt = this.clock();
    if (!(await this.store.accounts.create({ user, secretHash: sha256(secret), createdAt }))) {
      throw new ApiError("ACCOUNT_EXISTS", `user name ${user} is taken`);
    }
    return { user, identity, accountSecret: toBase64Url(secret), createdAt };
  }

  async registerClient(req: RegisterClientRequest): Promise<TokenResponse> {
    formatClientIdentity({ user: req.user, domain: this.domain, device: req.device }); // INVALID_NAME
    const cipherSuite = requireCipherSuite(req.cipherSuite);
    const signatureKey = fromBase64Url(req.signatureKey, "signatureKey");
    if (!hasSignatureKeyShape(CIPHER_SUITES[cipherSuite].signature, signatureKey)) {
      throw new ApiError("INVALID_SIGNATURE_KEY", `not a ${CIPHER_SUITES[cipherSuite].signature} public key`);
    }
    const secret = fromBase64Url(req.accountSecret, "accountSecret");
    await this.auth.verifyPossession(req.nonce, req.signature, {
      purpose: AuthPurpose.register,
      user: req.user,
      device: req.device,
      cipherSuite,
      signatureKey,
    });
    const account = await this.store.accounts.get(req.user);
    if (account === undefined) throw new ApiError("ACCOUNT_NOT_FOUND", `no account ${req.user}`);
    if (!constantTimeEqual(sha256(secret), account.secretHash)) throw new ApiError("ACCOUNT_SECRET_INVALID", "wrong account secret");
    return this.store.transaction(async (tx) => {
      const created = await tx.clients.create({ user: req.user, device: req.device, cipherSuite, signatureKey, createdAt: this.clock() });
      if (!created.ok) {
        throw created.conflict === "device"
          ? new ApiError("CLIENT_EXISTS", `device ${req.device} of ${req.user} is already registered`)
          : new ApiError("SIGNATURE_KEY_IN_USE", "another client registered this signature key");
      }
      const token = await this.auth.issueToken(tx, created.client.id);
      return { ...token, client: clientInfo(created.client, this.domain) };
    });
  }

  async login(req: LoginRequest): Promise<TokenResponse> {
    formatClientIdentity({ user: req.user, domain: this.domain, device: req.device });
    // Look the client up first: the signed context names its registered key and suite.
    const client = await this.store.clients.getByName(req.user, req.device);
    if (client === undefined) throw new ApiError("CLIENT_NOT_FOUND", `no client ${req.device} of ${req.user}`);
    await this.auth.verifyPossession(req.nonce, req.signature, {
      purpose: AuthPurpose.login,
      user: client.user,
      device: client.device,
      cipherSuite: client.cipherSuite,
      signatureKey: client.signatureKey,
    });
    if (client.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
    return this.store.transaction(async (tx) => {
      const current = await tx.clients.get(client.id);
      if (current === undefined || current.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
      const token = await this.auth.issueToken(tx, client.id);
      return { ...token, client: clientInfo(current, this.domain) };
    });
  }

  async currentClient(caller: AuthenticatedClient): Promise<ClientInfo> {
    const c = await this.store.clients.get(caller.id);
    if (c === undefined) throw new ApiError("CLIENT_NOT_FOUND", "client vanished");
    return clientInfo(c, this.domain);
  }

  async listClients(user: string): Promise<ClientInfo[]> {
    formatUserIdentity({ user, domain: this.domain });
    if ((await this.store.accounts.get(user)) === undefined) throw new ApiError("ACCOUNT_NOT_FOUND", `no account ${user}`);
    return (await this.store.clients.listByUser(user)).map((c) => clientInfo(c, this.domain));
  }

  /** Revokes a client of the caller's own user: the client, all its credentials, all its tokens, atomically. */
  async revokeClient(caller: AuthenticatedClient, user: string, device: string): Promise<RevokeClientResponse> {
    if (caller.user !== user) throw new ApiError("FORBIDDEN", "clients can only revoke clients of their own user");
    const now = this.clock();
    return this.store.transaction(async (tx) => {
      const target = await tx.clients.getByName(user, device);
      if (target === undefined) throw new ApiError("CLIENT_NOT_FOUND", `no client ${device} of ${user}`);
      await tx.clients.revoke(target.id, now);
      let revokedCredentials = 0;
      const seen = new Set<string>();
      for (const cred of await tx.credentials.listByClient(target.id)) {
        const key = toBase64Url(cred.credentialHash);
        if (seen.has(key)) continue;
        seen.add(key);
        if (await tx.credentials.revoke({ credentialHash: cred.credentialHash, revokedAt: now, reason: "client revoked", revokedBy: caller.id })) {
          revokedCredentials++;
        }
      }
      await tx.auth.deleteClientTokens(target.id);
      const after = (await tx.clients.get(target.id))!;
      return { client: clientInfo(after, this.domain), revokedCredentials };
    });
  }
}
