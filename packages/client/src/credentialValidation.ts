/**
 * Members are authenticated with the AS (RFC 9750 §4, RFC 9420 §5.3.1): our own
 * basic credential is issued by the AS at registration, and its binding is
 * checked in the AS transparency log (signed tree head + inclusion proof), so
 * an AS that hides a key it issued for us can be caught. Every other member's
 * credential is validated with the AS when we add them, join, or see them
 * added, and the AS's "valid" must be backed by its transparency log: the
 * binding leaf, an inclusion proof under a signed tree head, and each newer
 * tree head proven consistent with the last one we saw (RFC 9162), so the AS
 * cannot show us a key it keeps out of the log. Members that fail are refused
 * (when we add) or reported.
 */
import {
  ApiError,
  decodeBindingLeaf,
  fromBase64Url,
  hashLeaf,
  toBase64Url,
  TRANSPARENCY_SUITE,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
  type AsKeysResponse,
  type BindingLeaf,
  type ConsistencyProofResponse,
  type InclusionProofResponse,
  type IssueCredentialResponse,
  type LeavesResponse,
  type SignedTreeHeadJson,
  type TreeHead,
  type ValidationResult,
} from "@conclave/api";
import { bytesEqual, credentialCodec, encode, type CipherSuiteId, type Credential, type Group } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { memberIdentity, type ClientEvent } from "./events.js";
import { getJson, putJson } from "./store.js";

export interface Presented {
  readonly credential: Credential;
  readonly signatureKey: Uint8Array;
}

/** Where the last accepted transparency-log tree head is kept, so a restart still checks consistency against it. */
const LOG_HEAD_KEY = "logHead";

/** A failed log check: a verdict about the AS, unlike a transport error. */
class LogProofFailure extends Error {}

export class CredentialValidation {
  /** Validation results by credential and key: a member is asked about once per process. */
  readonly #cache = new Map<string, Promise<ValidationResult>>();
  /** The newest tree head we verified; every later one must extend it. */
  #head: TreeHead | undefined;
  #logKey: Promise<Uint8Array> | undefined;

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
    const head = await verifySignedTreeHead(this.ctx.provider.suite(TRANSPARENCY_SUITE), await this.#logPublicKey(), issued.treeHead);
    if (head === undefined) throw new ApiError("AUTH_SIGNATURE_INVALID", "the transparency log's tree head signature does not verify");
    const leafBytes = await this.#bindingLeaf(c.logIndex, s.identity, fromBase64Url(c.signatureKey), c.credentialId);
    if (leafBytes === undefined || !this.#included(c.logIndex, leafBytes, head, issued.inclusionProof)) {
      throw new ApiError("AUTH_SIGNATURE_INVALID", "the AS transparency log does not prove our credential's binding");
    }
    if ((await this.#lastHead()) === undefined) await this.#accept(head);
    await putJson(this.ctx.store, "credential", { ...c, treeHead: issued.treeHead });
  }

  /** The AS's verdict on a presented credential, optionally against a reference identifier ("user@domain"). */
  validate(p: Presented, cipherSuite: CipherSuiteId, reference?: string): Promise<ValidationResult> {
    const credential = toBase64Url(encode(credentialCodec, p.credential));
    const signatureKey = toBase64Url(p.signatureKey);
    const key = `${cipherSuite}/${credential}/${signatureKey}/${reference ?? ""}`;
    let r = this.#cache.get(key);
    if (r === undefined) {
      r = this.ctx.session
        .call<ValidationResult>("validateCredential", { json: { credential, signatureKey, cipherSuite, ...(reference !== undefined ? { reference } : {}) } })
        .then(async (v) => {
          if (!v.valid) return v;
          // Another domain's credential (federation): the home server checked it against that domain's log
          // (tree head, inclusion, consistency per domain); our own log does not hold it.
          if (v.identity !== null && !v.identity.includes(`@${this.ctx.session.need().domain}#`)) return v;
          try {
            await this.#proveInLog(v, p.signatureKey);
            return v;
          } catch (e) {
            if (!(e instanceof LogProofFailure)) throw e;
            return { ...v, valid: false, failure: "not_in_log" as const };
          }
        });
      this.#cache.set(key, r);
      r.catch(() => this.#cache.delete(key)); // an outage is not a verdict
    }
    return r;
  }

  /** Throws LogProofFailure unless the log holds v's binding to `signatureKey` under a verified, consistent tree head. */
  async #proveInLog(v: ValidationResult, signatureKey: Uint8Array): Promise<void> {
    if (v.logIndex === null) throw new LogProofFailure("the AS gave no log index");
    const head = await this.#headCovering(v.logIndex);
    const leafBytes = await this.#bindingLeaf(v.logIndex, v.identity, signatureKey, v.credentialId);
    if (leafBytes === undefined) throw new LogProofFailure("the log leaf does not bind this credential and key");
    const p = await this.ctx.session.transport.request<InclusionProofResponse>("inclusionProof", { query: { leafIndex: v.logIndex, treeSize: head.treeSize } });
    if (!this.#included(v.logIndex, leafBytes, head, p.proof)) throw new LogProofFailure("the inclusion proof does not verify");
  }

  /** The log leaf at `index`, if it binds `identity` to `signatureKey` with the credential `credentialId`. */
  async #bindingLeaf(index: number, identity: string | null, signatureKey: Uint8Array, credentialId: string): Promise<Uint8Array | undefined> {
    const page = await this.ctx.session.transport.request<LeavesResponse>("leaves", { query: { start: index, end: index + 1 } });
    const leafBytes = fromBase64Url(page.leaves[0]?.leaf ?? "");
    try {
      const leaf = decodeBindingLeaf(leafBytes);
      return leaf.identity === identity && bytesEqual(leaf.signatureKey, signatureKey) && toBase64Url(leaf.credentialHash) === credentialId ? leafBytes : undefined;
    } catch {
      return undefined;
    }
  }

  /** RFC 9162 §2.1.3.2: whether `proof` puts `leafBytes` at `index` under `head`. */
  #included(index: number, leafBytes: Uint8Array, head: TreeHead, proof: readonly string[]): boolean {
    const hash = (d: Uint8Array) => this.ctx.provider.suite(TRANSPARENCY_SUITE).hash(d);
    return verifyInclusion(hash, { leafIndex: index, treeSize: head.treeSize, leafHash: hashLeaf(hash, leafBytes), proof: proof.map((x) => fromBase64Url(x)), rootHash: head.rootHash });
  }

  /** The log's public key, as the AS publishes it (fetched once per process). */
  #logPublicKey(): Promise<Uint8Array> {
    if (this.#logKey === undefined) {
      const key = this.ctx.session.transport.request<AsKeysResponse>("asKeys").then((k) => fromBase64Url(k.logPublicKey));
      key.catch(() => (this.#logKey = undefined)); // an outage is retried, not remembered
      this.#logKey = key;
    }
    return this.#logKey;
  }

  /** The last tree head we accepted, from memory or (after a restart) from the store. */
  async #lastHead(): Promise<TreeHead | undefined> {
    if (this.#head === undefined) {
      const saved = await getJson<{ treeSize: number; timestamp: number; rootHash: string }>(this.ctx.store, LOG_HEAD_KEY);
      if (saved !== undefined) this.#head = { treeSize: saved.treeSize, timestamp: saved.timestamp, rootHash: fromBase64Url(saved.rootHash) };
    }
    return this.#head;
  }

  async #accept(head: TreeHead): Promise<void> {
    this.#head = head;
    await putJson(this.ctx.store, LOG_HEAD_KEY, { treeSize: head.treeSize, timestamp: head.timestamp, rootHash: toBase64Url(head.rootHash) });
  }

