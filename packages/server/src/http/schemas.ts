/**
 * JSON Schemas of every route's body, query, path parameters and responses.
 * Fastify validates requests and serialises responses with them, and the
 * OpenAPI document is generated from the same objects, so the three cannot
 * drift apart. The TypeScript shapes they describe are in @conclave/api routes.ts.
 */
import { BASE64URL_PATTERN, DEVICE_ID_PATTERN, USER_NAME_PATTERN } from "@conclave/api";

export type JsonSchema = Record<string, unknown>;

export const b64u = (maxLength: number, description: string): JsonSchema => ({ type: "string", pattern: BASE64URL_PATTERN, maxLength, description });
const time = (description: string): JsonSchema => ({ type: "integer", minimum: 0, description: `${description} (ms since the Unix epoch)` });
const count = (description: string): JsonSchema => ({ type: "integer", minimum: 0, description });
const nullableTime = (description: string): JsonSchema => ({ type: ["integer", "null"], minimum: 0, description: `${description} (ms since the Unix epoch)` });

/** A closed object: every listed property, nothing else. */
export function object(properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema {
  return { type: "object", additionalProperties: false, properties, required };
}

/** A decimal integer in a query string (kept a string so no type coercion is needed). */
export const queryInteger = (description: string): JsonSchema => ({ type: "string", pattern: "^(0|[1-9][0-9]{0,15})$", description });

export const userName: JsonSchema = { type: "string", pattern: USER_NAME_PATTERN, description: "user name" };
export const deviceId: JsonSchema = { type: "string", pattern: DEVICE_ID_PATTERN, description: "device id" };
export const cipherSuite: JsonSchema = { type: "integer", minimum: 0, maximum: 65535, description: "MLS cipher suite (RFC 9420 §17.1)" };
const signatureKey = b64u(256, "signature public key (RFC 9420 §5.1.1 form)");
const credentialBytes = b64u(65536, "TLS-encoded MLS Credential (RFC 9420 §5.3)");
const credentialId = b64u(64, "base64url(SHA-256(TLS-encoded Credential))");
const identity: JsonSchema = { type: "string", maxLength: 400, description: "client identity user@domain#device" };

export const errorBody: JsonSchema = object({
  error: object({ code: { type: "string", description: "stable error code (@conclave/api errors.ts)" }, message: { type: "string" } }),
});

export const healthResponse = object({ status: { type: "string", enum: ["ok"] }, storage: { type: "string" }, time: time("server time") });

// Accounts, challenges, registration and login: routes/accountSchemas.ts.

export const clientInfo = object({
  identity,
  user: userName,
  device: deviceId,
  cipherSuite,
  signatureKey,
  createdAt: time("registration time"),
  revokedAt: nullableTime("revocation time, or null"),
});

export const tokenResponse = object({
  token: { type: "string", description: "bearer token" },
  expiresAt: time("token expiry"),
  client: clientInfo,
});

export const listClientsResponse = object({ clients: { type: "array", items: clientInfo } });
export const revokeClientResponse = object({ client: clientInfo, revokedCredentials: count("credentials revoked by this call") });
export const userParams = object({ user: userName });
export const userDeviceParams = object({ user: userName, device: deviceId });

export const asKeysResponse = object({
  domain: { type: "string" },
  caCertificate: b64u(16384, "DER of the AS root certificate"),
  logPublicKey: b64u(256, "transparency log signature public key"),
  logCipherSuite: cipherSuite,
});

const credentialKind: JsonSchema = { type: "string", enum: ["basic", "x509"] };
const credentialStatus: JsonSchema = { type: "string", enum: ["valid", "revoked", "expired"] };

export const issueCredentialRequest = object({ type: credentialKind });

export const issuedCredential = object({
  credentialId,
  type: credentialKind,
  credential: credentialBytes,
  identity,
  cipherSuite,
  signatureKey,
  notBefore: time("start of validity"),
  notAfter: time("end of validity"),
  issuedAt: time("issuance time"),
  logIndex: count("transparency log leaf index"),
  status: credentialStatus,
});

export const signedTreeHead = object({
  treeSize: count("number of leaves"),
  timestamp: time("signing time"),
  rootHash: b64u(64, "Merkle tree root hash"),
  signature: b64u(256, 'SignWithLabel(log_key, "Conclave tree head", TreeHeadTBS)'),
});

const hashList: JsonSchema = { type: "array", items: b64u(64, "node hash"), maxItems: 128 };

export const issueCredentialResponse = object({ credential: issuedCredential, treeHead: signedTreeHead, inclusionProof: hashList });
export const listCredentialsResponse = object({ credentials: { type: "array", items: issuedCredential } });
export const credentialParams = object({ credentialId });
export const credentialStatusResponse = object({
  credentialId,
  status: credentialStatus,
  notAfter: time("end of validity"),
  revokedAt: nullableTime("revocation time, or null"),
  reason: { type: ["string", "null"] },
});
export const revokeCredentialRequest = object({ reason: { type: "string", maxLength: 200 } }, []);

const presentedCredential = object({ credential: credentialBytes, signatureKey, cipherSuite });
export const validateRequest = object(
  {
    credential: credentialBytes,
    signatureKey,
    cipherSuite,
    reference: { type: "string", maxLength: 400, description: "reference identifier user@domain or user@domain#device" },
  },
  ["credential", "signatureKey", "cipherSuite"],
);
export const validationResult = object({
  valid: { type: "boolean" },
  failure: {
    type: ["string", "null"],
    enum: ["unknown_credential", "untrusted_chain", "key_mismatch", "suite_mismatch", "reference_mismatch", "revoked", "expired", "not_yet_valid", null],
  },
  identity: { type: ["string", "null"] },
  credentialId,
  notAfter: nullableTime("end of validity"),
  logIndex: { type: ["integer", "null"], minimum: 0, description: "index of the credential's binding in the transparency log (null when this AS did not issue it)" },
});
export const sameClientRequest = object({ a: presentedCredential, b: presentedCredential });
export const sameClientResponse = object({ sameClient: { type: "boolean" }, a: validationResult, b: validationResult });

export const treeHeadQuery = object({ treeSize: queryInteger("tree size (latest when omitted)") }, []);
export const leavesQuery = object({ start: queryInteger("first leaf index"), end: queryInteger("one past the last leaf index") });
const bindingLeaf = object({
  timestamp: time("issuance"),
  identity: { type: "string" },
  cipherSuite,
  signatureKey,
  credentialType: { type: "integer" },
  credentialHash: b64u(64, "SHA-256 of the credential"),
  notAfter: time("end of validity"),
});
export const leavesResponse = object({
  treeSize: count("current log size"),
  leaves: { type: "array", items: object({ index: count("leaf index"), leaf: b64u(4096, "TLS-encoded BindingLeaf"), binding: bindingLeaf }) },
});
export const inclusionQuery = object({ leafIndex: queryInteger("leaf index"), treeSize: queryInteger("tree size") });
export const inclusionResponse = object({ leafIndex: count("leaf index"), treeSize: count("tree size"), leafHash: b64u(64, "leaf hash"), proof: hashList });
export const consistencyQuery = object({ first: queryInteger("older tree size"), second: queryInteger("newer tree size") });
export const consistencyResponse = object({ first: count("older tree size"), second: count("newer tree size"), proof: hashList });
