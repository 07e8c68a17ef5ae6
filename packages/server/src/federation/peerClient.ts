/**
 * Outgoing federation requests: signed with the domain key (requestAuth.ts
 * checks them on the other side), size-capped answers, a timeout, and errors
 * mapped to stable codes: a peer that does not answer (or answers 5xx) is
 * FEDERATION_PEER_UNAVAILABLE, a temporary condition; a peer's 4xx keeps its
 * code when it is one of ours.
 */
import { randomBytes } from "node:crypto";
import { ApiError, encodeFederationSigned, FEDERATION_HEADERS, isApiErrorCode, toBase64Url, type ErrorBody } from "@conclave/api";
import type { Clock } from "../crypto.js";
import { sha256 } from "../crypto.js";
import type { DomainKey } from "./domainKey.js";
import type { ResolvedFederationOptions } from "./options.js";
import { readCapped, type PeerKeys } from "./peerKeys.js";

/** Answers larger than this are refused (a peer cannot make us buffer without bound). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A hub's 409 EPOCH_MISMATCH, passed on with its current epoch. */
class RelayedEpochMismatch extends ApiError {
  constructor(
    readonly currentEpoch: number,
    message: string,
  ) {
    super("EPOCH_MISMATCH", message);
  }

  override toBody(): ErrorBody {
    const body = super.toBody();
    return { error: { ...body.error, currentEpoch: this.currentEpoch } as ErrorBody["error"] };
  }
}

export class PeerClient {
  constructor(
    private readonly o: ResolvedFederationOptions,
    private readonly domain: string,
    private readonly key: DomainKey,
    private readonly peers: PeerKeys,
    private readonly clock: Clock,
  ) {}

  /**
   * Sends a signed JSON request to `peer` and returns its JSON answer.
   * @throws ApiError FEDERATION_DOMAIN_DENIED, FEDERATION_PEER_UNAVAILABLE, FEDERATION_PEER_ERROR, or the peer's own 4xx code
   */
  async request<T>(peer: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    this.peers.checkAllowed(peer);
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    const timestamp = this.clock();
    const nonce = toBase64Url(randomBytes(18));
    const signed = encodeFederationSigned({ origin: this.domain, target: peer, method, path, bodyHash: sha256(bytes), timestamp, nonce });
    const signature = toBase64Url(await this.key.sign(signed));
    const headers: Record<string, string> = {
      [FEDERATION_HEADERS.origin]: this.domain,
      [FEDERATION_HEADERS.target]: peer,
      [FEDERATION_HEADERS.timestamp]: String(timestamp),
      [FEDERATION_HEADERS.nonce]: nonce,
      [FEDERATION_HEADERS.signature]: signature,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.peers.baseUrl(peer) + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: bytes }),
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: "error",
      });
    } catch (e) {
      throw new ApiError("FEDERATION_PEER_UNAVAILABLE", `${peer} does not answer: try again later`, { cause: e });
    }
    const text = await readCapped(res, MAX_ANSWER_BYTES).catch(() => undefined);
    if (res.status >= 500) throw new ApiError("FEDERATION_PEER_UNAVAILABLE", `${peer} answered ${res.status}: try again later`);
    if (text === undefined) throw new ApiError("FEDERATION_PEER_ERROR", `${peer}'s answer is too large or broken`);
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new ApiError("FEDERATION_PEER_ERROR", `${peer} answered something that is not JSON`);
    }
    if (!res.ok) {
      const code = (json as Partial<ErrorBody> | undefined)?.error?.code;
      const message = `${peer}: ${String((json as Partial<ErrorBody> | undefined)?.error?.message ?? res.status).slice(0, 300)}`;
      const currentEpoch = (json as { error?: { currentEpoch?: unknown } } | undefined)?.error?.currentEpoch;
      // The hub's 409 keeps its epoch: the client catches up from it as from its own DS.
      if (code === "EPOCH_MISMATCH" && Number.isSafeInteger(currentEpoch)) throw new RelayedEpochMismatch(currentEpoch as number, message);
      if (typeof code === "string" && isApiErrorCode(code) && res.status < 500) throw new ApiError(code, message);
      throw new ApiError("FEDERATION_PEER_ERROR", message);
    }
    return json as T;
  }
}