  /** A verified tree head whose tree holds leaf `index`, consistent with the last head we accepted. */
  async #headCovering(index: number): Promise<TreeHead> {
    const known = await this.#lastHead();
    if (known !== undefined && index < known.treeSize) return known;
    const head = await this.#fetchHead(known);
    if (index >= head.treeSize) throw new LogProofFailure("the log does not reach the leaf");
    return head;
  }

  /**
   * The log's current tree head, signature-checked and proven to extend the
   * last one we accepted (which it replaces); undefined when the AS fails
   * either check. For audits that read the whole log (deviceAudit.ts).
   */
  async latestHead(): Promise<TreeHead | undefined> {
    try {
      return await this.#fetchHead(await this.#lastHead());
    } catch (e) {
      if (e instanceof LogProofFailure) return undefined;
      throw e;
    }
  }

  /** Fetches, verifies and accepts the current tree head (consistent with `known`). */
  async #fetchHead(known: TreeHead | undefined): Promise<TreeHead> {
    const t = this.ctx.session.transport;
    const suite = this.ctx.provider.suite(TRANSPARENCY_SUITE);
    const head = await verifySignedTreeHead(suite, await this.#logPublicKey(), await t.request<SignedTreeHeadJson>("treeHead"));
    if (head === undefined) throw new LogProofFailure("the tree head signature does not verify");
    if (known !== undefined) {
      if (head.treeSize < known.treeSize) throw new LogProofFailure("the log shrank");
      const c = await t.request<ConsistencyProofResponse>("consistencyProof", { query: { first: known.treeSize, second: head.treeSize } });
      const consistent = verifyConsistency((d) => suite.hash(d), {
        first: known.treeSize,
        second: head.treeSize,
        firstRoot: known.rootHash,
        secondRoot: head.rootHash,
        proof: c.proof.map((x) => fromBase64Url(x)),
      });
      if (!consistent) throw new LogProofFailure("the new tree head does not extend the one we saw before");
    }
    await this.#accept(head);
    return head;
  }

  /**
   * Whether the transparency log holds at `index` a leaf that `matches`, with an
   * inclusion proof under a verified tree head consistent with the last one we
   * saw (device changes, issue 23). False is a verdict about the AS; transport
   * errors throw.
   */
  async inLog(index: number, matches: (leaf: BindingLeaf) => boolean): Promise<boolean> {
    try {
      const head = await this.#headCovering(index);
      const t = this.ctx.session.transport;
      const page = await t.request<LeavesResponse>("leaves", { query: { start: index, end: index + 1 } });
      const leafBytes = fromBase64Url(page.leaves[0]?.leaf ?? "");
      let leaf: BindingLeaf;
      try {
        leaf = decodeBindingLeaf(leafBytes);
      } catch {
        return false;
      }
      if (!matches(leaf)) return false;
      const p = await t.request<InclusionProofResponse>("inclusionProof", { query: { leafIndex: index, treeSize: head.treeSize } });
      return this.#included(index, leafBytes, head, p.proof);
    } catch (e) {
      if (e instanceof LogProofFailure) return false;
      throw e;
    }
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
