/**
 * Accounts and device registration (RFC 9750 §3.1 "account creation", §3.7
 * users and clients; issue 23).
 *
 * - A user name is claimed with a proof the configured verifier accepts
 *   (nameProof.ts), within per-IP and per-prefix limits; the answer carries a
 *   recovery code, shown once and stored as a slow hash.
 * - A device registers with proof of its MLS signature key (signature) and of
 *   its X25519 auth key (the handshake MAC), and with an authorization: the
 *   recovery code, or an approval an existing device of the account signed
 *   (devices.ts). No other secret adds a device.
 * - Login is the deniable handshake alone (auth/clientAuth.ts).
 */
import {
  ApiError,
  AuthPurpose,
  formatClientIdentity,
  formatUserIdentity,
  fromBase64Url,
  toBase64Url,
  X25519_KEY_LENGTH,
  type ClientInfo,
  type CreateAccountResponse,
  type LoginRequest,
  type NameProof,
  type RegisterClientRequest,
  type TokenResponse,
} from "@conclave/api";
import { CIPHER_SUITES, isCipherSuiteId, MlsError, type CipherSuiteId } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { ClientId, ClientRecord, Store } from "../storage/store.js";
import type { AuthenticatedClient, ClientAuth } from "../auth/clientAuth.js";
import type { AccountLimits } from "./accountLimits.js";
import type { ResolvedAccountOptions } from "./accountOptions.js";
import type { DeviceFeed } from "./deviceFeed.js";
import { recordDeviceChange } from "./deviceLog.js";
import type { NameProofVerifier } from "./nameProof.js";
import { hashRecoveryCode, newRecoveryCode, verifyRecoveryCode } from "./recoveryCode.js";
import { hasSignatureKeyShape } from "./spki.js";
import type { TransparencyLog } from "./transparencyLog.js";

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

export function requireAuthKey(text: string): Uint8Array {
  const key = fromBase64Url(text, "authKey");
  if (key.length !== X25519_KEY_LENGTH) throw new ApiError("INVALID_AUTH_KEY", `an auth key is ${X25519_KEY_LENGTH} bytes (X25519)`);
  return key;
}

export interface RegistrarDeps {
  readonly store: Store;
  readonly auth: ClientAuth;
  readonly clock: Clock;
  readonly log: TransparencyLog;
  readonly options: ResolvedAccountOptions;
  readonly nameProof: NameProofVerifier;
  readonly limits: AccountLimits;
  readonly feed: DeviceFeed;
}

export class Registrar {
  constructor(private readonly d: RegistrarDeps) {}

  private get domain(): string {
    return this.d.auth.domain;
  }

  /** Claims `user` with `proof`; `ip` is the caller's address for the creation limits. */
  async createAccount(user: string, proof: NameProof, ip: string): Promise<CreateAccountResponse> {
    const identity = formatUserIdentity({ user, domain: this.domain });
    if ((await this.d.store.accounts.get(user)) !== undefined) throw new ApiError("ACCOUNT_EXISTS", `user name ${user} is taken`);
    await this.d.limits.creation(ip);
    const recoveryCode = newRecoveryCode();
    const codeHash = await hashRecoveryCode(recoveryCode, this.d.options.recoveryCodeCost);
    const createdAt = this.d.clock();
    await this.d.store.transaction(async (tx) => {
      // The proof is spent only with the name: a taken name leaves an invite usable. (accounts.secret_hash
      // is a relic of account secrets, which no longer exist: zeros fill the NOT NULL column.)
      if (!(await tx.accounts.create({ user, secretHash: new Uint8Array(32), createdAt }))) throw new ApiError("ACCOUNT_EXISTS", `user name ${user} is taken`);
      await this.d.nameProof.verify(tx, user, proof, createdAt);
      await tx.accountSecurity.putRecoveryHash(user, codeHash, createdAt);
    });
    return { user, identity, recoveryCode, createdAt, unusedExpiresAt: createdAt + this.d.options.unusedAccountTtlMs };
  }

  /** Checks a recovery code within the per-user attempt limit; throws RECOVERY_CODE_INVALID. */
  async checkRecoveryCode(user: string, code: string): Promise<void> {
    await this.d.limits.recoveryAttempt(user);
    const stored = await this.d.store.accountSecurity.getRecoveryHash(user);
    if (stored === undefined || !(await verifyRecoveryCode(code, stored))) throw new ApiError("RECOVERY_CODE_INVALID", "wrong recovery code");
  }

