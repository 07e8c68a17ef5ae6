/**
 * Credentials of another domain (issue 22 item 3): validated by that domain's
 * AS over signed S2S, and the verdict checked against its transparency log
 * here: the tree head signed by the log key pinned for that domain, the
 * credential's binding leaf included under it, and every new head proven
 * consistent with the last one this server verified for the domain (so a
 * remote AS that rewrites its log is caught, RFC 9162 §2.1.4).
 */
import {
  ApiError,
  decodeBindingLeaf,
  fromBase64Url,
  hashLeaf,
  parseClientIdentity,
  toBase64Url,
  TRANSPARENCY_SUITE,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
  type FederationValidateRequest,
  type FederationValidateResponse,
  type PresentedCredential,
  type ValidationFailure,
  type ValidationResult,
} from "@conclave/api";
import { bytesEqual, CredentialType, credentialCodec, decode, type CryptoProvider } from "@conclave/mls";
import type { AuthenticationService } from "../as/service.js";
import { treeHeadJson } from "../as/json.js";
import { sha256 } from "../crypto.js";
import type { Store } from "../storage/store.js";
import type { FederationService } from "./service.js";

const MAX_PROOF = 64;
const FAILURES: ReadonlySet<string> = new Set<ValidationFailure>([
  "unknown_credential",
  "untrusted_chain",
  "key_mismatch",
  "suite_mismatch",
  "reference_mismatch",
  "revoked",
  "expired",
  "not_yet_valid",
]);

/** The remote side: this AS's verdict on one of its credentials, with the log evidence. */
export async function answerValidate(as: AuthenticationService, store: Store, req: FederationValidateRequest): Promise<FederationValidateResponse> {
  const result = await as.validator.validate(req.presented, req.reference);
  const head = await as.log.treeHead(store);
  const size = head.treeSize;
  const known = Number.isSafeInteger(req.knownTreeSize) && req.knownTreeSize >= 0 ? req.knownTreeSize : 0;
  const consistency = known > 0 && known <= size ? await as.log.consistencyProof(store, known, size) : [];
  let leaf: string | null = null;
  let inclusion: Uint8Array[] = [];
  if (result.valid && result.logIndex !== null && result.logIndex < size) {
    const [record] = await as.log.leaves(store, result.logIndex, result.logIndex + 1);
    if (record !== undefined) {
      leaf = toBase64Url(record.leaf);
      inclusion = (await as.log.inclusionProof(store, result.logIndex, size)).proof;
    }
  }
  return { result, treeHead: treeHeadJson(head), leaf, inclusionProof: inclusion.map(toBase64Url), consistencyProof: consistency.map(toBase64Url) };
}

function proofOf(list: readonly string[] | undefined): Uint8Array[] {
  if (!Array.isArray(list) || list.length > MAX_PROOF) throw new ApiError("FEDERATION_PEER_ERROR", "malformed proof");
  return list.map((p) => fromBase64Url(String(p), "proof"));
}

/** The identity of a basic credential (undefined for anything else or unreadable bytes). */
export function basicIdentity(p: PresentedCredential): string | undefined {
  try {
    const c = decode(credentialCodec, fromBase64Url(p.credential, "credential"));
    return c.credentialType === CredentialType.basic ? new TextDecoder("utf-8", { fatal: true }).decode(c.identity) : undefined;
  } catch {
    return undefined;
  }
}

/** The domain a presented credential speaks for: the reference's, else a basic credential's identity. */
export function domainOfPresented(presented: PresentedCredential, reference: string | undefined, identityOf: (p: PresentedCredential) => string | undefined): string | undefined {
  const ref = reference ?? identityOf(presented);
  if (ref === undefined) return undefined;
  const at = ref.lastIndexOf("@");
  return at < 0 ? undefined : ref.slice(at + 1).split("#")[0];
}

export class RemoteIdentity {
  constructor(
    private readonly fed: FederationService,
    private readonly crypto: CryptoProvider,
  ) {}

