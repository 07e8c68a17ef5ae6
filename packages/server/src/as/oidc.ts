/**
 * OpenID Connect ID tokens as proof of a user name (OpenID Connect Core 1.0
 * §3.1.3.7): a JWS compact token (RFC 7515) signed by the configured issuer
 * with a key of its JWKS (RFC 7517), for our client id (aud), unexpired, whose
 * user-name claim is the name being claimed. Signatures are checked with
 * WebCrypto: RS256, PS256, ES256, ES384 and EdDSA (Ed25519).
 */
import { ApiError, fromBase64Url } from "@conclave/api";

/** The OpenID Connect issuer whose ID tokens prove user names (NameProofConfig `{ kind: "oidc" }`). */
export interface OidcConfig {
  /** The issuer URL, equal to the tokens' iss claim. */
  readonly issuer: string;
  /** Our client id: must be in the token's aud. */
  readonly audience: string;
  /** The issuer's JWKS, or a function that fetches it (called again when a kid is unknown). */
  readonly jwks: { readonly keys: readonly JsonWebKey[] } | (() => Promise<{ readonly keys: readonly JsonWebKey[] }>);
  /** The claim that must equal the user name (default "preferred_username"). */
  readonly usernameClaim?: string;
  /** Tolerated clock skew for exp/nbf/iat, seconds (default 60). */
  readonly clockSkewSeconds?: number;
}

type Jwk = JsonWebKey & { kid?: string };

const ALGORITHMS: Record<string, { importAs: RsaHashedImportParams | EcKeyImportParams | Algorithm; verifyAs: Algorithm | RsaPssParams | EcdsaParams }> = {
  RS256: { importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verifyAs: { name: "RSASSA-PKCS1-v1_5" } },
  PS256: { importAs: { name: "RSA-PSS", hash: "SHA-256" }, verifyAs: { name: "RSA-PSS", saltLength: 32 } as RsaPssParams },
  ES256: { importAs: { name: "ECDSA", namedCurve: "P-256" }, verifyAs: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams },
  ES384: { importAs: { name: "ECDSA", namedCurve: "P-384" }, verifyAs: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams },
  EdDSA: { importAs: { name: "Ed25519" }, verifyAs: { name: "Ed25519" } },
};

const invalid = (why: string): ApiError => new ApiError("NAME_PROOF_INVALID", `ID token rejected: ${why}`);

function json(part: string, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64Url(part, what)));
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch {
    throw invalid(`malformed ${what}`);
  }
}

/** An unknown kid fetches the JWKS again at most this often: random kids cannot turn us into a flood on the issuer. */
const MIN_REFETCH_MS = 60_000;

export class OidcVerifier {
  private cached: readonly Jwk[] | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly config: OidcConfig) {}

  private async keys(refresh: boolean, nowMs: number): Promise<readonly Jwk[]> {
    const { jwks } = this.config;
    if (typeof jwks !== "function") return jwks.keys;
    if (this.cached === undefined || (refresh && nowMs - this.fetchedAt >= MIN_REFETCH_MS)) {
      this.cached = (await jwks()).keys;
      this.fetchedAt = nowMs;
    }
    return this.cached;
  }

  /** Verifies `idToken` names `user`; throws NAME_PROOF_INVALID otherwise. */
  async verify(idToken: string, user: string, nowMs: number): Promise<void> {
    if (idToken.length > 16_384) throw invalid("too long");
    const parts = idToken.split(".");
    if (parts.length !== 3) throw invalid("not a JWS compact serialization");
    const [h, p, s] = parts as [string, string, string];
    const header = json(h, "header");
    const alg = typeof header.alg === "string" ? ALGORITHMS[header.alg] : undefined;
    if (alg === undefined || !Object.prototype.hasOwnProperty.call(ALGORITHMS, header.alg as string)) throw invalid(`unsupported alg ${String(header.alg)}`);
    const kid = typeof header.kid === "string" ? header.kid : undefined;
    let candidates = (await this.keys(false, nowMs)).filter((k) => kid === undefined || k.kid === kid);
    if (candidates.length === 0 && typeof this.config.jwks === "function") candidates = (await this.keys(true, nowMs)).filter((k) => kid === undefined || k.kid === kid);
    if (candidates.length === 0) throw invalid("no issuer key with this kid");
    const signed = new TextEncoder().encode(`${h}.${p}`);
    let signature: Uint8Array;
    try {
      signature = fromBase64Url(s, "signature");
    } catch {
      throw invalid("malformed signature");
    }
    let ok = false;
    for (const jwk of candidates) {
      try {
        const key = await crypto.subtle.importKey("jwk", jwk, alg.importAs, false, ["verify"]);
        if (await crypto.subtle.verify(alg.verifyAs, key, new Uint8Array(signature), signed)) ok = true;
      } catch {
        // a key of another type: not this one
      }
      if (ok) break;
    }
    if (!ok) throw invalid("signature does not verify");
    this.checkClaims(json(p, "payload"), user, nowMs);
  }

  private checkClaims(c: Record<string, unknown>, user: string, nowMs: number): void {
    const skew = this.config.clockSkewSeconds ?? 60;
    const now = nowMs / 1000;
    if (c.iss !== this.config.issuer) throw invalid("wrong issuer");
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!aud.includes(this.config.audience)) throw invalid("not for this audience");
    if (typeof c.exp !== "number" || c.exp + skew <= now) throw invalid("expired");
    if (typeof c.nbf === "number" && c.nbf - skew > now) throw invalid("not yet valid");
    if (typeof c.iat === "number" && c.iat - skew > now) throw invalid("issued in the future");
    const claim = this.config.usernameClaim ?? "preferred_username";
    if (c[claim] !== user) throw invalid(`its ${claim} is not the requested user name`);
  }
}
