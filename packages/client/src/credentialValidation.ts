/**
 * Members are authenticated with the AS (RFC 9750 §4, RFC 9420 §5.3.1): our own
 * basic credential is issued by the AS at registration, and its binding is
 * checked in the AS transparency log (signed tree head + inclusion proof), so
 * an AS that hides a key it issued for us can be caught. Every other member's
 * credential is validated with the AS when we add them, join, or see them
 * added; invalid or revoked ones are refused (when we add) or reported.
 */
import {
  ApiError,
  decodeBindingLeaf,
  fromBase64Url,
  hashLeaf,
  toBase64Url,
  TRANSPARENCY_SUITE,
  verifyInclusion,
  verifySignedTreeHead,
  type AsKeysResponse,
  type IssueCredentialResponse,
  type LeavesResponse,
  type ValidationResult,
} from "@conclave/api";
import { bytesEqual, credentialCodec, encode, type CipherSuiteId, type Credential, type Group } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { memberIdentity, type ClientEvent } from "./events.js";
import { putJson } from "./store.js";

export interface Presented {
  readonly credential: Credential;
  readonly signatureKey: Uint8Array;
}

export class CredentialValidation {
  /** Validation results by credential and key: a member is asked about once per process. */
  readonly #cache = new Map<string, Promise<ValidationResult>>();

  constructor(
    private readonly ctx: ClientContext,
    readonly enabled: boolean,
  ) {}

  /**
   * Has the AS issue this device's basic credential (the bytes our leaves carry) and checks that the
   * binding is in the AS transparency log under a tree head signed by the log key.
   */
  async issueOwn(): Promise<void> {
    const s = this.ctx.session;
    const issued = await s.call<IssueCredentialResponse>("issueCredential", { json: { type: "basic" } });
    const c = issued.credential;
    const mine = encode(credentialCodec, s.signing().credential);
    if (c.identity !== s.identity || !bytesEqual(fromBase64Url(c.credential), mine) || c.signatureKey !== s.need().signaturePublicKey) {
      throw new ApiError("AUTH_SIGNATURE_INVALID", "the AS issued a credential that is not this device's");
    }
    const keys = await s.transport.request<AsKeysResponse>("asKeys");
    const suite = this.ctx.provider.suite(TRANSPARENCY_SUITE);
    const head = await verifySignedTreeHead(suite, fromBase64Url(keys.logPublicKey), issued.treeHead);
    if (head === undefined) throw new ApiError("AUTH_SIGNATURE_INVALID", "the transparency log's tree head signature does not verify");
    const page = await s.transport.request<LeavesResponse>("leaves", { query: { start: c.logIndex, end: c.logIndex + 1 } });
    const leafBytes = fromBase64Url(page.leaves[0]?.leaf ?? "");
    const leaf = decodeBindingLeaf(leafBytes);
    const hash = (d: Uint8Array) => suite.hash(d);
    const bound = leaf.identity === s.identity && bytesEqual(leaf.signatureKey, fromBase64Url(c.signatureKey)) && toBase64Url(leaf.credentialHash) === c.credentialId;
    const included = verifyInclusion(hash, { leafIndex: c.logIndex, treeSize: head.treeSize, leafHash: hashLeaf(hash, leafBytes), proof: issued.inclusionProof.map((p) => fromBase64Url(p)), rootHash: head.rootHash });
    if (!bound || !included) throw new ApiError("AUTH_SIGNATURE_INVALID", "the AS transparency log does not prove our credential's binding");
    await putJson(this.ctx.store, "credential", { ...c, treeHead: issued.treeHead });
  }

  /** The AS's verdict on a presented credential, optionally against a reference identifier ("user@domain"). */
  validate(p: Presented, cipherSuite: CipherSuiteId, reference?: string): Promise<ValidationResult> {
    const credential = toBase64Url(encode(credentialCodec, p.credential));
    const signatureKey = toBase64Url(p.signatureKey);
    const key = `${cipherSuite}/${credential}/${signatureKey}/${reference ?? ""}`;
    let r = this.#cache.get(key);
    if (r === undefined) {
      r = this.ctx.session.call<ValidationResult>("validateCredential", { json: { credential, signatureKey, cipherSuite, ...(reference !== undefined ? { reference } : {}) } });
      this.#cache.set(key, r);
      r.catch(() => this.#cache.delete(key)); // an outage is not a verdict
    }
    return r;
  }

  /** "untrusted" events for the members of `g` named in `identities` whose credential the AS does not vouch for. */
  async vet(groupId: string, g: Group, identities: readonly string[]): Promise<ClientEvent[]> {
    if (!this.enabled || !g.isActive || identities.length === 0) return [];
    const me = this.ctx.session.identity;
    const out: ClientEvent[] = [];
    for (const m of g.members) {
      const who = memberIdentity(m);
      if (who === me || !identities.includes(who)) continue;
      const v = await this.validate(m, g.cipherSuite);
      if (!v.valid) out.push({ type: "untrusted", groupId, epoch: g.epoch, member: who, reason: v.failure ?? "invalid" });
    }
    return out;
  }
}