  /**
   * Validates a credential of `domain` with its AS and checks the evidence.
   * @throws ApiError FEDERATION_PEER_UNAVAILABLE, FEDERATION_PEER_ERROR (bad tree head or proofs, an inconsistent log), FEDERATION_DOMAIN_DENIED
   */
  async validate(domain: string, presented: PresentedCredential, reference: string | undefined): Promise<ValidationResult> {
    const log = await this.logOf(domain);
    const req: FederationValidateRequest = { presented, ...(reference === undefined ? {} : { reference }), knownTreeSize: log.treeSize };
    const answer = await this.fed.client.request<FederationValidateResponse>(domain, "POST", "/federation/v1/as/validate", req);
    const suite = this.crypto.suite(TRANSPARENCY_SUITE);
    const head = answer?.treeHead === undefined ? undefined : await verifySignedTreeHead(suite, log.logKey, answer.treeHead);
    if (head === undefined) return this.refuse(domain, "tree-head-invalid", "the tree head does not verify with the pinned log key");
    // Consistency with what this server saw before, per domain.
    if (log.treeSize > 0) {
      const ok =
        head.treeSize >= log.treeSize &&
        verifyConsistency(suite.hash, { first: log.treeSize, second: head.treeSize, firstRoot: log.rootHash!, secondRoot: head.rootHash, proof: proofOf(answer.consistencyProof) });
      if (!ok) return this.refuse(domain, "log-inconsistent", `the tree head of size ${head.treeSize} is not consistent with the verified one of size ${log.treeSize}`);
    }
    await this.fed.store.advanceLog(domain, log.treeSize, head.treeSize, head.rootHash, this.fed.clock());
    const result = answer.result;
    if (typeof result !== "object" || result === null || typeof result.valid !== "boolean") return this.refuse(domain, "proof-invalid", "a malformed verdict");
    if (!result.valid) {
      // A peer's refusal, passed on with only well-formed fields.
      const failure = typeof result.failure === "string" && FAILURES.has(result.failure) ? result.failure : "unknown_credential";
      return {
        valid: false,
        failure,
        identity: typeof result.identity === "string" ? result.identity.slice(0, 400) : null,
        credentialId: toBase64Url(sha256(fromBase64Url(presented.credential, "credential"))),
        notAfter: Number.isSafeInteger(result.notAfter) ? result.notAfter : null,
        logIndex: null,
      };
    }
    if (result.identity === null || result.logIndex === null || answer.leaf === null) return this.refuse(domain, "proof-missing", "a valid verdict without its log leaf");
    let identityDomain: string;
    try {
      identityDomain = parseClientIdentity(result.identity).domain;
    } catch {
      return this.refuse(domain, "proof-invalid", "the verdict names a malformed identity");
    }
    if (identityDomain !== domain) return this.refuse(domain, "proof-invalid", `${domain} vouched for an identity of ${identityDomain}`);
    const leafBytes = fromBase64Url(answer.leaf, "leaf");
    const leaf = decodeBindingLeaf(leafBytes);
    const credentialHash = sha256(fromBase64Url(presented.credential, "credential"));
    const matches =
      leaf.identity === result.identity && bytesEqual(leaf.signatureKey, fromBase64Url(presented.signatureKey, "signatureKey")) && bytesEqual(leaf.credentialHash, credentialHash);
    const included = verifyInclusion(suite.hash, {
      leafIndex: result.logIndex,
      treeSize: head.treeSize,
      leafHash: hashLeaf(suite.hash, leafBytes),
      proof: proofOf(answer.inclusionProof),
      rootHash: head.rootHash,
    });
    if (!matches || !included) return this.refuse(domain, "proof-invalid", "the credential's binding is not proven in the log");
    return result;
  }

  private async logOf(domain: string) {
    const pinned = await this.fed.store.log(domain);
    if (pinned !== undefined) return pinned;
    const doc = await this.fed.peers.fetchDocument(domain);
    const key = typeof doc.logPublicKey === "string" ? fromBase64Url(doc.logPublicKey, "logPublicKey") : new Uint8Array(0);
    if (key.length !== 32) throw new ApiError("FEDERATION_PEER_ERROR", `${domain} publishes no transparency-log key`);
    const now = this.fed.clock();
    await this.fed.store.event(now, domain, "log-pinned", "first contact");
    return this.fed.store.pinLogIfAbsent(domain, key, now);
  }

  private async refuse(domain: string, kind: string, detail: string): Promise<never> {
    await this.fed.store.event(this.fed.clock(), domain, kind, detail);
    throw new ApiError("FEDERATION_PEER_ERROR", `${domain}: ${detail}`);
  }
}
