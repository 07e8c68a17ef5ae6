/**
 * KeyPackages of another domain's users (issue 22 item 3): a client claims
 * them through its home server, which asks the user's domain over signed S2S.
 * The answer is checked before it is passed on: every KeyPackage names the
 * asked user of the asked domain, and sizes are bounded. (The claiming client
 * then verifies each KeyPackage and has its credential validated, through its
 * home server, by the other domain's AS: remoteIdentity.ts.)
 */
import { ApiError, fromBase64Url, parseClientIdentity, type ClaimKeyPackagesResponse, type FederationClaimRequest } from "@conclave/api";
import type { FederationService } from "./service.js";

const MAX_DEVICES = 256;

/**
 * Claims one KeyPackage per device of `user@domain`.
 * @throws ApiError FEDERATION_PEER_UNAVAILABLE, FEDERATION_PEER_ERROR, FEDERATION_DOMAIN_DENIED, or the peer's code (ACCOUNT_NOT_FOUND, ...)
 */
export async function claimRemote(fed: FederationService, domain: string, user: string, cipherSuites: readonly number[]): Promise<ClaimKeyPackagesResponse> {
  const req: FederationClaimRequest = { user, cipherSuites };
  const answer = await fed.client.request<ClaimKeyPackagesResponse>(domain, "POST", "/federation/v1/key-packages/claim", req);
  if (!Array.isArray(answer?.keyPackages) || !Array.isArray(answer.missing) || answer.keyPackages.length + answer.missing.length > MAX_DEVICES * cipherSuites.length) {
    throw new ApiError("FEDERATION_PEER_ERROR", `${domain} answered a malformed claim`);
  }
  for (const kp of answer.keyPackages) {
    let id;
    try {
      id = parseClientIdentity(String(kp.identity));
      fromBase64Url(String(kp.keyPackage), "keyPackage");
      fromBase64Url(String(kp.ref), "ref");
    } catch {
      throw new ApiError("FEDERATION_PEER_ERROR", `${domain} answered a malformed KeyPackage`);
    }
    if (id.domain !== domain || id.user !== user || id.device !== kp.device || !cipherSuites.includes(kp.cipherSuite)) {
      throw new ApiError("FEDERATION_PEER_ERROR", `${domain} answered a KeyPackage of ${String(kp.identity).slice(0, 100)} for ${user}@${domain}`);
    }
  }
  const claimed: ClaimKeyPackagesResponse = {
    keyPackages: answer.keyPackages.map((k) => ({
      identity: k.identity,
      device: k.device,
      cipherSuite: k.cipherSuite,
      ref: k.ref,
      keyPackage: k.keyPackage,
      lastResort: k.lastResort === true,
    })),
    missing: answer.missing.map((m) => ({ device: String(m.device), cipherSuite: Number(m.cipherSuite) })),
  };
  // Should the claimer add them to an opaque group hubbed here, its Welcome names them by ref only.
  await fed.members.rememberClaimed(claimed.keyPackages);
  return claimed;
}
