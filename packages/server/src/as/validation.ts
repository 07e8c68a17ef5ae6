/**
 * Credential validation with the AS (RFC 9420 §5.3.1; RFC 9750 §4 (2) and (3)).
 *
 * "Validated with the AS" = the credential's presented identifier is correctly
 * bound to the LeafNode's signature_key, and matches the reference identifier.
 * Our AS vouches only for bindings it issued and still stands behind:
 *
 *   basic   the AS issued exactly these credential bytes to the client whose
 *           registered key is `signatureKey` (the bytes alone prove nothing);
 *   x509    the chain leads to the AS root, the leaf's subjectPublicKeyInfo is
 *           `signatureKey`, and the AS has the issuance on record;
 *   both    not revoked (credential or client), inside the validity period,
 *           key of the cipher suite's signature scheme, identity matching the
 *           reference ("user@domain" matches any device of the user).
 *
 * Same client (§4 (3)): both credentials valid and presenting the same
 * "user@domain#device", whatever their keys (a client that rotated its
 * signature key is still the same client).
 *
 * Outcomes are data (HTTP 200 with valid/failure); only unreadable input
 * (base64url, TLS, unknown suite, malformed reference) is a 400.
 */
import {
  fromBase64Url,
  matchesReference,
  parseClientIdentity,
  parseReferenceIdentifier,
  toBase64Url,
  type PresentedCredential,
  type ReferenceIdentifier,
  type ValidationFailure,
  type ValidationResult,
} from "@conclave/api";
import { bytesEqual, CIPHER_SUITES, CredentialType, credentialCodec, decode, type Credential } from "@conclave/mls";
import { sha256, type Clock } from "../crypto.js";
import type { CredentialRecord, Store } from "../storage/store.js";
import type { CertificateAuthority } from "./ca.js";
import { requireCipherSuite } from "./registration.js";
import { hasSignatureKeyShape } from "./spki.js";

export class CredentialValidator {
  constructor(
    private readonly store: Store,
    private readonly ca: CertificateAuthority,
    private readonly clock: Clock,
  ) {}

  async validate(presented: PresentedCredential, reference?: string): Promise<ValidationResult> {
    const ref = reference === undefined ? undefined : parseReferenceIdentifier(reference);
    const suite = requireCipherSuite(presented.cipherSuite);
    const signatureKey = fromBase64Url(presented.signatureKey, "signatureKey");
    const bytes = fromBase64Url(presented.credential, "credential");
    const credential = decode(credentialCodec, bytes);
    const presentedId = toBase64Url(sha256(bytes));
    const fail = (failure: ValidationFailure, identity: string | null = null, credentialId = presentedId, notAfter: number | null = null): ValidationResult => ({
      valid: false,
      failure,
      identity,
      credentialId,
      notAfter,
      logIndex: null,
    });

    const algorithm = CIPHER_SUITES[suite].signature;
    const found = credential.credentialType === CredentialType.basic ? await this.basic(credential, bytes) : await this.x509(credential);
    if ("failure" in found) return fail(found.failure, found.identity ?? null);
    const { record, identity, leafKey } = found;
    const credentialId = toBase64Url(record.credentialHash);
    const client = await this.store.clients.get(record.clientId);
    if (client === undefined) return fail("unknown_credential", identity, credentialId);
    const boundKey = leafKey ?? client.signatureKey;
    if (!bytesEqual(boundKey, signatureKey)) return fail("key_mismatch", identity, credentialId, record.notAfter);
    if (!hasSignatureKeyShape(algorithm, signatureKey) || client.cipherSuite !== suite) return fail("suite_mismatch", identity, credentialId, record.notAfter);
    if (client.revokedAt !== null || (await this.store.credentials.getRevocation(record.credentialHash)) !== undefined) {
      return fail("revoked", identity, credentialId, record.notAfter);
    }
    const now = this.clock();
    if (now < record.notBefore) return fail("not_yet_valid", identity, credentialId, record.notAfter);
    if (now >= record.notAfter) return fail("expired", identity, credentialId, record.notAfter);
    if (ref !== undefined && !this.matches(identity, ref)) return fail("reference_mismatch", identity, credentialId, record.notAfter);
    return { valid: true, failure: null, identity, credentialId, notAfter: record.notAfter, logIndex: record.logIndex };
  }

  async sameClient(a: PresentedCredential, b: PresentedCredential): Promise<{ sameClient: boolean; a: ValidationResult; b: ValidationResult }> {
    const [ra, rb] = [await this.validate(a), await this.validate(b)];
    return { sameClient: ra.valid && rb.valid && ra.identity !== null && ra.identity === rb.identity, a: ra, b: rb };
  }

  private matches(identity: string, ref: ReferenceIdentifier): boolean {
    try {
      return matchesReference(parseClientIdentity(identity), ref);
    } catch {
      return false;
    }
  }

  private async basic(
    credential: Extract<Credential, { credentialType: 1 }>,
    bytes: Uint8Array,
  ): Promise<{ record: CredentialRecord; identity: string; leafKey?: undefined } | { failure: ValidationFailure; identity?: string }> {
    let identity: string;
    try {
      identity = new TextDecoder("utf-8", { fatal: true }).decode(credential.identity);
    } catch {
      return { failure: "unknown_credential" };
    }
    // The newest issuance of these bytes decides validity (older ones expired into it).
    const record = (await this.store.credentials.listByHash(sha256(bytes)))[0];
    return record === undefined ? { failure: "unknown_credential", identity } : { record, identity };
  }

  private async x509(
    credential: Extract<Credential, { credentialType: 2 }>,
  ): Promise<{ record: CredentialRecord; identity: string; leafKey: Uint8Array } | { failure: ValidationFailure; identity?: string }> {
    const chain = await this.ca.verifyChain(credential.certificates);
    if (!chain.ok) return { failure: "untrusted_chain" };
    const { leaf } = chain;
    const identity = leaf.identities.length === 1 ? leaf.identities[0]! : undefined;
    const record = await this.store.credentials.getBySerial(leaf.serial);
    // Signed by our CA yet not on record means lost records or a leaked CA key: do not vouch for it.
    if (record === undefined || identity === undefined) return { failure: "unknown_credential", ...(identity !== undefined ? { identity } : {}) };
    return { record, identity, leafKey: leaf.signatureKey };
  }
}