  async registerClient(req: RegisterClientRequest): Promise<TokenResponse> {
    formatClientIdentity({ user: req.user, domain: this.domain, device: req.device }); // INVALID_NAME
    const cipherSuite = requireCipherSuite(req.cipherSuite);
    const signatureKey = fromBase64Url(req.signatureKey, "signatureKey");
    if (!hasSignatureKeyShape(CIPHER_SUITES[cipherSuite].signature, signatureKey)) {
      throw new ApiError("INVALID_SIGNATURE_KEY", `not a ${CIPHER_SUITES[cipherSuite].signature} public key`);
    }
    const authKey = requireAuthKey(req.authKey);
    const nonce = await this.d.auth.verifyHandshake(req, { purpose: AuthPurpose.register, user: req.user, device: req.device, authKey });
    await this.d.auth.verifyRegistrationSignature(nonce, req.signature, { purpose: AuthPurpose.register, user: req.user, device: req.device, cipherSuite, signatureKey, authKey });
    if ((await this.d.store.accounts.get(req.user)) === undefined) throw new ApiError("ACCOUNT_NOT_FOUND", `no account ${req.user}`);
    if (req.authorization.kind === "recovery") await this.checkRecoveryCode(req.user, req.authorization.recoveryCode);
    const now = this.d.clock();
    const r = await this.d.store.transaction(async (tx) => {
      let actor = "recovery";
      let evidence: Uint8Array | undefined;
      if (req.authorization.kind === "approval") {
        const approval = await tx.accountSecurity.takeApproval(req.user, req.device, signatureKey, authKey, now);
        const by = approval === undefined ? undefined : await tx.clients.get(approval.approver);
        if (by === undefined || by.revokedAt !== null || by.user !== req.user) {
          throw new ApiError("DEVICE_NOT_APPROVED", `no valid approval of these keys for ${req.device} by a device of ${req.user}`);
        }
        actor = `device:${by.device}`;
        evidence = approval!.signature;
      }
      const created = await tx.clients.create({ user: req.user, device: req.device, cipherSuite, signatureKey, createdAt: now });
      if (!created.ok) {
        throw created.conflict === "device"
          ? new ApiError("CLIENT_EXISTS", `device ${req.device} of ${req.user} is already registered`)
          : new ApiError("SIGNATURE_KEY_IN_USE", "another client registered this signature key");
      }
      await tx.accountSecurity.putAuthKey(created.client.id, authKey);
      // The leaf's hash covers the approval signature (deviceLog.ts): the log can later show which device vouched.
      await recordDeviceChange(tx, this.d.log, this.domain, { kind: "added", client: created.client, actor, ...(evidence === undefined ? {} : { evidence }) }, now);
      const token = await this.d.auth.issueToken(tx, created.client.id);
      return { token, record: created.client };
    });
    await this.d.feed.publish("added", r.record);
    return { ...r.token, client: clientInfo(r.record, this.domain) };
  }

  async login(req: LoginRequest): Promise<TokenResponse> {
    formatClientIdentity({ user: req.user, domain: this.domain, device: req.device });
    const client = await this.d.store.clients.getByName(req.user, req.device);
    const authKey = client === undefined ? undefined : await this.d.store.accountSecurity.getAuthKey(client.id);
    if (client === undefined || authKey === undefined) {
      // Spend the challenge anyway: each nonce gets one try, whoever it names.
      await this.d.auth.verifyHandshake(req, { purpose: AuthPurpose.login, user: req.user, device: req.device, authKey: new Uint8Array(X25519_KEY_LENGTH).fill(9) }).catch(() => undefined);
      throw new ApiError(
        "CLIENT_NOT_FOUND",
        client === undefined ? `no client ${req.device} of ${req.user}` : `${req.device} of ${req.user} was registered before auth keys: bind one first (POST /v1/clients/upgrade)`,
      );
    }
    await this.d.auth.verifyHandshake(req, { purpose: AuthPurpose.login, user: client.user, device: client.device, authKey });
    return this.issueFor(client.id);
  }

  private issueFor(id: ClientId): Promise<TokenResponse> {
    return this.d.store.transaction(async (tx) => {
      const current = await tx.clients.get(id);
      if (current === undefined || current.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
      const token = await this.d.auth.issueToken(tx, id);
      return { ...token, client: clientInfo(current, this.domain) };
    });
  }

  async currentClient(caller: AuthenticatedClient): Promise<ClientInfo> {
    const c = await this.d.store.clients.get(caller.id);
    if (c === undefined) throw new ApiError("CLIENT_NOT_FOUND", "client vanished");
    return clientInfo(c, this.domain);
  }

  async listClients(user: string): Promise<ClientInfo[]> {
    formatUserIdentity({ user, domain: this.domain });
    if ((await this.d.store.accounts.get(user)) === undefined) throw new ApiError("ACCOUNT_NOT_FOUND", `no account ${user}`);
    return (await this.d.store.clients.listByUser(user)).map((c) => clientInfo(c, this.domain));
  }
}
