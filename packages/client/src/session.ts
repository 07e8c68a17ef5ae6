/**
 * The device's identity with the AS (RFC 9750 §4): its signature key pair,
 * registration by proof of possession, bearer tokens from signed login
 * challenges, and authenticated calls to the DS/AS that refresh the token.
 */
import {
  ApiError,
  AuthPurpose,
  fromBase64Url,
  isApiError,
  signAuthChallenge,
  toBase64Url,
  type ChallengeResponse,
  type CreateAccountResponse,
  type RouteName,
  type TokenResponse,
} from "@conclave/api";
import { CredentialType, type CipherSuiteId, type CryptoProvider, type SigningIdentity } from "@conclave/mls";
import { getJson, putJson, type ClientStore } from "./store.js";
import type { HttpTransport, RequestOptions } from "./transport.js";

export interface IdentityRecord {
  user: string;
  device: string;
  domain: string;
  cipherSuite: number;
  signaturePublicKey: string;
  signaturePrivateKey: string;
  accountSecret: string;
  token?: string;
  tokenExpiresAt?: number;
}

interface ChallengeSigner {
  user: string;
  device: string;
  cipherSuite: number;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const enc = new TextEncoder();

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

  /**
   * Registers this device: creates the account unless `accountSecret` is given
   * (a further device of an existing user) and proves possession of a fresh signature key.
   */
  async register(user: string, device: string, opts: { accountSecret?: string; cipherSuite?: CipherSuiteId }): Promise<{ accountSecret: string }> {
    if (this.#id !== undefined) throw new ApiError("CLIENT_EXISTS", `this store already holds ${this.identity}`);
    const cipherSuite = opts.cipherSuite ?? 1;
    let accountSecret = opts.accountSecret;
    if (accountSecret === undefined) {
      const acc = await this.transport.request<CreateAccountResponse>("createAccount", { json: { user } });
      accountSecret = acc.accountSecret;
    }
    const keys = await this.provider.suite(cipherSuite).signatureGenerateKeyPair();
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const signature = await this.#signChallenge(ch, AuthPurpose.register, { user, device, cipherSuite, publicKey: keys.publicKey, privateKey: keys.privateKey });
    const tok = await this.transport.request<TokenResponse>("registerClient", {
      json: { user, device, cipherSuite, signatureKey: toBase64Url(keys.publicKey), accountSecret, nonce: ch.nonce, signature },
    });
    this.#id = {
      user,
      device,
      domain: ch.domain,
      cipherSuite,
      signaturePublicKey: toBase64Url(keys.publicKey),
      signaturePrivateKey: toBase64Url(keys.privateKey),
      accountSecret,
      token: tok.token,
      tokenExpiresAt: tok.expiresAt,
    };
    await putJson(this.store, "identity", this.#id);
    return { accountSecret };
  }

  async #signChallenge(ch: ChallengeResponse, purpose: AuthPurpose, d: ChallengeSigner): Promise<string> {
    const sig = await signAuthChallenge(this.provider.suite(d.cipherSuite), d.privateKey, fromBase64Url(ch.nonce), {
      domain: ch.domain,
      purpose,
      user: d.user,
      device: d.device,
      cipherSuite: d.cipherSuite as CipherSuiteId,
      signatureKey: d.publicKey,
    });
    return toBase64Url(sig);
  }

  /** Obtains a fresh bearer token by signing a login challenge. */
  async login(): Promise<void> {
    const id = this.need();
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const signature = await this.#signChallenge(ch, AuthPurpose.login, {
      ...id,
      publicKey: fromBase64Url(id.signaturePublicKey),
      privateKey: fromBase64Url(id.signaturePrivateKey),
    });
    const tok = await this.transport.request<TokenResponse>("login", { json: { user: id.user, device: id.device, nonce: ch.nonce, signature } });
    id.token = tok.token;
    id.tokenExpiresAt = tok.expiresAt;
    await putJson(this.store, "identity", id);
  }

  /** The current bearer token, renewed when it expires within 30 s. */
  async token(): Promise<string> {
    const id = this.need();
    if (id.token === undefined || (id.tokenExpiresAt ?? 0) < Date.now() + 30_000) await this.login();
    return id.token!;
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
