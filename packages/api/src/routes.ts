/**
 * The JSON contract of every Conclave route: request and response bodies.
 *
 * Conventions: byte strings are unpadded base64url (`B64u`, see base64url.ts);
 * times are integers, milliseconds since the Unix epoch; names are camelCase.
 * Errors are `ErrorBody` (errors.ts). Routes marked "bearer" need the header
 * `Authorization: Bearer <token>` from POST /v1/clients or POST /v1/auth/tokens.
 */
import { ACCOUNT_ROUTES } from "./accounts.js";
import { DS_ROUTES } from "./ds.js";
import type { SignedTreeHeadJson } from "./transparency.js";

/** Unpadded base64url text of a byte string. */
export type B64u = string;

/** The path prefix of every route of this API version. */
export const API_PREFIX = "/v1";

/** Every route: method and path (fastify-style `:param` placeholders). */
export const ROUTES = {
  health: { method: "GET", path: "/v1/health" },
  openapi: { method: "GET", path: "/v1/openapi.json" },
  createAccount: { method: "POST", path: "/v1/accounts" },
  createChallenge: { method: "POST", path: "/v1/auth/challenges" },
  registerClient: { method: "POST", path: "/v1/clients" },
  login: { method: "POST", path: "/v1/auth/tokens" },
  logout: { method: "DELETE", path: "/v1/auth/tokens/current" },
  currentClient: { method: "GET", path: "/v1/clients/self" },
  listUserClients: { method: "GET", path: "/v1/users/:user/clients" },
  revokeClient: { method: "POST", path: "/v1/users/:user/clients/:device/revoke" },
  asKeys: { method: "GET", path: "/v1/as/keys" },
  issueCredential: { method: "POST", path: "/v1/as/credentials" },
  listCredentials: { method: "GET", path: "/v1/as/credentials" },
  credentialStatus: { method: "GET", path: "/v1/as/credentials/:credentialId/status" },
  revokeCredential: { method: "POST", path: "/v1/as/credentials/:credentialId/revoke" },
  validateCredential: { method: "POST", path: "/v1/as/validate" },
  sameClient: { method: "POST", path: "/v1/as/same-client" },
  treeHead: { method: "GET", path: "/v1/transparency/tree-head" },
  leaves: { method: "GET", path: "/v1/transparency/leaves" },
  inclusionProof: { method: "GET", path: "/v1/transparency/inclusion" },
  consistencyProof: { method: "GET", path: "/v1/transparency/consistency" },
  ...ACCOUNT_ROUTES,
  ...DS_ROUTES,
} as const;

/** The name of a route in {@link ROUTES}. */
export type RouteName = keyof typeof ROUTES;

/** Fills `:param` placeholders (URI-encoding each value). @throws TypeError when `params` lacks a placeholder's value. */
export function routePath(name: RouteName, params: Record<string, string> = {}): string {
  return ROUTES[name].path.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const v = params[key];
    if (v === undefined) throw new TypeError(`missing path parameter ${key} for ${name}`);
    return encodeURIComponent(v);
  });
}

// ---------------------------------------------------------------------------
// GET /v1/health

/** The body of GET /v1/health. */
export interface HealthResponse {
  status: "ok";
  /** Storage engine in use: "sqlite" or "postgres". */
  storage: string;
  time: number;
}

// ---------------------------------------------------------------------------
// Accounts and clients (AS, RFC 9750 §3.1)

// Account creation, challenges, registration and login: accounts.ts.

/** A registered client (device) as the AS reports it; times in ms since the Unix epoch. */
export interface ClientInfo {
  /** "user@domain#device" */
  identity: string;
  user: string;
  device: string;
  cipherSuite: number;
  signatureKey: B64u;
  createdAt: number;
  revokedAt: number | null;
}

/** 201 from POST /v1/clients and POST /v1/auth/tokens. */
export interface TokenResponse {
  /** Bearer token: 32 random bytes, base64url. The server keeps only its hash. */
  token: string;
  expiresAt: number;
  client: ClientInfo;
}

/** GET /v1/users/:user/clients (bearer) */
export interface ListClientsResponse {
  clients: ClientInfo[];
}

/** POST /v1/users/:user/clients/:device/revoke (bearer, same user): revokes the client, its credentials and tokens. */
export interface RevokeClientResponse {
  client: ClientInfo;
  /** How many credentials this call revoked. */
  revokedCredentials: number;
}

// ---------------------------------------------------------------------------
// Credentials (AS, RFC 9750 §4)

/** The credential types the AS issues (RFC 9420 §5.3). */
export type CredentialKind = "basic" | "x509";
/** A credential's status at the AS. */
export type CredentialStatus = "valid" | "revoked" | "expired";

/** GET /v1/as/keys: what clients pin. */
export interface AsKeysResponse {
  domain: string;
  /** DER of the AS's self-signed root CA certificate (issuer of X.509 credentials). */
  caCertificate: B64u;
  /** The transparency log's signature public key (suite logCipherSuite). */
  logPublicKey: B64u;
  logCipherSuite: number;
}

