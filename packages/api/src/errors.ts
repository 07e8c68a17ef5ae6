/**
 * The error model of the Conclave HTTP API.
 *
 * Every 4xx/5xx response has the body `{ "error": { "code": "...", "message": "..." } }`.
 * `code` is stable and meant for programs; `message` is for people and may change.
 * Codes are either one of `API_ERROR_STATUS`'s keys below, or an `MlsErrorCode`
 * from @conclave/mls passed through unchanged with status 400 (the request
 * carried MLS bytes the library rejected).
 */
import type { MlsErrorCode } from "@conclave/mls";

/** Each API error code with the HTTP status it is always sent with. */
export const API_ERROR_STATUS = {
  // 400: the request itself is malformed
  BAD_REQUEST: 400, // body, query or path parameters do not match the route's schema
  MALFORMED_JSON: 400, // the body is not JSON
  INVALID_BASE64URL: 400, // a byte field is not canonical unpadded base64url
  INVALID_NAME: 400, // a user name, device id or identity does not follow the identity rules
  INVALID_SIGNATURE_KEY: 400, // a signature public key has the wrong form for its cipher suite
  TREE_SIZE_INVALID: 400, // a transparency-log size or index outside the log
  KEY_PACKAGE_KEY_MISMATCH: 400, // an uploaded KeyPackage's leaf signature key is not the uploading client's
  UNEXPECTED_WIRE_FORMAT: 400, // an MLSMessage of the wrong kind for this route (e.g. a Welcome as a commit)
  WRONG_GROUP: 400, // the message's group_id is not the group of the URL
  INVALID_ROSTER_CHANGE: 400, // a Welcome that does not match the commit's Adds, or a new group holding others than its creator
  INVALID_AUTH_KEY: 400, // an X25519 authentication key (device or handshake) is malformed or of low order
  KEY_PACKAGE_IDENTITY_MISMATCH: 400, // an uploaded KeyPackage's credential names another client than the uploader
  // 401: who you are is not established
  AUTH_REQUIRED: 401, // no bearer token on a route that needs one
  AUTH_TOKEN_INVALID: 401, // the bearer token is unknown, revoked or expired
  AUTH_CHALLENGE_INVALID: 401, // the nonce is unknown, already used or expired
  AUTH_SIGNATURE_INVALID: 401, // the challenge signature does not verify
  ACCOUNT_SECRET_INVALID: 401, // the account secret is wrong
  AUTH_MAC_INVALID: 401, // the authentication handshake MAC does not verify
  RECOVERY_CODE_INVALID: 401, // the recovery code is wrong
  ADMIN_TOKEN_INVALID: 401, // an admin route without the configured admin token
  // 403: who you are is known, but not allowed
  FORBIDDEN: 403,
  CLIENT_REVOKED: 403, // the client was revoked and may not log in or obtain credentials
  NOT_GROUP_MEMBER: 403, // the DS roster of the group does not have this client
  NAME_PROOF_INVALID: 403, // the proof offered for a user name is missing, unknown, used, expired or does not verify
  DEVICE_NOT_APPROVED: 403, // no valid approval by a device of the account for this new device
  GROUP_CLOSED: 403, // an external join (commit or new-member proposal) into a group whose policy is closed
  RESYNC_REFUSED: 403, // a resync external commit that does not remove exactly the sender's own leaf
  SENDER_MISMATCH: 403, // a handshake signed as a leaf or key that is not the posting client's
  POLICY_CHANGE_REFUSED: 403, // the group's membership policy changed other than by a member's commit, or malformed
  // 404
  NOT_FOUND: 404, // no such route
  ACCOUNT_NOT_FOUND: 404,
  CLIENT_NOT_FOUND: 404,
  CREDENTIAL_NOT_FOUND: 404,
  KEY_PACKAGE_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  GROUP_INFO_NOT_FOUND: 404, // no GroupInfo was published for the group yet
  // 409: conflicts with the current state
  ACCOUNT_EXISTS: 409,
  CLIENT_EXISTS: 409,
  AUTH_KEY_BOUND: 409, // POST /v1/clients/upgrade for a device that already has an auth key (it logs in with the handshake)
  SIGNATURE_KEY_IN_USE: 409, // another client already registered this signature key
  CREDENTIAL_REVOKED: 409, // asked to re-issue a credential that was revoked
  GROUP_EXISTS: 409,
  GROUP_STATE_MISSING: 409, // a group created before the DS kept validated public state: it takes no handshakes
  OPAQUE_GROUP: 409, // an operation the DS cannot do for a group whose handshakes are encrypted (its tree, GroupInfo, a PublicMessage handshake)
  REPORT_UNPROVEN: 409, // a report whose disclosed message is a well-formed commit signed by its poster: nothing shows it invalid
  EPOCH_MISMATCH: 409, // a handshake for another epoch than the group's current one; body has error.currentEpoch
  // 413, 414, 415, 429
  PAYLOAD_TOO_LARGE: 413,
  HANDSHAKE_TOO_LARGE: 413, // a proposal or commit over the group's size limit
  TOO_MANY_PROPOSALS: 429, // the epoch already holds the group's maximum of pending proposals
  REPORT_EVIDENCE_INVALID: 422, // a report whose disclosure does not open the reported message, or is not for its epoch
  URI_TOO_LONG: 414, // a path parameter longer than the router accepts
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426, // GET /v1/stream without a WebSocket upgrade (RFC 9110 §15.5.22: answered with Upgrade: websocket)
  RATE_LIMITED: 429, // with a Retry-After header (seconds)
  // 5xx
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503, // e.g. the storage engine is unreachable
} as const satisfies Record<string, number>;

/** A code of the API itself (a key of {@link API_ERROR_STATUS}), as opposed to an MLS library code. */
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

/** What may appear in `error.code`: an API code or an MLS library code (always 400). */
export type ErrorCode = ApiErrorCode | MlsErrorCode;

/** The body of every error response. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
  };
}

/** True when `code` is one of the API's own codes (not an MLS library code, nor unknown). */
export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.prototype.hasOwnProperty.call(API_ERROR_STATUS, code);
}

/** The HTTP status for a code: the table above, 400 for MLS library codes. */
export function statusOf(code: ErrorCode): number {
  return isApiErrorCode(code) ? API_ERROR_STATUS[code] : 400;
}

/**
 * An API error: thrown by the server (the error handler turns it into the JSON
 * body and status) and by clients decoding an error response.
 */
export class ApiError extends Error {
  /** The stable code programs branch on. */
  readonly code: ErrorCode;
  /** The HTTP status the code is always sent with ({@link statusOf}). */
  readonly status: number;

  /** `message` is for people and may change; `cause`, the error this one wraps. */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ApiError";
    this.code = code;
    this.status = statusOf(code);
  }

  /** The JSON body of the error response. */
  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** True when `e` is an {@link ApiError}, and when `code` is given, one with that code. */
export function isApiError(e: unknown, code?: ErrorCode): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.code === code);
}
