/**
 * Pluggable proof of a user name (issue 23): account creation asks the
 * configured verifier. Invite tokens (admin-made, single use, stored as
 * SHA-256) are the default; an OpenID Connect ID token is the second kind;
 * "open" (first come, first served) exists for local development and demos
 * only and must be chosen explicitly.
 */
import { ApiError, toBase64Url, type CreateInviteResponse, type NameProof } from "@conclave/api";
import { randomBytes, sha256 } from "../crypto.js";
import type { StoreTx } from "../storage/store.js";
import { OidcVerifier, type OidcConfig } from "./oidc.js";

/**
 * What proves the right to a user name at account creation: an invite token
 * made with the admin token (the default), an OpenID Connect ID token, or
 * nothing ("open": anyone may claim any free name).
 */
export type NameProofConfig = { readonly kind: "invite" } | ({ readonly kind: "oidc" } & OidcConfig) | { readonly kind: "open" };

export interface NameProofVerifier {
  readonly kind: NameProofConfig["kind"];
  /** Throws NAME_PROOF_INVALID unless `proof` lets the caller claim `user`; runs inside the account's transaction. */
  verify(tx: StoreTx, user: string, proof: NameProof, now: number): Promise<void>;
}

const TOKEN_BYTES = 24;

export function inviteVerifier(): NameProofVerifier {
  return {
    kind: "invite",
    async verify(tx, user, proof, now) {
      if (proof.kind !== "invite") throw new ApiError("NAME_PROOF_INVALID", "this server gives user names against invite tokens");
      let hash: Uint8Array;
      try {
        hash = sha256(new TextEncoder().encode(proof.token));
      } catch {
        throw new ApiError("NAME_PROOF_INVALID", "malformed invite token");
      }
      if (!(await tx.accountSecurity.takeInvite(hash, now, user))) throw new ApiError("NAME_PROOF_INVALID", "unknown, used or expired invite token");
    },
  };
}

/** Makes an invite token (admins: POST /v1/admin/invites, or in process). */
export async function createInvite(tx: Pick<StoreTx, "accountSecurity">, now: number, ttlMs: number): Promise<CreateInviteResponse> {
  const token = toBase64Url(randomBytes(TOKEN_BYTES));
  const expiresAt = now + ttlMs;
  await tx.accountSecurity.putInvite(sha256(new TextEncoder().encode(token)), now, expiresAt);
  return { token, expiresAt };
}

export function oidcNameVerifier(config: OidcConfig): NameProofVerifier {
  const oidc = new OidcVerifier(config);
  return {
    kind: "oidc",
    async verify(_tx, user, proof, now) {
      if (proof.kind !== "oidc") throw new ApiError("NAME_PROOF_INVALID", "this server gives user names against OpenID Connect ID tokens");
      await oidc.verify(proof.idToken, user, now);
    },
  };
}

export function openNameVerifier(): NameProofVerifier {
  return { kind: "open", verify: async () => undefined };
}

export function nameProofVerifier(config: NameProofConfig): NameProofVerifier {
  switch (config.kind) {
    case "invite":
      return inviteVerifier();
    case "oidc":
      return oidcNameVerifier(config);
    case "open":
      return openNameVerifier();
  }
}
