/** RFC 9420 §5.2: KeyPackageRef and ProposalRef (hash-based identifiers). */
import { encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { authenticatedContentCodec, type AuthenticatedContent } from "./framing.js";
import { keyPackageBytesOf, keyPackageCodec, type KeyPackage } from "./keyPackage.js";

export const KEY_PACKAGE_REF_LABEL = "MLS 1.0 KeyPackage Reference";
export const PROPOSAL_REF_LABEL = "MLS 1.0 Proposal Reference";

/**
 * MakeKeyPackageRef: RefHash over the encoded KeyPackage, with the KeyPackage's
 * own suite. Pass the received bytes when you have them (our encoding is
 * canonical, so re-encoding gives the same bytes, but it costs time).
 */
export function makeKeyPackageRef(suite: Pick<CipherSuite, "refHash">, keyPackage: KeyPackage | Uint8Array): Uint8Array {
  const bytes = keyPackage instanceof Uint8Array ? keyPackage : (keyPackageBytesOf(keyPackage) ?? encode(keyPackageCodec, keyPackage));
  return suite.refHash(KEY_PACKAGE_REF_LABEL, bytes);
}

/** MakeProposalRef: RefHash over the AuthenticatedContent that carried the proposal, with the group's suite. */
export function makeProposalRef(suite: Pick<CipherSuite, "refHash">, content: AuthenticatedContent | Uint8Array): Uint8Array {
  const bytes = content instanceof Uint8Array ? content : encode(authenticatedContentCodec, content);
  return suite.refHash(PROPOSAL_REF_LABEL, bytes);
}
