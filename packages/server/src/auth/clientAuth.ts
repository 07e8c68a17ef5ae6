/**
 * Client authentication (RFC 9750 §5: clients authenticate with their MLS
 * signature key). A client proves possession of its signature key by signing a
 * fresh server nonce (format in @conclave/api auth.ts) and receives a bearer
 * token: 32 random bytes, base64url, of which the server stores only the
 * SHA-256, with an expiry. Every authenticated request presents the token.
 *
 * The AS uses this for registration and login; the DS authenticates its
 * routes with the same tokens (http/authenticate.ts).
 */
import {
  ApiError,
  AUTH_NONCE_LENGTH,
  formatClientIdentity,
  fromBase64Url,
  toBase64Url,
  verifyAuthChallenge,
  type AuthContext,
} from "@conclave/api";
import { isMlsError, type CipherSuiteId, type CryptoProvider } from "@conclave/mls";
import { randomBytes, sha256, type Clock } from "../crypto.js";
import type { ClientId, ClientRecord, Repositories, Store } from "../storage/store.js";

export interface ClientAuthOptions {
  readonly store: Store;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The AS domain signed into every AuthContext. */
  readonly domain: string;
  readonly challengeTtlMs: number;
  readonly tokenTtlMs: number;
}

/** The client behind a valid bearer token. */
export interface AuthenticatedClient {
  readonly id: ClientId;
  readonly user: string;
  readonly device: string;
  /** "user@domain#device" */
  readonly identity: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
  /** SHA-256 of the token that authenticated this request (for logout). */
  readonly tokenHash: Uint8Array;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: number;
}

const TOKEN_LENGTH = 32;
const PURGE_INTERVAL_MS = 60_000;

export class ClientAuth {
  private lastPurge = Number.NEGATIVE_INFINITY;

  constructor(private readonly o: ClientAuthOptions) {}

  get domain(): string {
    return this.o.domain;
  }

  /** A fresh single-use nonce. Expired challenges and tokens are swept here now and then. */
  async createChallenge(): Promise<{ nonce: Uint8Array; expiresAt: number }> {
    const now = this.o.clock();
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      await this.o.store.auth.purgeExpired(now);
    }
    const nonce = randomBytes(AUTH_NONCE_LENGTH);
    const expiresAt = now + this.o.challengeTtlMs;
    await this.o.store.auth.putChallenge(nonce, now, expiresAt);
    return { nonce, expiresAt };
  }

  /**
   * Checks a challenge response: consumes the nonce (whatever the outcome, so
   * each nonce gets one try), then verifies the signature over nonce ||
   * AuthContext. Throws ApiError AUTH_CHALLENGE_INVALID, AUTH_SIGNATURE_INVALID
   * or INVALID_SIGNATURE_KEY.
   */
  async verifyPossession(nonceText: string, signatureText: string, ctx: Omit<AuthContext, "domain">): Promise<void> {
    const nonce = fromBase64Url(nonceText, "nonce");
    const signature = fromBase64Url(signatureText, "signature");
    if (nonce.length !== AUTH_NONCE_LENGTH || !(await this.o.store.auth.takeChallenge(nonce, this.o.clock()))) {
      throw new ApiError("AUTH_CHALLENGE_INVALID", "unknown, used or expired challenge nonce");
    }
    let ok: boolean;
    try {
      ok = await verifyAuthChallenge(this.o.crypto.suite(ctx.cipherSuite), nonce, { ...ctx, domain: this.o.domain }, signature);
    } catch (e) {
      if (isMlsError(e, "CRYPTO_INVALID_KEY")) throw new ApiError("INVALID_SIGNATURE_KEY", `signature key is not a valid key of suite ${ctx.cipherSuite}`);
      throw e;
    }
    if (!ok) throw new ApiError("AUTH_SIGNATURE_INVALID", "challenge signature does not verify");
  }

  /** Issues a bearer token for a client (inside the caller's transaction when given one). */
  async issueToken(repos: Repositories, clientId: ClientId): Promise<IssuedToken> {
    const now = this.o.clock();
    const raw = randomBytes(TOKEN_LENGTH);
    const expiresAt = now + this.o.tokenTtlMs;
    await repos.auth.putToken({ tokenHash: sha256(raw), clientId, createdAt: now, expiresAt });
    return { token: toBase64Url(raw), expiresAt };
  }

  /** The client behind `Authorization: Bearer <token>`; throws AUTH_REQUIRED / AUTH_TOKEN_INVALID. */
  async authenticate(authorization: string | undefined): Promise<AuthenticatedClient> {
    if (authorization === undefined || authorization === "") throw new ApiError("AUTH_REQUIRED", "this route needs an Authorization: Bearer token");
    const m = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(authorization);
    if (m === null) throw new ApiError("AUTH_TOKEN_INVALID", "malformed Authorization header: expected 'Bearer <token>'");
    let raw: Uint8Array;
    try {
      raw = fromBase64Url(m[1]!, "token");
    } catch {
      throw new ApiError("AUTH_TOKEN_INVALID", "unknown bearer token");
    }
    const tokenHash = sha256(raw);
    const token = await this.o.store.auth.getToken(tokenHash);
    if (token === undefined) throw new ApiError("AUTH_TOKEN_INVALID", "unknown bearer token");
    if (token.expiresAt <= this.o.clock()) throw new ApiError("AUTH_TOKEN_INVALID", "bearer token expired");
    const client = await this.o.store.clients.get(token.clientId);
    if (client === undefined || client.revokedAt !== null) throw new ApiError("AUTH_TOKEN_INVALID", "the client of this token was revoked");
    return authenticatedClient(client, this.o.domain, tokenHash);
  }

  async revokeToken(tokenHash: Uint8Array): Promise<void> {
    await this.o.store.auth.deleteToken(tokenHash);
  }
}

export function authenticatedClient(c: ClientRecord, domain: string, tokenHash: Uint8Array): AuthenticatedClient {
  return {
    id: c.id,
    user: c.user,
    device: c.device,
    identity: formatClientIdentity({ user: c.user, domain, device: c.device }),
    cipherSuite: c.cipherSuite,
    signatureKey: c.signatureKey,
    tokenHash,
  };
}
