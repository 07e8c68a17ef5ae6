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
  | "UPDATE_PATH_NO_DECRYPTION_KEY";

export class MlsError extends Error {
  readonly code: MlsErrorCode;

  constructor(code: MlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MlsError";
    this.code = code;
  }
}

/** Throws an `MlsError` with `code` unless `condition` holds. */
export function ensure(condition: unknown, code: MlsErrorCode, message: string): asserts condition {
  if (!condition) throw new MlsError(code, message);
}

export function isMlsError(e: unknown, code?: MlsErrorCode): e is MlsError {
  return e instanceof MlsError && (code === undefined || e.code === code);
}
