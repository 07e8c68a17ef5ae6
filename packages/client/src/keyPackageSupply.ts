/**
 * The device's KeyPackages on the DS (RFC 9750 §5.1, RFC 9420 §10): a batch
 * topped up below a low-water mark plus one last-resort KeyPackage, with their
 * private keys kept locally until a Welcome uses them.
 *
 * The supply runs low in two ways: joins use KeyPackages (the client tops up
 * after each), and adders claim some without ever sending a Welcome (a
 * drained supply, issue 23). For the second, sync also checks the DS count
 * now and then (`ensureNowAndThen`).
 */
import { fromBase64Url, toBase64Url, type KeyPackageCountsResponse, type UploadKeyPackagesResponse } from "@conclave/api";
import { createKeyPackage, decode, lifetimeFrom, mlsMessageCodec, WireFormat, type JoinKeyPackage, type KeyPackageBundle } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { LEAF_CAPABILITIES } from "./groupBook.js";
import { getJson, putJson } from "./store.js";

interface KeyPackageRecord {
  message: string;
  initPrivateKey: string;
  encryptionPrivateKey: string;
  lastResort: boolean;
}

export type StoredKeyPackage = JoinKeyPackage & { ref: Uint8Array; lastResort: boolean };

const PREFIX = "kp:";

export class KeyPackageSupply {
  #lastCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ctx: ClientContext,
    private readonly low: number,
    private readonly batch: number,
    private readonly check: { readonly checkIntervalMs: number; readonly now: () => number } = { checkIntervalMs: 10 * 60_000, now: Date.now },
  ) {}

  /** `ensure()` when the last check is older than the check interval; returns how many were uploaded. */
  async ensureNowAndThen(): Promise<number> {
    const now = this.check.now();
    if (now - this.#lastCheck < this.check.checkIntervalMs) return 0;
    return this.ensure();
  }

  async #newKeyPackage(lastResort: boolean): Promise<KeyPackageBundle> {
    const now = BigInt(Math.floor(Date.now() / 1000));
    const kp = await createKeyPackage({
      suite: this.ctx.provider.suite(this.ctx.session.cipherSuite),
      identity: this.ctx.session.signing(),
      lifetime: lifetimeFrom(now - 3600n, 90n * 24n * 3600n),
      capabilities: LEAF_CAPABILITIES,
      ...(lastResort ? { lastResort: true } : {}),
    });
    // Private keys are stored before the public half is published: a Welcome can never name a key we lost.
    const rec: KeyPackageRecord = {
      message: toBase64Url(kp.message),
      initPrivateKey: toBase64Url(kp.initPrivateKey),
      encryptionPrivateKey: toBase64Url(kp.encryptionPrivateKey),
      lastResort,
    };
    await putJson(this.ctx.store, `${PREFIX}${toBase64Url(kp.ref)}`, rec);
    return kp;
  }

  /** Tops up the DS: a batch when below the low-water mark, and a last-resort KeyPackage if none is there. Returns how many were uploaded. */
  async ensure(): Promise<number> {
    this.#lastCheck = this.check.now();
    const suite = this.ctx.session.cipherSuite;
    const counts = await this.ctx.session.call<KeyPackageCountsResponse>("countKeyPackages");
    const c = counts.counts.find((x) => x.cipherSuite === suite);
    const fresh: KeyPackageBundle[] = [];
    if ((c?.count ?? 0) < this.low) for (let i = 0; i < this.batch; i++) fresh.push(await this.#newKeyPackage(false));
    if (c?.lastResort !== true) fresh.push(await this.#newKeyPackage(true));
    if (fresh.length > 0) await this.ctx.session.call<UploadKeyPackagesResponse>("uploadKeyPackages", { json: { keyPackages: fresh.map((k) => toBase64Url(k.message)) } });
    return fresh.length;
  }

  /** Every KeyPackage whose private keys we hold, for Group.join to find the one a Welcome names. */
  async forJoin(): Promise<StoredKeyPackage[]> {
    const out: StoredKeyPackage[] = [];
    const sig = fromBase64Url(this.ctx.session.need().signaturePrivateKey);
    for (const key of await this.ctx.store.keys(PREFIX)) {
      const r = await getJson<KeyPackageRecord>(this.ctx.store, key);
      if (r === undefined) continue;
      const m = decode(mlsMessageCodec, fromBase64Url(r.message));
      if (m.wireFormat !== WireFormat.keyPackage) continue;
      out.push({
        keyPackage: m.keyPackage,
        initPrivateKey: fromBase64Url(r.initPrivateKey),
        encryptionPrivateKey: fromBase64Url(r.encryptionPrivateKey),
        signaturePrivateKey: sig,
        ref: fromBase64Url(key.slice(PREFIX.length)),
        lastResort: r.lastResort,
      });
    }
    return out;
  }

  /** Refs of the KeyPackages a Welcome used whose keys must go (RFC 9420 §16.8; last-resort ones are reused). */
  usedBy(welcome: Uint8Array, candidates: readonly StoredKeyPackage[]): string[] {
    const m = decode(mlsMessageCodec, welcome);
    if (m.wireFormat !== WireFormat.welcome) return [];
    const used: string[] = [];
    for (const s of m.welcome.secrets) {
      const ref = toBase64Url(s.newMember);
      if (candidates.some((x) => !x.lastResort && toBase64Url(x.ref) === ref)) used.push(ref);
    }
    return used;
  }

  async delete(ref: string): Promise<void> {
    await this.ctx.store.delete(`${PREFIX}${ref}`);
  }
}
