/**
 * The one error type the MLS library throws. `code` is stable and meant for
 * programs (and for the wire: servers answer 4xx with the same code); `message`
 * is for people and may change.
 */
export type MlsErrorCode =
  // codec: malformed bytes (RFC 9420 §2.1)
  | "DECODE_TRUNCATED"
  | "DECODE_TRAILING_BYTES"
  | "DECODE_INVALID_VARINT"
  | "DECODE_INVALID_OPTIONAL"
  | "DECODE_VECTOR_TOO_LONG"
  | "DECODE_UNKNOWN_VALUE"
  | "DECODE_INVALID"
  | "ENCODE_INVALID"
  // crypto
  | "UNSUPPORTED_CIPHER_SUITE"
  | "CRYPTO_INVALID_KEY"
  | "CRYPTO_DECRYPT_FAILED"
  | "CRYPTO_INVALID_SIGNATURE"
  | "CRYPTO_DERIVE_KEY_PAIR_FAILED"
  | "CRYPTO_INVALID_LENGTH"
  // key schedule, secret tree, framing
  | "INVALID_ARGUMENT"
  | "SECRET_TREE_GENERATION_CONSUMED"
  | "SECRET_TREE_TOO_FAR_AHEAD"
  | "SECRET_TREE_INVALID_LEAF"
  | "PSK_INVALID"
  | "MESSAGE_INVALID_MEMBERSHIP_TAG"
  | "MESSAGE_INVALID_SIGNATURE"
  | "MESSAGE_INVALID_PADDING"
  | "MESSAGE_WRONG_GROUP"
  | "MESSAGE_WRONG_EPOCH"
  | "MESSAGE_INVALID_SENDER"
  | "MESSAGE_INVALID_CONTENT"
  | "MESSAGE_INVALID_CONFIRMATION_TAG"
  | "WELCOME_NO_MATCHING_KEY_PACKAGE"
  | "WELCOME_INVALID"
  | "GROUP_INFO_INVALID_SIGNATURE"
  // a disclosed PrivateMessage (framing/disclosure.ts) whose keys do not open it
  | "DISCLOSURE_INVALID"
  // a GroupInfo that disagrees with the epoch a non-member (the DS) computed (RFC 9420 §12.4.3)
  | "GROUP_INFO_MISMATCH"
  // ratchet tree and TreeKEM (RFC 9420 §7, §12.4.2, §12.4.3.1)
  | "TREE_INVALID_STRUCTURE"
  | "TREE_INVALID_LEAF"
  | "TREE_INVALID_TREE_HASH"
  | "TREE_INVALID_PARENT_HASH"
  | "TREE_INVALID_LEAF_SIGNATURE"
  | "TREE_DUPLICATE_KEY"
  | "TREE_INVALID_UNMERGED_LEAVES"
  | "LEAF_NODE_INVALID_LIFETIME"
  | "LEAF_NODE_INVALID_SOURCE"
  | "LEAF_NODE_INVALID_CAPABILITIES"
  | "LEAF_NODE_INVALID_CREDENTIAL"
  | "UPDATE_PATH_INVALID"
  | "UPDATE_PATH_NO_DECRYPTION_KEY"
  // KeyPackages (RFC 9420 §10.1)
  | "KEY_PACKAGE_INVALID_SIGNATURE"
  | "KEY_PACKAGE_VERSION_MISMATCH"
  | "KEY_PACKAGE_CIPHER_SUITE_MISMATCH"
  | "KEY_PACKAGE_INIT_KEY_REUSED"
  | "KEY_PACKAGE_INVALID_EXTENSION"
  // proposal list validation (RFC 9420 §12.1, §12.2) and commits (§12.4)
  | "PROPOSAL_UNKNOWN_REFERENCE"
  | "PROPOSAL_INVALID_SENDER"
  | "PROPOSAL_UPDATE_BY_COMMITTER"
  | "PROPOSAL_REMOVE_COMMITTER"
  | "PROPOSAL_REMOVE_BLANK_LEAF"
  | "PROPOSAL_DUPLICATE_UPDATE_OR_REMOVE"
  | "PROPOSAL_DUPLICATE_ADD"
  | "PROPOSAL_ADD_EXISTING_MEMBER"
  | "PROPOSAL_DUPLICATE_PSK"
  | "PROPOSAL_PSK_INVALID_USAGE"
  | "PROPOSAL_PSK_INVALID_NONCE"
  | "PROPOSAL_PSK_NOT_FOUND"
  | "PROPOSAL_MULTIPLE_GROUP_CONTEXT_EXTENSIONS"
  | "PROPOSAL_UNSUPPORTED_CAPABILITIES"
  | "PROPOSAL_REINIT_NOT_ALONE"
  | "PROPOSAL_REINIT_INVALID_VERSION"
  | "PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED"
  | "PROPOSAL_UNSUPPORTED_TYPE"
  | "PROPOSAL_SELF_REMOVE_BY_VALUE"
  | "PROPOSAL_SELF_REMOVE_REPEATED"
  | "PROPOSAL_REJECTED_BY_POLICY"
  | "EXTERNAL_COMMIT_INVALID_PROPOSALS"
  | "EXTERNAL_COMMIT_PROPOSAL_BY_REFERENCE"
  | "EXTERNAL_COMMIT_NO_EXTERNAL_PUB"
  | "EXTERNAL_COMMIT_RESYNC_IDENTITY"
  | "COMMIT_MISSING_PATH"
  | "COMMIT_REJECTED_BY_POLICY"
  | "COMMIT_FROM_SELF"
  // the Group state machine
  | "GROUP_PENDING_COMMIT"
  | "GROUP_NO_PENDING_COMMIT"
  | "GROUP_STALE_STAGED_COMMIT"
  | "GROUP_UNCOMMITTED_PROPOSALS"
  | "GROUP_INACTIVE"
  | "GROUP_EPOCH_EXPIRED"
  | "GROUP_STATE_INVALID"
  // a pending commit's GroupInfo asked for after the group left that commit's epoch
  | "GROUP_INFO_UNAVAILABLE"
  | "MESSAGE_WIRE_FORMAT_REJECTED"
  | "GROUP_REINITIALIZED"
  | "WELCOME_REINIT_MISMATCH"
  | "WELCOME_BRANCH_MISMATCH"
  | "WELCOME_MISSING_RATCHET_TREE"
  | "WELCOME_NOT_IN_TREE";

/**
 * What every function of `@conclave/mls` throws (or rejects with) when input
 * is malformed or invalid under RFC 9420, or when the group's state forbids the
 * call: branch on {@link MlsError.code}, never on `message`. Anything else
 * thrown is a bug (or a `TypeError` for an argument of the wrong type).
 */
export class MlsError extends Error {
  /** Stable, machine-readable reason; see {@link MlsErrorCode}. */
  readonly code: MlsErrorCode;

  /** `cause`: the underlying error, when this one wraps another (e.g. a WebCrypto failure). */
  constructor(code: MlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MlsError";
    this.code = code;
  }
}

/** True when `e` is an {@link MlsError}, and, when `code` is given, one with that code. */
export function isMlsError(e: unknown, code?: MlsErrorCode): e is MlsError {
  return e instanceof MlsError && (code === undefined || e.code === code);
}
