/**
 * Server-to-server federation (issue 22; RFC 9750 §6.10, MIMI's hub-and-follower model):
 * the wire contract between two Conclave domains.
 *
 * Every domain has one signing key (cipher suite 1, Ed25519), published with its
 * endpoints at `GET /.well-known/conclave-federation`. Every federation request
 * carries the headers below and is signed with SignWithLabel(domain key,
 * {@link FEDERATION_SIGNATURE_LABEL}, {@link encodeFederationSigned}(...)): the
 * receiver checks the key (pinned on first contact or configured), the
 * timestamp window, and that the nonce was never seen before.
 */
import { utf8 } from "@conclave/mls";
import type { PresentedCredential, ValidationResult } from "./routes.js";
import type { SignedTreeHeadJson } from "./transparency.js";

/** The path of a domain's federation document. */
export const FEDERATION_WELL_KNOWN_PATH = "/.well-known/conclave-federation";
/** The SignWithLabel label of federation request signatures. */
export const FEDERATION_SIGNATURE_LABEL = "Conclave federation request";
/** The federation protocol version this code speaks. */
export const FEDERATION_VERSION = 1;

/** Request headers of a signed federation request (lower case, as node reports them). */
export const FEDERATION_HEADERS = {
  /** The sending domain. */
  origin: "conclave-federation-origin",
  /** The receiving domain (a request signed for one domain is refused by another). */
  target: "conclave-federation-target",
  /** Milliseconds since the Unix epoch, decimal. */
  timestamp: "conclave-federation-timestamp",
  /** 16..64 unpadded base64url characters, never reused. */
  nonce: "conclave-federation-nonce",
  /** base64url SignWithLabel signature. */
  signature: "conclave-federation-signature",
} as const;

/** What a domain publishes at {@link FEDERATION_WELL_KNOWN_PATH}. */
export interface FederationDocument {
  readonly version: number;
  readonly domain: string;
  /** The domain's Ed25519 signing key (raw, base64url). */
  readonly signatureKey: string;
  /** Base URL of the domain's federation API (ends without a slash). */
  readonly endpoint: string;
  /** Base URL of its client API (`/v1`). */
  readonly api: string;
  /** The domain AS's transparency-log key (raw Ed25519, base64url): pinned with the domain key. */
  readonly logPublicKey: string;
}

/** What a request signature covers. */
export interface FederationSignedFields {
  readonly origin: string;
  readonly target: string;
  readonly method: string;
  /** Path and query string as sent. */
  readonly path: string;
  /** SHA-256 of the body bytes (the empty string's hash for no body). */
  readonly bodyHash: Uint8Array;
  readonly timestamp: number;
  readonly nonce: string;
}

/**
 * The signed bytes: every field on its own line, the body hash in hex, so no
 * field can run into another (a domain or path never holds a newline: both are
 * checked before signing and verifying).
 * @throws Error when a field holds a newline.
 */
export function encodeFederationSigned(f: FederationSignedFields): Uint8Array {
  const fields = [`conclave-federation/${FEDERATION_VERSION}`, f.origin, f.target, f.method.toUpperCase(), f.path, hex(f.bodyHash), String(f.timestamp), f.nonce];
  if (fields.some((x) => x.includes("\n"))) throw new Error("federation: a signed field holds a newline");
  return utf8(fields.join("\n"));
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** A ping between domains (a liveness and authentication check). */
export interface FederationPingResponse {
  readonly domain: string;
  /** The authenticated sending domain, as the receiver saw it. */
  readonly from: string;
}

/** One peer as the admin view shows it. */
export interface FederationPeerView {
  readonly domain: string;
  /** The pinned key (base64url), or null when none yet. */
  readonly signatureKey: string | null;
  /** "configured" (CONCLAVE_FEDERATION_PINNED) or "first-contact". */
  readonly source: string | null;
  readonly pinnedAt: number | null;
  /** The configured base URL. */
  readonly url: string | null;
  /** allowed / denied by the allow and deny lists. */
  readonly allowed: boolean;
}

/** One federation event (key pinned, key change accepted or refused, request refused). */
export interface FederationEventView {
  readonly id: number;
  readonly at: number;
  readonly domain: string;
  readonly kind: string;
  readonly detail: string;
}

/** `GET /v1/admin/federation`. */
export interface FederationAdminResponse {
  readonly domain: string;
  readonly signatureKey: string;
  readonly peers: readonly FederationPeerView[];
  readonly events: readonly FederationEventView[];
}

/** `POST /federation/v1/key-packages/claim`: a home server claims KeyPackages of one of the receiver's users (answer: ClaimKeyPackagesResponse). */
export interface FederationClaimRequest {
  readonly user: string;
  readonly cipherSuites: readonly number[];
}

/** `POST /federation/v1/as/validate`: a credential of the receiver's domain, validated by its AS. */
export interface FederationValidateRequest {
  readonly presented: PresentedCredential;
  readonly reference?: string;
  /** The size of the receiver's log the asking domain last verified (0: none): the answer proves consistency from it. */
  readonly knownTreeSize: number;
}

/** The answer: the AS's verdict, backed by its log when valid. */
export interface FederationValidateResponse {
  readonly result: ValidationResult;
  /** The latest signed tree head of the receiver's log. */
  readonly treeHead: SignedTreeHeadJson;
  /** For a valid credential: its BindingLeaf (base64url) and audit path under treeHead. */
  readonly leaf: string | null;
  readonly inclusionProof: readonly string[];
  /** Proof that treeHead extends the tree of knownTreeSize (RFC 9162 §2.1.4). */
  readonly consistencyProof: readonly string[];
}
