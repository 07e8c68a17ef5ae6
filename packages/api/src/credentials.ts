/**
 * Credential identifiers: `credentialId = base64url(SHA-256(TLS-encoded Credential))`,
 * the same bytes as BindingLeaf.credential_hash in the transparency log. A client
 * computes it from the Credential in a LeafNode to ask the AS for its status.
 */
import { toBase64Url } from "./base64url.js";
import type { HashFn } from "./transparency.js";

/** `hash` must be SHA-256 (e.g. the hash of cipher suite 1). */
export function credentialHash(hash: HashFn, encodedCredential: Uint8Array): Uint8Array {
  return hash(encodedCredential);
}

/** The credential id the AS knows a credential by: base64url of {@link credentialHash}. */
export function credentialIdOf(hash: HashFn, encodedCredential: Uint8Array): string {
  return toBase64Url(hash(encodedCredential));
}