/** POST /v1/as/credentials (bearer): a credential for the calling client's own signature key. */
export interface IssueCredentialRequest {
  type: CredentialKind;
}

/** A credential the AS issued (201 from POST /v1/as/credentials, and in GET /v1/as/credentials). */
export interface IssuedCredential {
  /** base64url(SHA-256(TLS-encoded Credential)) */
  credentialId: B64u;
  type: CredentialKind;
  /** The TLS-encoded MLS Credential (RFC 9420 §5.3), ready for a LeafNode. */
  credential: B64u;
  identity: string;
  cipherSuite: number;
  signatureKey: B64u;
  notBefore: number;
  notAfter: number;
  issuedAt: number;
  /** Index of this binding's leaf in the transparency log. */
  logIndex: number;
  status: CredentialStatus;
}

/** 201 for a new credential; 200 when a still valid basic credential is handed out again. */
export interface IssueCredentialResponse {
  credential: IssuedCredential;
  /** A tree head that includes the binding, and the inclusion proof against it. */
  treeHead: SignedTreeHeadJson;
  inclusionProof: B64u[];
}

/** GET /v1/as/credentials (bearer): every credential issued to the caller's user. */
export interface ListCredentialsResponse {
  credentials: IssuedCredential[];
}

/** GET /v1/as/credentials/:credentialId/status (public) */
export interface CredentialStatusResponse {
  credentialId: B64u;
  status: CredentialStatus;
  notAfter: number;
  revokedAt: number | null;
  reason: string | null;
}

/** POST /v1/as/credentials/:credentialId/revoke (bearer, same user) -> CredentialStatusResponse */
export interface RevokeCredentialRequest {
  reason?: string;
}

/** A credential as it appears in a LeafNode, with its signature key and suite. */
export interface PresentedCredential {
  /** TLS-encoded Credential */
  credential: B64u;
  signatureKey: B64u;
  cipherSuite: number;
}

/** POST /v1/as/validate (bearer): RFC 9420 §5.3.1 validation with the AS. */
export interface ValidateCredentialRequest extends PresentedCredential {
  /** Reference identifier: "user@domain" (any device of the user) or "user@domain#device". */
  reference?: string;
}

/** Why a credential did not validate (RFC 9750 §4). */
export type ValidationFailure =
  | "unknown_credential" // not issued by this AS
  | "untrusted_chain" // X.509 chain does not lead to this AS's CA (or signature invalid)
  | "key_mismatch" // credential is not bound to this signature key
  | "suite_mismatch" // key is not of this cipher suite's signature scheme
  | "reference_mismatch" // presented identity does not match the reference identifier
  | "revoked"
  | "expired"
  | "not_yet_valid"
  /** Client-side verdict: the AS vouched for the credential but its transparency log does not prove the binding (RFC 9750 §4, §8.4.3). */
  | "not_in_log";

/** 200 from POST /v1/as/validate: the AS's verdict on a presented credential (RFC 9750 §4 (1), (2)). */
export interface ValidationResult {
  valid: boolean;
  /** Why validation failed; null when valid. */
  failure: ValidationFailure | null;
  /** The presented client identity, when the credential names one. */
  identity: string | null;
  credentialId: B64u;
  notAfter: number | null;
  /** Index of the credential's binding leaf in the AS transparency log, for a credential this AS issued (check it with an inclusion proof). */
  logIndex: number | null;
}

/** POST /v1/as/same-client (bearer): RFC 9750 §4 (3). */
export interface SameClientRequest {
  a: PresentedCredential;
  b: PresentedCredential;
}

/** Same client = both credentials valid and naming the same "user@domain#device" (keys may differ after rotation). */
export interface SameClientResponse {
  sameClient: boolean;
  a: ValidationResult;
  b: ValidationResult;
}

// ---------------------------------------------------------------------------
// Transparency log (public)

/** GET /v1/transparency/tree-head[?treeSize=n] -> SignedTreeHeadJson */

/** A BindingLeaf decoded into JSON (times in ms since the Unix epoch). */
export interface BindingLeafJson {
  timestamp: number;
  identity: string;
  cipherSuite: number;
  signatureKey: B64u;
  credentialType: number;
  credentialHash: B64u;
  notAfter: number;
}

/** One leaf of the transparency log as GET /v1/transparency/leaves returns it. */
export interface TransparencyLeafJson {
  index: number;
  /** The TLS-encoded BindingLeaf: hash it yourself, do not trust `binding`. */
  leaf: B64u;
  binding: BindingLeafJson;
}

/** GET /v1/transparency/leaves?start=&end= (end exclusive, at most the server's page size). */
export interface LeavesResponse {
  treeSize: number;
  leaves: TransparencyLeafJson[];
}

/** GET /v1/transparency/inclusion?leafIndex=&treeSize= */
export interface InclusionProofResponse {
  leafIndex: number;
  treeSize: number;
  leafHash: B64u;
  proof: B64u[];
}

/** GET /v1/transparency/consistency?first=&second= */
export interface ConsistencyProofResponse {
  first: number;
  second: number;
  proof: B64u[];
}
