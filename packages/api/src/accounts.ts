/**
 * Accounts and devices (AS side of RFC 9750 §3.1, §3.7): who may claim a user
 * name, and how a device joins or leaves an account.
 *
 * - A user name is claimed with a proof from the server's configured verifier
 *   (an admin-made invite token by default, or an OpenID Connect ID token).
 *   The answer carries a recovery code, shown once, which the server keeps
 *   only as a slow hash. An account on which no device registers in time
 *   expires and its name is free again.
 * - The first device registers with the recovery code. Every further device
 *   joins only with an approval signed by an existing device of the account
 *   (device linking: the new device shows a LinkRequest as a QR payload, the
 *   existing one checks its short code and signs a DeviceApproval), or with
 *   the recovery code (all devices lost).
 * - A device is revoked only by another device of the account or with the
 *   recovery code.
 * - Every device change is appended to the AS transparency log (a BindingLeaf
 *   with a private-use credential_type, below) and listed at
 *   GET /v1/users/:user/device-changes for the account's other devices.
 *
 *     struct {
 *         opaque domain<V>;
 *         opaque user<V>;
 *         opaque device<V>;           // the new device
 *         CipherSuite cipher_suite;
 *         opaque signature_key<V>;    // the new device's MLS signature key
 *         opaque auth_key<V>;         // its X25519 auth key (auth.ts)
 *         opaque approver<V>;         // device id of the approving device
 *     } DeviceApprovalTBS;            // SignWithLabel(approver_sk, "Conclave device approval", DeviceApprovalTBS)
 *
 *     struct {
 *         opaque user<V>; opaque device<V>; CipherSuite cipher_suite;
 *         opaque signature_key<V>; opaque auth_key<V>;
 *     } LinkRequest;                  // base64url = the QR payload; its short code: linkCode()
 */
import { Reader, Writer, decode, utf8, type CipherSuite, type CipherSuiteId, type Codec } from "@conclave/mls";
import { fromBase64Url, toBase64Url } from "./base64url.js";
import { ApiError } from "./errors.js";
import type { B64u, TokenResponse } from "./routes.js";

/** The SignWithLabel label (RFC 9420 §5.1.2) of a device approval: {@link signDeviceApproval}. */
export const DEVICE_APPROVAL_LABEL = "Conclave device approval";

/** Private-use MLS CredentialType values (RFC 9420 §17.5) marking device changes in the transparency log. */
export const DEVICE_ADDED_LEAF_TYPE = 0xf0a1;
/** Private-use CredentialType value (RFC 9420 §17.5) marking a revoked device in the transparency log. */
export const DEVICE_REVOKED_LEAF_TYPE = 0xf0a2;

export const ACCOUNT_ROUTES = {
  approveDevice: { method: "POST", path: "/v1/users/:user/device-approvals" },
  deviceChanges: { method: "GET", path: "/v1/users/:user/device-changes" },
  revokeWithRecovery: { method: "POST", path: "/v1/users/:user/clients/:device/recovery-revoke" },
  rotateRecoveryCode: { method: "POST", path: "/v1/users/:user/recovery-code" },
  createInvite: { method: "POST", path: "/v1/admin/invites" },
  upgradeClient: { method: "POST", path: "/v1/clients/upgrade" },
} as const;

// ---------------------------------------------------------------------------
// Name proofs and account creation

/** A proof that the caller may claim a user name; which kinds a server accepts is its configuration. */
export type NameProof = { kind: "invite"; token: string } | { kind: "oidc"; idToken: string } | { kind: "none" };

/** POST /v1/accounts */
export interface CreateAccountRequest {
  user: string;
  proof: NameProof;
}

/** 201. `recoveryCode` is shown once: it registers the first device and recovers the account. */
export interface CreateAccountResponse {
  user: string;
  /** "user@domain" */
  identity: string;
  recoveryCode: string;
  createdAt: number;
  /** Unless a device registers before this time, the account expires and its name is free again. */
  unusedExpiresAt: number;
}

/** POST /v1/admin/invites (Authorization: Bearer <admin token>) -> 201 */
export interface CreateInviteResponse {
  /** Single use; claims any free user name. */
  token: string;
  expiresAt: number;
}

