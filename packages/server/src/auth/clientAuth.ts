/**
 * Client authentication: the deniable handshake of @conclave/api auth.ts. A
 * challenge is a fresh nonce plus a server ephemeral X25519 key; the client
 * answers with a MAC that the server, and only the server, can check, and
 * that the server could equally have computed itself (so it proves nothing to
 * anyone else). A good answer earns a bearer token: 32 random bytes,
 * base64url, of which the server stores only the SHA-256, with an expiry.
 *
 * The challenge's ephemeral private key is not stored: it is derived from the
 * server's static key and the nonce (HKDF), so any server process sharing the
 * database can answer; the nonce row alone makes each challenge single use.
 *
 * The AS uses this for registration and login; the DS authenticates its
 * routes with the same tokens.
 */
import {
  ApiError,
  AUTH_HASH_SUITE,
  AUTH_NONCE_LENGTH,
  formatClientIdentity,
  fromBase64Url,
  toBase64Url,
  verifyAuthChallenge,
  verifyHandshake,
  x25519PublicKey,
  type AuthContext,
  type AuthPurpose,
  type HandshakeProof,
  type ServerHandshakeKeys,
  type X25519KeyPair,
} from "@conclave/api";
import { isMlsError, zeroize, type CipherSuiteId, type CryptoProvider } from "@conclave/mls";
import { randomBytes, sha256, type Clock } from "../crypto.js";
import { TokenLookups } from "./tokenLookups.js";
import type { ClientId, ClientRecord, Repositories, Store } from "../storage/store.js";

const EPHEMERAL_LABEL = "Conclave challenge ephemeral";

export interface ClientAuthOptions {
  readonly store: Store;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The AS domain signed into every AuthContext. */
  readonly domain: string;
  readonly challengeTtlMs: number;
  readonly tokenTtlMs: number;
  /** The server's static X25519 key (as/keys.ts "ds-auth"). */
  readonly serverKey: X25519KeyPair;
}

/** A challenge as the client sees it. */
export interface Challenge {
  readonly nonce: Uint8Array;
  readonly expiresAt: number;
  readonly serverKey: Uint8Array;
  readonly serverEphemeral: Uint8Array;
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
  private readonly tokens: TokenLookups;

  constructor(private readonly o: ClientAuthOptions) {
    this.tokens = new TokenLookups(o.store);
  }

  get domain(): string {
    return this.o.domain;
  }

  /** E_s for a nonce: HKDF(S_s private key, nonce); never stored. */
  private async ephemeral(nonce: Uint8Array): Promise<X25519KeyPair> {
    const suite = this.o.crypto.suite(AUTH_HASH_SUITE);
    const prk = suite.kdfExtract(new TextEncoder().encode(EPHEMERAL_LABEL), this.o.serverKey.privateKey);
    const privateKey = suite.kdfExpand(prk, nonce, 32);
    zeroize(prk);
    return { privateKey, publicKey: await x25519PublicKey(privateKey) };
  }

  /**
   * The server's key pairs for a challenge nonce: what it holds, and all it
   * needs to compute (or forge) a valid transcript for any registered auth
   * key (@conclave/api forgeTranscript). For audits and the deniability tests.
   */
  async challengeKeys(nonce: Uint8Array): Promise<ServerHandshakeKeys> {
    return { serverKey: this.o.serverKey, serverEphemeral: await this.ephemeral(nonce) };
  }

  /** A fresh single-use challenge. Expired challenges and tokens are swept here now and then. */
  async createChallenge(): Promise<Challenge> {
    const now = this.o.clock();
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      await this.o.store.auth.purgeExpired(now);
    }
    const nonce = randomBytes(AUTH_NONCE_LENGTH);
    const expiresAt = now + this.o.challengeTtlMs;
    await this.o.store.auth.putChallenge(nonce, now, expiresAt);
    const e = await this.ephemeral(nonce);
    zeroize(e.privateKey);
    return { nonce, expiresAt, serverKey: this.o.serverKey.publicKey, serverEphemeral: e.publicKey };
  }

  /**
   * Consumes the challenge (whatever the outcome: one try per nonce) and checks
   * the handshake MAC for `authKey`. Returns the nonce for a registration
   * signature. Throws AUTH_CHALLENGE_INVALID, AUTH_MAC_INVALID or INVALID_AUTH_KEY.
   */
  async verifyHandshake(proof: HandshakeProof, who: { purpose: AuthPurpose; user: string; device: string; authKey: Uint8Array }): Promise<Uint8Array> {
    const nonce = fromBase64Url(proof.nonce, "nonce");
    const clientEphemeral = fromBase64Url(proof.clientEphemeral, "clientEphemeral");
    const mac = fromBase64Url(proof.mac, "mac");
    if (nonce.length !== AUTH_NONCE_LENGTH || !(await this.o.store.auth.takeChallenge(nonce, this.o.clock()))) {
      throw new ApiError("AUTH_CHALLENGE_INVALID", "unknown, used or expired challenge nonce");
    }
    const serverEphemeral = await this.ephemeral(nonce);
    try {
      const ok = await verifyHandshake(
        this.o.crypto.suite(AUTH_HASH_SUITE),
        { serverKey: this.o.serverKey, serverEphemeral },
        { domain: this.o.domain, purpose: who.purpose, user: who.user, device: who.device, nonce, clientEphemeral, clientAuthKey: who.authKey },
        mac,
      );
      if (!ok) throw new ApiError("AUTH_MAC_INVALID", "the handshake MAC does not verify");
    } finally {
      zeroize(serverEphemeral.privateKey);
    }
    return nonce;
  }

  /** Registration: the signature over nonce || AuthContext by the key being registered. Throws AUTH_SIGNATURE_INVALID or INVALID_SIGNATURE_KEY. */
  async verifyRegistrationSignature(nonce: Uint8Array, signatureText: string, ctx: Omit<AuthContext, "domain">): Promise<void> {
    const signature = fromBase64Url(signatureText, "signature");
    let ok: boolean;
    try {
      ok = await verifyAuthChallenge(this.o.crypto.suite(ctx.cipherSuite), nonce, { ...ctx, domain: this.o.domain }, signature);
    } catch (e) {
      if (isMlsError(e, "CRYPTO_INVALID_KEY")) throw new ApiError("INVALID_SIGNATURE_KEY", `signature key is not a valid key of suite ${ctx.cipherSuite}`);
      throw e;
    }
    if (!ok) throw new ApiError("AUTH_SIGNATURE_INVALID", "registration signature does not verify");
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
    // Token and client in one lookup (shared by the requests that arrive together, tokenLookups.ts), on every
    // request: nothing is cached, so a logout or a revocation (by any process sharing the database) refuses the next request.
    const found = await this.tokens.lookup(tokenHash);
    if (found === undefined) throw new ApiError("AUTH_TOKEN_INVALID", "unknown bearer token");
    if (found.token.expiresAt <= this.o.clock()) throw new ApiError("AUTH_TOKEN_INVALID", "bearer token expired");
    if (found.client.revokedAt !== null) throw new ApiError("AUTH_TOKEN_INVALID", "the client of this token was revoked");
    return authenticatedClient(found.client, this.o.domain, tokenHash);
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
