/**
 * The device's identity with the AS (RFC 9750 §4): its MLS signature key pair
 * and X25519 authentication key pair, registration (proof of both keys, plus
 * the recovery code or an approval by another device of the account), bearer
 * tokens from the deniable login handshake (@conclave/api auth.ts), and
 * authenticated calls to the DS/AS that refresh the token. Also the account's
 * device management: linking a new device by QR payload and short code,
 * approving one, revoking, the recovery code, and the device-change list.
 */
import {
  ApiError,
  AUTH_HASH_SUITE,
  AuthPurpose,
  answerChallenge,
  decodeLinkRequest,
  encodeLinkRequest,
  fromBase64Url,
  isApiError,
  linkCode,
  signAuthChallenge,
  signDeviceApproval,
  toBase64Url,
  x25519GenerateKeyPair,
  type ChallengeResponse,
  type CreateAccountResponse,
  type DeviceApprovalResponse,
  type DeviceAuthorization,
  type DeviceChange,
  type DeviceChangesResponse,
  type NameProof,
  type RevokeClientResponse,
  type RotateRecoveryCodeResponse,
  type RouteName,
  type TokenResponse,
  type UpgradeClientResponse,
  type X25519KeyPair,
} from "@conclave/api";
import { CredentialType, type CipherSuiteId, type CryptoProvider, type SigningIdentity } from "@conclave/mls";
import type { DeviceChangeEvent } from "./events.js";
import { getJson, putJson, type ClientStore } from "./store.js";
import type { HttpTransport, RequestOptions } from "./transport.js";

export interface IdentityRecord {
  user: string;
  device: string;
  domain: string;
  cipherSuite: number;
  signaturePublicKey: string;
  signaturePrivateKey: string;
  /** Absent in stores from before auth keys (issue 23): login() then binds one first (#upgrade). */
  authPublicKey?: string;
  authPrivateKey?: string;
  /** Only in stores from before recovery codes; the server no longer accepts it, the upgrade drops it. */
  accountSecret?: string;
  token?: string;
  tokenExpiresAt?: number;
}

/** An identity whose device has an auth key. */
type AuthIdentity = IdentityRecord & { authPublicKey: string; authPrivateKey: string };

/** Keys made for a device that waits for an approval (requestLink → completeLink). */
interface PendingLink {
  user: string;
  device: string;
  cipherSuite: number;
  signaturePublicKey: string;
  signaturePrivateKey: string;
  authPublicKey: string;
  authPrivateKey: string;
}

const enc = new TextEncoder();
const PENDING_LINK = "pending-link";
const CHANGES_CURSOR = "device-changes-cursor";
/** The auth key an upgrade is binding, kept until the server has it (a crash in between must not lock the device out). */
const PENDING_AUTH_KEY = "pending-auth-key";
/** The recovery code an upgrade received, until the application takes it (Client.upgrade). */
const UPGRADE_RECOVERY_CODE = "upgrade-recovery-code";

export class Session {
  #id: IdentityRecord | undefined;

  constructor(
    readonly transport: HttpTransport,
    private readonly store: ClientStore,
    private readonly provider: CryptoProvider,
  ) {}

  async load(): Promise<void> {
    this.#id = await getJson<IdentityRecord>(this.store, "identity");
  }

  get registered(): boolean {
    return this.#id !== undefined;
  }

  need(): IdentityRecord {
    if (this.#id === undefined) throw new ApiError("AUTH_REQUIRED", "this device is not registered (register it first)");
    return this.#id;
  }

  /** "user@domain#device" */
  get identity(): string {
    const id = this.need();
    return `${id.user}@${id.domain}#${id.device}`;
  }

  get cipherSuite(): CipherSuiteId {
    return this.need().cipherSuite as CipherSuiteId;
  }

  /** Our leaves' signing identity: a basic credential naming this device. */
  signing(): SigningIdentity {
    const id = this.need();
    return {
      credential: { credentialType: CredentialType.basic, identity: enc.encode(this.identity) },
      signaturePrivateKey: fromBase64Url(id.signaturePrivateKey),
      signaturePublicKey: fromBase64Url(id.signaturePublicKey),
    };
  }

  #authKey(r: { authPublicKey: string; authPrivateKey: string }): X25519KeyPair {
    return { publicKey: fromBase64Url(r.authPublicKey), privateKey: fromBase64Url(r.authPrivateKey) };
  }