// ---------------------------------------------------------------------------
// Authentication (auth.ts) and device registration

/** POST /v1/auth/challenges -> 201 */
export interface ChallengeResponse {
  /** 32 bytes, single use. */
  nonce: B64u;
  expiresAt: number;
  /** The server's domain (HandshakeTranscript.domain, AuthContext.domain). */
  domain: string;
  /** The server's static X25519 key S_s. */
  serverKey: B64u;
  /** This challenge's X25519 key E_s. */
  serverEphemeral: B64u;
}

/** The handshake answer (auth.ts). */
export interface HandshakeProof {
  nonce: B64u;
  clientEphemeral: B64u;
  mac: B64u;
}

/** What lets a new device into an account. */
export type DeviceAuthorization = { kind: "recovery"; recoveryCode: string } | { kind: "approval" };

/** POST /v1/clients: a device with proof of both keys and an authorization. */
export interface RegisterClientRequest extends HandshakeProof {
  user: string;
  device: string;
  cipherSuite: number;
  signatureKey: B64u;
  authKey: B64u;
  /** SignWithLabel(sk, "Conclave auth", nonce || AuthContext{purpose: register}) */
  signature: B64u;
  authorization: DeviceAuthorization;
}

/**
 * POST /v1/clients/upgrade: a device registered before auth keys existed (it
 * logged in with its MLS signature key) binds an auth key, once: the handshake
 * (purpose upgrade) proves the auth key, and
 * SignWithLabel(sk, "Conclave auth", nonce || AuthContext{purpose: upgrade})
 * by its registered signature key proves the device. 201 UpgradeClientResponse.
 */
export interface UpgradeClientRequest extends HandshakeProof {
  user: string;
  device: string;
  authKey: B64u;
  signature: B64u;
}

/** A token as from a login; `recoveryCode` when the account had none (created before recovery codes): shown once. */
export interface UpgradeClientResponse extends TokenResponse {
  recoveryCode?: string;
}

/** POST /v1/auth/tokens: log in a registered client with the handshake (purpose login). */
export interface LoginRequest extends HandshakeProof {
  user: string;
  device: string;
}

// ---------------------------------------------------------------------------
// Devices

/** POST /v1/users/:user/device-approvals (bearer, a device of :user) -> 201 DeviceApprovalResponse */
export interface DeviceApprovalRequest {
  device: string;
  cipherSuite: number;
  signatureKey: B64u;
  authKey: B64u;
  /** SignWithLabel(approver_sk, "Conclave device approval", DeviceApprovalTBS) */
  signature: B64u;
}

/** 201 answer to POST /v1/users/:user/device-approvals: the approval waits for the new device to register. */
export interface DeviceApprovalResponse {
  /** Identity of the approving device. */
  approvedBy: string;
  /** The new device must register before then. */
  expiresAt: number;
}

/** POST /v1/users/:user/clients/:device/recovery-revoke (no bearer) */
export interface RecoveryRevokeRequest {
  recoveryCode: string;
}

/** POST /v1/users/:user/recovery-code (bearer, a device of :user): the old code stops working. */
export interface RotateRecoveryCodeResponse {
  recoveryCode: string;
}

/** What happened to a device in a {@link DeviceChange}. */
export type DeviceChangeKind = "added" | "revoked";

/** One entry of an account's device history (GET /v1/users/:user/device-changes), logged in the AS transparency log. */
export interface DeviceChange {
  /** Cursor: pass the last seen as ?after= */
  seq: number;
  kind: DeviceChangeKind;
  device: string;
  signatureKey: B64u;
  /** "device:<id>" (approved or revoked by that device) or "recovery" (the recovery code). */
  by: string;
  at: number;
  /** The change's leaf in the AS transparency log. */
  logIndex: number;
}

/** GET /v1/users/:user/device-changes?after=seq (bearer, a device of :user) */
export interface DeviceChangesResponse {
  changes: DeviceChange[];
}

// ---------------------------------------------------------------------------
// Approvals and link requests

/**
 * What an existing device signs to approve a new one (the content of
 * SignWithLabel(approver_sk, "Conclave device approval", ...), RFC 9420 §5.1.2):
 * the new device's identity and keys, bound to the AS domain and the approver.
 */
