/**
 * The signing keys of peer domains (issue 22 item 3/4): configured pins
 * (CONCLAVE_FEDERATION_PINNED) win; otherwise a domain's key is fetched from
 * its well-known document and pinned on first contact. A later document with
 * another key is a key change: refused (FEDERATION_KEY_CHANGED) unless the
 * operator accepts key changes, and recorded as an event either way.
 */
import { ApiError, fromBase64Url, FEDERATION_WELL_KNOWN_PATH, type FederationDocument } from "@conclave/api";
import { constantTimeEqual } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { FederationStore, PinRecord } from "./federationStore.js";
import type { ResolvedFederationOptions } from "./options.js";
import { isDomainName } from "./options.js";

/** The largest well-known document read (a hostile peer cannot make us buffer more). */
const MAX_DOCUMENT_BYTES = 16 * 1024;
/** A domain's document is fetched again at most this often (a bad signature must not make us hammer it). */
const REFETCH_INTERVAL_MS = 30_000;

export class PeerKeys {
  readonly #lastFetch = new Map<string, number>();

  constructor(
    private readonly o: ResolvedFederationOptions,
    private readonly store: FederationStore,
    private readonly clock: Clock,
  ) {}

  /** A peer's base URL: configured, else https://<domain>. */
  baseUrl(domain: string): string {
    return this.o.peers.get(domain) ?? `https://${domain}`;
  }

  /** Allow and deny lists. @throws ApiError FEDERATION_DOMAIN_DENIED */
  checkAllowed(domain: string): void {
    if (!isDomainName(domain)) throw new ApiError("FEDERATION_DOMAIN_DENIED", "not a domain name");
    if (this.o.deny.has(domain) || (this.o.allow !== undefined && !this.o.allow.has(domain))) {
      throw new ApiError("FEDERATION_DOMAIN_DENIED", `this server does not federate with ${domain}`);
    }
  }

  isAllowed(domain: string): boolean {
    return !this.o.deny.has(domain) && (this.o.allow === undefined || this.o.allow.has(domain));
  }

  /** Writes the configured pins into the store (replacing first-contact pins, with an event when they differ). */
  async applyConfigured(): Promise<void> {
    for (const [domain, key] of this.o.pinned) {
      const now = this.clock();
      const current = await this.store.pin(domain);
      const pin: PinRecord = { domain, signatureKey: key, source: "configured", pinnedAt: now };
      if (current === undefined) {
        await this.store.pinIfAbsent(pin);
        await this.store.event(now, domain, "pinned", "configured key");
      } else if (!constantTimeEqual(current.signatureKey, key) || current.source !== "configured") {
        await this.store.replacePin(pin);
        await this.store.event(now, domain, "pinned", "configured key replaces the pinned one");
      }
    }
  }

  /**
   * The key to verify `domain`'s requests with: the pin, or, on first contact,
   * the key of its well-known document (then pinned).
   * @throws ApiError FEDERATION_PEER_UNAVAILABLE, FEDERATION_PEER_ERROR
   */
  async keyOf(domain: string): Promise<Uint8Array> {
    const pin = await this.store.pin(domain);
    if (pin !== undefined) return pin.signatureKey;
    const doc = await this.fetchDocument(domain);
    const key = fromBase64Url(doc.signatureKey, "signatureKey");
    const now = this.clock();
    const kept = await this.store.pinIfAbsent({ domain, signatureKey: key, source: "first-contact", pinnedAt: now });
    if (constantTimeEqual(kept.signatureKey, key)) await this.store.event(now, domain, "pinned", "first contact");
    return kept.signatureKey;
  }

  /**
   * A signature did not verify with the pinned key: look whether the peer
   * published a new one. Returns the key to retry with, or undefined when
   * nothing changed (the signature is simply bad).
   * @throws ApiError FEDERATION_KEY_CHANGED when the peer's key changed and changes are not accepted
   */
  async recheck(domain: string): Promise<Uint8Array | undefined> {
    const pin = await this.store.pin(domain);
    if (pin === undefined || pin.source === "configured") return undefined;
    const now = this.clock();
    if (now - (this.#lastFetch.get(domain) ?? -Infinity) < REFETCH_INTERVAL_MS) return undefined;
    let doc: FederationDocument;
    try {
      doc = await this.fetchDocument(domain);
    } catch {
      return undefined;
    }
    const key = fromBase64Url(doc.signatureKey, "signatureKey");
    if (constantTimeEqual(key, pin.signatureKey)) return undefined;
    if (!this.o.acceptKeyChanges) {
      await this.store.event(now, domain, "key-change-refused", `published key ${doc.signatureKey} differs from the pinned one`);
      throw new ApiError("FEDERATION_KEY_CHANGED", `${domain} published another signing key than the pinned one`);
    }
    await this.store.replacePin({ domain, signatureKey: key, source: "first-contact", pinnedAt: now });
    await this.store.event(now, domain, "key-changed", `re-pinned to ${doc.signatureKey}`);
    return key;
  }

  /** GET <base>/.well-known/conclave-federation, size-capped and checked to name `domain`. */
  async fetchDocument(domain: string): Promise<FederationDocument> {
    this.#lastFetch.set(domain, this.clock());
    let res: Response;
    try {
      res = await fetch(this.baseUrl(domain) + FEDERATION_WELL_KNOWN_PATH, { signal: AbortSignal.timeout(this.o.timeoutMs), redirect: "error" });
    } catch (e) {
      throw new ApiError("FEDERATION_PEER_UNAVAILABLE", `${domain} does not answer`, { cause: e });
    }
    const text = await readCapped(res, MAX_DOCUMENT_BYTES);
    if (!res.ok || text === undefined) throw new ApiError("FEDERATION_PEER_ERROR", `${domain}'s federation document is unavailable (${res.status})`);
    let doc: Partial<FederationDocument>;
    try {
      doc = JSON.parse(text) as Partial<FederationDocument>;
    } catch {
      throw new ApiError("FEDERATION_PEER_ERROR", `${domain}'s federation document is not JSON`);
    }
    if (doc.domain !== domain || typeof doc.signatureKey !== "string" || fromBase64Url(doc.signatureKey, "signatureKey").length !== 32) {
      throw new ApiError("FEDERATION_PEER_ERROR", `${domain}'s federation document does not name it with a 32-byte key`);
    }
    return doc as FederationDocument;
  }
}

/** A response body as text, or undefined when it exceeds `max` bytes (the rest is not read). */
export async function readCapped(res: Response, max: number): Promise<string | undefined> {
  const reader = res.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