  async #answer(ch: ChallengeResponse, purpose: AuthPurpose, who: { user: string; device: string; authPublicKey: string; authPrivateKey: string }) {
    const r = await answerChallenge(
      this.provider.suite(AUTH_HASH_SUITE),
      { domain: ch.domain, nonce: fromBase64Url(ch.nonce), serverKey: fromBase64Url(ch.serverKey), serverEphemeral: fromBase64Url(ch.serverEphemeral) },
      { purpose, user: who.user, device: who.device, authKey: this.#authKey(who) },
    );
    return { nonce: ch.nonce, clientEphemeral: toBase64Url(r.clientEphemeral), mac: toBase64Url(r.mac) };
  }

  async #newKeys(user: string, device: string, cipherSuite: CipherSuiteId): Promise<PendingLink> {
    const sig = await this.provider.suite(cipherSuite).signatureGenerateKeyPair();
    const auth = await x25519GenerateKeyPair();
    return {
      user,
      device,
      cipherSuite,
      signaturePublicKey: toBase64Url(sig.publicKey),
      signaturePrivateKey: toBase64Url(sig.privateKey),
      authPublicKey: toBase64Url(auth.publicKey),
      authPrivateKey: toBase64Url(auth.privateKey),
    };
  }

  /** Registers `keys` as a device with `authorization`; on success this store holds the identity. */
  async #registerKeys(keys: PendingLink, authorization: DeviceAuthorization): Promise<void> {
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const cipherSuite = keys.cipherSuite as CipherSuiteId;
    const signature = await signAuthChallenge(this.provider.suite(cipherSuite), fromBase64Url(keys.signaturePrivateKey), fromBase64Url(ch.nonce), {
      domain: ch.domain,
      purpose: AuthPurpose.register,
      user: keys.user,
      device: keys.device,
      cipherSuite,
      signatureKey: fromBase64Url(keys.signaturePublicKey),
      authKey: fromBase64Url(keys.authPublicKey),
    });
    const tok = await this.transport.request<TokenResponse>("registerClient", {
      json: {
        user: keys.user,
        device: keys.device,
        cipherSuite,
        signatureKey: keys.signaturePublicKey,
        authKey: keys.authPublicKey,
        ...(await this.#answer(ch, AuthPurpose.register, keys)),
        signature: toBase64Url(signature),
        authorization,
      },
    });
    this.#id = { ...keys, domain: ch.domain, token: tok.token, tokenExpiresAt: tok.expiresAt };
    await putJson(this.store, "identity", this.#id);
  }

  /**
   * Registers this device with fresh keys. Without `recoveryCode` it first
   * claims the user name with `proof` (default `{ kind: "none" }`, which only a
   * server configured for open registration accepts) and returns the new
   * account's recovery code: show it to the user once, to keep offline. With a
   * `recoveryCode` it joins an existing account (all other devices lost).
   */
  async register(user: string, device: string, opts: { proof?: NameProof; recoveryCode?: string; cipherSuite?: CipherSuiteId }): Promise<{ recoveryCode: string }> {
    if (this.#id !== undefined) throw new ApiError("CLIENT_EXISTS", `this store already holds ${this.identity}`);
    let recoveryCode = opts.recoveryCode;
    if (recoveryCode === undefined) {
      const acc = await this.transport.request<CreateAccountResponse>("createAccount", { json: { user, proof: opts.proof ?? { kind: "none" } } });
      recoveryCode = acc.recoveryCode;
    }
    await this.#registerKeys(await this.#newKeys(user, device, opts.cipherSuite ?? 1), { kind: "recovery", recoveryCode });
    return { recoveryCode };
  }

  /**
   * First step of linking this (new) device to an account: makes its keys and
   * returns the QR payload to show, and the short code the approving device
   * will display too (the user checks they match).
   */
  async requestLink(user: string, device: string, cipherSuite: CipherSuiteId = 1): Promise<{ payload: string; code: string }> {
    if (this.#id !== undefined) throw new ApiError("CLIENT_EXISTS", `this store already holds ${this.identity}`);
    const keys = await this.#newKeys(user, device, cipherSuite);
    await putJson(this.store, PENDING_LINK, keys);
    const payload = encodeLinkRequest({ user, device, cipherSuite, signatureKey: fromBase64Url(keys.signaturePublicKey), authKey: fromBase64Url(keys.authPublicKey) });
    return { payload, code: linkCode(this.provider.suite(AUTH_HASH_SUITE).hash, payload) };
  }

  /** Second step on the new device, once an existing device approved it: registers with the approval. */
  async completeLink(): Promise<void> {
    const keys = await getJson<PendingLink>(this.store, PENDING_LINK);
    if (keys === undefined) throw new ApiError("DEVICE_NOT_APPROVED", "no link request is pending on this device (requestLink first)");
    await this.#registerKeys(keys, { kind: "approval" });
    await this.store.delete(PENDING_LINK);
  }

  /**
   * On an existing device: approves the device whose QR payload was scanned.
   * Returns its name and the short code to compare with the one it shows.
   */
  async approveDevice(payload: string): Promise<{ device: string; code: string; expiresAt: number }> {
    const id = this.need();
    const req = decodeLinkRequest(payload);
    if (req.user !== id.user) throw new ApiError("FORBIDDEN", `this link request is for ${req.user}, not ${id.user}`);
    const signature = await signDeviceApproval(this.provider.suite(id.cipherSuite), fromBase64Url(id.signaturePrivateKey), {
      domain: id.domain,
      user: id.user,
      device: req.device,
      cipherSuite: req.cipherSuite,
      signatureKey: req.signatureKey,
      authKey: req.authKey,
      approver: id.device,
    });
    const r = await this.call<DeviceApprovalResponse>("approveDevice", {
      params: { user: id.user },
      json: { device: req.device, cipherSuite: req.cipherSuite, signatureKey: toBase64Url(req.signatureKey), authKey: toBase64Url(req.authKey), signature: toBase64Url(signature) },
    });
    return { device: req.device, code: linkCode(this.provider.suite(AUTH_HASH_SUITE).hash, payload), expiresAt: r.expiresAt };
  }

  /** Revokes another device of this account. */
  revokeDevice(device: string): Promise<RevokeClientResponse> {
    return this.call<RevokeClientResponse>("revokeClient", { params: { user: this.need().user, device } });
  }

  /** Replaces the account's recovery code; returns the new one (show it once). */
  async rotateRecoveryCode(): Promise<string> {
    return (await this.call<RotateRecoveryCodeResponse>("rotateRecoveryCode", { params: { user: this.need().user } })).recoveryCode;
  }

  /**
   * Device changes of this account since the last call (the first call reports
   * every change so far), each checked with `inLog` (the transparency log)
   * before the cursor moves past it.
   */
  async deviceChanges(inLog: (c: DeviceChange, identity: string) => Promise<boolean>): Promise<DeviceChangeEvent[]> {
    const id = this.need();
    const out: DeviceChangeEvent[] = [];
    let after = (await getJson<number>(this.store, CHANGES_CURSOR)) ?? 0;
    for (;;) {
      const r = await this.call<DeviceChangesResponse>("deviceChanges", { params: { user: id.user }, query: { after: String(after) } });
      for (const c of r.changes) out.push(deviceEvent(c, await inLog(c, `${id.user}@${id.domain}#${c.device}`)));
      if (r.changes.length === 0) break;
      after = r.changes[r.changes.length - 1]!.seq;
      await putJson(this.store, CHANGES_CURSOR, after);
    }
    return out;
  }

  /** True for a device registered before auth keys, until it upgrades (on its next login). */
  get legacy(): boolean {
    const id = this.need();
    return id.authPublicKey === undefined || id.authPrivateKey === undefined;
  }

  /**
   * Binds an auth key to a device registered before auth keys (POST
   * /v1/clients/upgrade, proving its registered signature key), once; then
   * logins use the handshake. The key is stored before it is sent, so a crash
   * after the server bound it is finished by the next try.
   */
  async #upgrade(id: IdentityRecord): Promise<void> {
    let auth = await getJson<{ authPublicKey: string; authPrivateKey: string }>(this.store, PENDING_AUTH_KEY);
    if (auth === undefined) {
      const k = await x25519GenerateKeyPair();
      auth = { authPublicKey: toBase64Url(k.publicKey), authPrivateKey: toBase64Url(k.privateKey) };
      await putJson(this.store, PENDING_AUTH_KEY, auth);
    }
    const { accountSecret: _retired, ...rest } = id;
    const next: AuthIdentity = { ...rest, ...auth };
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const cipherSuite = id.cipherSuite as CipherSuiteId;
    const signature = await signAuthChallenge(this.provider.suite(cipherSuite), fromBase64Url(id.signaturePrivateKey), fromBase64Url(ch.nonce), {
      domain: ch.domain,
      purpose: AuthPurpose.upgrade,
      user: id.user,
      device: id.device,
      cipherSuite,
      signatureKey: fromBase64Url(id.signaturePublicKey),
      authKey: fromBase64Url(auth.authPublicKey),
    });
    let tok: UpgradeClientResponse;
    try {
      tok = await this.transport.request<UpgradeClientResponse>("upgradeClient", {
        json: { user: id.user, device: id.device, authKey: auth.authPublicKey, ...(await this.#answer(ch, AuthPurpose.upgrade, next)), signature: toBase64Url(signature) },
      });
    } catch (e) {
      if (!isApiError(e, "AUTH_KEY_BOUND")) throw e;
      // Bound already: by our own earlier try (the login below works), or by someone else holding our signature key (it fails).
      tok = await this.#loginAs(next);
    }
    if (tok.recoveryCode !== undefined) await putJson(this.store, UPGRADE_RECOVERY_CODE, tok.recoveryCode);
    this.#id = { ...next, token: tok.token, tokenExpiresAt: tok.expiresAt };
    await putJson(this.store, "identity", this.#id);
    await this.store.delete(PENDING_AUTH_KEY);
  }

  /** Upgrades this device if it predates auth keys; the recovery code the upgrade brought, once. */
  async upgrade(): Promise<{ recoveryCode?: string }> {
    if (this.legacy) await this.#upgrade(this.need());
    const recoveryCode = await getJson<string>(this.store, UPGRADE_RECOVERY_CODE);
    if (recoveryCode === undefined) return {};
    await this.store.delete(UPGRADE_RECOVERY_CODE);
    return { recoveryCode };
  }

  async #loginAs(id: AuthIdentity): Promise<TokenResponse> {
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    return this.transport.request<TokenResponse>("login", { json: { user: id.user, device: id.device, ...(await this.#answer(ch, AuthPurpose.login, id)) } });
  }

  /** Obtains a fresh bearer token with the login handshake (binding an auth key first on a device from before them). */
  async login(): Promise<void> {
    const id = this.need();
    if (id.authPublicKey === undefined || id.authPrivateKey === undefined) {
      await this.#upgrade(id);
      return;
    }
    const tok = await this.#loginAs(id as AuthIdentity);
    id.token = tok.token;
    id.tokenExpiresAt = tok.expiresAt;
    await putJson(this.store, "identity", id);
  }

  /** The current bearer token, renewed when it expires within 30 s. */
  async token(): Promise<string> {
    const id = this.need();
    if (id.token === undefined || (id.tokenExpiresAt ?? 0) < Date.now() + 30_000) await this.login();
    return this.need().token!; // an upgrade replaces the record
  }

  /** An authenticated request; an expired or revoked token is refreshed once. */
  async call<T>(route: RouteName, opts: Omit<RequestOptions, "token"> = {}): Promise<T> {
    try {
      return await this.transport.request<T>(route, { ...opts, token: await this.token() });
    } catch (e) {
      if (!isApiError(e, "AUTH_TOKEN_INVALID")) throw e;
      await this.login();
      return this.transport.request<T>(route, { ...opts, token: await this.token() });
    }
  }
}

function deviceEvent(c: DeviceChange, inLog: boolean): DeviceChangeEvent {
  return { type: "device", change: c.kind, device: c.device, by: c.by, at: c.at, logIndex: c.logIndex, signatureKey: c.signatureKey, inLog };
}