export interface DeviceApprovalTBS {
  readonly domain: string;
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
  readonly authKey: Uint8Array;
  readonly approver: string;
}

/**
 * The TLS encoding (RFC 9420 §2.1) of a {@link DeviceApprovalTBS}: the bytes signed and verified.
 * @throws MlsError `ENCODE_INVALID` (a field out of range, e.g. a cipher suite id over 0xffff).
 */
export function encodeDeviceApprovalTBS(t: DeviceApprovalTBS): Uint8Array {
  const w = new Writer(200 + t.signatureKey.length);
  w.opaque(utf8(t.domain));
  w.opaque(utf8(t.user));
  w.opaque(utf8(t.device));
  w.u16(t.cipherSuite);
  w.opaque(t.signatureKey);
  w.opaque(t.authKey);
  w.opaque(utf8(t.approver));
  return w.finish();
}

/**
 * Signs a device approval with the approving device's MLS signature key.
 * @returns the signature, sent base64url-encoded as {@link DeviceApprovalRequest.signature}.
 * @throws MlsError `CRYPTO_INVALID_KEY` (a private key the suite cannot use), `ENCODE_INVALID` (see {@link encodeDeviceApprovalTBS}).
 */
export function signDeviceApproval(suite: CipherSuite, approverPrivateKey: Uint8Array, t: DeviceApprovalTBS): Promise<Uint8Array> {
  return suite.signWithLabel(approverPrivateKey, DEVICE_APPROVAL_LABEL, encodeDeviceApprovalTBS(t));
}

/**
 * Checks a device approval's signature against the approving device's signature public key.
 * @returns false for a signature that does not verify (the server then answers `DEVICE_NOT_APPROVED`).
 * @throws MlsError `CRYPTO_INVALID_KEY` (a malformed public key), `ENCODE_INVALID` (see {@link encodeDeviceApprovalTBS}).
 */
export function verifyDeviceApproval(suite: CipherSuite, approverPublicKey: Uint8Array, t: DeviceApprovalTBS, signature: Uint8Array): Promise<boolean> {
  return suite.verifyWithLabel(approverPublicKey, DEVICE_APPROVAL_LABEL, encodeDeviceApprovalTBS(t), signature);
}

/** What a new device shows (as a QR payload) for an existing device to approve. */
export interface LinkRequest {
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
  readonly authKey: Uint8Array;
}

const text = (b: Uint8Array): string => new TextDecoder("utf-8", { fatal: true }).decode(b);

const linkRequestCodec: Codec<LinkRequest> = {
  encode(w, r) {
    w.opaque(utf8(r.user));
    w.opaque(utf8(r.device));
    w.u16(r.cipherSuite);
    w.opaque(r.signatureKey);
    w.opaque(r.authKey);
  },
  decode(r: Reader) {
    const user = text(r.opaque());
    const device = text(r.opaque());
    const cipherSuite = r.u16() as CipherSuiteId;
    return { user, device, cipherSuite, signatureKey: r.opaque(), authKey: r.opaque() };
  },
};

/**
 * A new device's {@link LinkRequest} as base64url: the QR payload an existing device scans
 * (and {@link decodeLinkRequest} reads back).
 * @throws MlsError `ENCODE_INVALID` (a field out of range).
 */
export function encodeLinkRequest(r: LinkRequest): string {
  const w = new Writer(200);
  linkRequestCodec.encode(w, r);
  return toBase64Url(w.finish());
}

/** Throws ApiError BAD_REQUEST for a payload that is not a LinkRequest. */
export function decodeLinkRequest(payload: string): LinkRequest {
  try {
    return decode(linkRequestCodec, fromBase64Url(payload, "link request"));
  } catch (e) {
    throw new ApiError("BAD_REQUEST", `not a device link request: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The short code both devices display: 8 digits from SHA-256 of the payload.
 * The user compares them; a request swapped in transit shows another code.
 */
export function linkCode(hash: (data: Uint8Array) => Uint8Array, payload: string): string {
  const h = hash(fromBase64Url(payload, "link request"));
  const n = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
  return (n % 100_000_000)
    .toString()
    .padStart(8, "0")
    .replace(/^(\d{4})/, "$1-");
}
