/**
 * The bytes of an MLSMessage(PrivateMessage) (RFC 9420 §6, §6.3), laid out
 * before anything is encrypted: its length is known from the header fields
 * and the plaintext's length, so the sender allocates the message once and
 * seals the content and the SenderData straight into their places. The AADs
 * are views of the same bytes: PrivateContentAAD (§6.3.1) is the head of the
 * PrivateMessage (group_id, epoch, content_type, authenticated_data), and
 * SenderDataAAD (§6.3.2) its first three fields.
 */
import { ByteSlab } from "../codec/byteSlab.js";
import { MAX_VARINT, varintLength } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { ProtocolVersion, WireFormat, type ContentType } from "../messages/enums.js";
import { writeU16 } from "./context.js";

/** The AEAD tag of every RFC 9420 §17.1 suite (AES-GCM, ChaCha20-Poly1305): 16 bytes. */
export const AEAD_TAG_LENGTH = 16;

/** SenderData (§6.3.2): uint32 leaf_index, uint32 generation, opaque reuse_guard[4]. */
export const SENDER_DATA_LENGTH = 12;

/** Offsets into an encoded MLSMessage(PrivateMessage) whose encrypted fields are still to be written. */
export interface PrivateMessageLayout {
  /** The whole MLSMessage, zeros where the encrypted fields go. */
  readonly bytes: Uint8Array;
  /** End of SenderDataAAD, which starts at 4 (past version and wire_format). */
  readonly senderDataAadEnd: number;
  /** End of PrivateContentAAD (also starting at 4). */
  readonly contentAadEnd: number;
  /** Where encrypted_sender_data's bytes go (SENDER_DATA_LENGTH + tag). */
  readonly encryptedSenderDataAt: number;
  /** Where the ciphertext's bytes go: from here to the end. */
  readonly ciphertextAt: number;
}

/** The bytes sent: public, carved from shared buffers (codec/byteSlab.ts), 16 KiB each, a message over 4 KiB in its own. */
const messageSlab = new ByteSlab(16384, 4096);

function varintSize(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VARINT) throw new MlsError("ENCODE_INVALID", `varint out of range: ${n}`);
  return varintLength(n);
}

/** Minimum-size varint (§2.1.2) of `n` (already checked by varintSize) at `at`; the offset past it. */
function putVarint(out: Uint8Array, at: number, n: number): number {
  if (n < 0x40) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x4000) {
    writeU16(out, at, n | 0x4000);
    return at + 2;
  }
  out[at] = (n >>> 24) | 0x80;
  out[at + 1] = (n >>> 16) & 0xff;
  writeU16(out, at + 2, n & 0xffff);
  return at + 4;
}

function putOpaque(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const start = putVarint(out, at, bytes.length);
  out.set(bytes, start);
  return start + bytes.length;
}

function putU64(out: Uint8Array, at: number, v: bigint): number {
  if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) throw new MlsError("ENCODE_INVALID", `uint64 out of range: ${v}`);
  const hi = Number(v >> 32n);
  const lo = Number(v & 0xffffffffn);
  writeU16(out, at, hi >>> 16);
  writeU16(out, at + 2, hi & 0xffff);
  writeU16(out, at + 4, lo >>> 16);
  writeU16(out, at + 6, lo & 0xffff);
  return at + 8;
}

/**
 * Allocates the MLSMessage(PrivateMessage) for a ciphertext of
 * `ciphertextLength` bytes (a view of a shared buffer: codec/byteSlab.ts)
 * and writes its plain fields. Throws
 * ENCODE_INVALID for a field out of range, as the codec would.
 */
export function layoutPrivateMessage(groupId: Uint8Array, epoch: bigint, contentType: ContentType, authenticatedData: Uint8Array, ciphertextLength: number): PrivateMessageLayout {
  const encryptedSenderDataLength = SENDER_DATA_LENGTH + AEAD_TAG_LENGTH;
  // version, wire_format | group_id<V> | epoch, content_type | authenticated_data<V> | encrypted_sender_data<V> | ciphertext<V>
  const size =
    4 +
    (varintSize(groupId.length) + groupId.length) +
    9 +
    (varintSize(authenticatedData.length) + authenticatedData.length) +
    (varintSize(encryptedSenderDataLength) + encryptedSenderDataLength) +
    (varintSize(ciphertextLength) + ciphertextLength);
  if (contentType < 1 || contentType > 3) throw new MlsError("ENCODE_INVALID", `unknown ContentType ${contentType}`);
  const bytes = messageSlab.take(size);
  writeU16(bytes, 0, ProtocolVersion.mls10);
  writeU16(bytes, 2, WireFormat.privateMessage);
  let at = putOpaque(bytes, 4, groupId);
  at = putU64(bytes, at, epoch);
  bytes[at++] = contentType;
  const senderDataAadEnd = at;
  const contentAadEnd = putOpaque(bytes, at, authenticatedData);
  const encryptedSenderDataAt = putVarint(bytes, contentAadEnd, encryptedSenderDataLength);
  const ciphertextAt = putVarint(bytes, encryptedSenderDataAt + encryptedSenderDataLength, ciphertextLength);
  return { bytes, senderDataAadEnd, contentAadEnd, encryptedSenderDataAt, ciphertextAt };
}
