/**
 * Checking an incoming federation request (issue 22 item 4). Every byte is
 * hostile until this passes: the headers must all be there and well formed,
 * the request must be signed for this domain, the origin allowed and within
 * its rate, the timestamp inside the window, the signature good under the
 * origin's pinned key, and the nonce new (recorded in the database, so a
 * replay is refused by every process and after a restart).
 */
import { ApiError, encodeFederationSigned, FEDERATION_HEADERS, FEDERATION_SIGNATURE_LABEL, fromBase64Url } from "@conclave/api";
import type { IncomingHttpHeaders } from "node:http";
import type { Clock } from "../crypto.js";
import { sha256 } from "../crypto.js";
import { RateLimitError } from "../http/errors.js";
import type { DomainKey } from "./domainKey.js";
import type { FederationStore } from "./federationStore.js";
import type { ResolvedFederationOptions } from "./options.js";
import type { PeerKeys } from "./peerKeys.js";

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const TIMESTAMP = /^[0-9]{1,15}$/;

/** What a verified request proves. */
export interface VerifiedPeer {
  readonly domain: string;
}

export interface IncomingFederationRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

function header(h: IncomingHttpHeaders, name: string): string {
  const v = h[name];
  if (typeof v !== "string" || v === "") throw new ApiError("FEDERATION_UNSIGNED", `missing ${name}`);
  return v;
}

/** One token bucket per domain, in memory (a process's share of the configured rate). */
class DomainRate {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {}

  consume(domain: string): void {
    const now = this.clock();
    const b = this.#buckets.get(domain) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(domain, b);
      throw new RateLimitError(Math.max(1, Math.ceil(((1 - b.tokens) * 60) / this.perMinute)), `${domain} is over its federation rate`);
    }
    b.tokens -= 1;
    this.#buckets.set(domain, b);
    if (this.#buckets.size > 10_000) this.#buckets.clear();
  }
}

export class RequestAuth {
  readonly #rate: DomainRate;

  constructor(
    private readonly o: ResolvedFederationOptions,
    private readonly domain: string,
    private readonly key: DomainKey,
    private readonly peers: PeerKeys,
    private readonly store: FederationStore,
    private readonly clock: Clock,
  ) {
    this.#rate = new DomainRate(o.ratePerMinute, clock);
  }

  /**
   * @throws ApiError FEDERATION_UNSIGNED, FEDERATION_WRONG_DOMAIN, FEDERATION_DOMAIN_DENIED, RATE_LIMITED,
   * FEDERATION_REPLAY, FEDERATION_SIGNATURE_INVALID, FEDERATION_KEY_CHANGED, FEDERATION_PEER_UNAVAILABLE
   */
  async verify(req: IncomingFederationRequest): Promise<VerifiedPeer> {
    const h = req.headers;
    const origin = header(h, FEDERATION_HEADERS.origin);
    const target = header(h, FEDERATION_HEADERS.target);
    const ts = header(h, FEDERATION_HEADERS.timestamp);
    const nonce = header(h, FEDERATION_HEADERS.nonce);
    const sigText = header(h, FEDERATION_HEADERS.signature);
    if (target !== this.domain) throw new ApiError("FEDERATION_WRONG_DOMAIN", `signed for ${target.slice(0, 255)}, this is ${this.domain}`);
    this.peers.checkAllowed(origin);
    if (origin === this.domain) throw new ApiError("FEDERATION_WRONG_DOMAIN", "a request from this server's own domain");
    if (!TIMESTAMP.test(ts) || !NONCE.test(nonce)) throw new ApiError("FEDERATION_UNSIGNED", "malformed timestamp or nonce");
    const timestamp = Number(ts);
    const now = this.clock();
    if (Math.abs(now - timestamp) > this.o.maxSkewMs) throw new ApiError("FEDERATION_REPLAY", "the request timestamp is outside the accepted window");
    const signature = fromBase64Url(sigText, "signature");
    const signed = encodeFederationSigned({ origin, target, method: req.method, path: req.url, bodyHash: sha256(req.body), timestamp, nonce });
    const key = await this.peers.keyOf(origin);
    if (!(await this.verifies(key, signed, signature))) {
      const changed = await this.peers.recheck(origin);
      if (changed === undefined || !(await this.verifies(changed, signed, signature))) {
        await this.store.event(now, origin, "refused", `bad signature on ${req.method} ${req.url.slice(0, 200)}`);
        throw new ApiError("FEDERATION_SIGNATURE_INVALID", `the signature does not verify with ${origin}'s key`);
      }
    }
    // Only after the signature: nobody can spend a domain's rate or fill the nonce table in its name.
    this.#rate.consume(origin);
    if (!(await this.store.useNonce(origin, nonce, timestamp + this.o.maxSkewMs, now))) {
      await this.store.event(now, origin, "refused", "replayed nonce");
      throw new ApiError("FEDERATION_REPLAY", "this nonce was already used");
    }
    return { domain: origin };
  }

  private async verifies(key: Uint8Array, signed: Uint8Array, signature: Uint8Array): Promise<boolean> {
    try {
      return await this.key.suite.verifyWithLabel(key, FEDERATION_SIGNATURE_LABEL, signed, signature);
    } catch {
      return false;
    }
  }
}
