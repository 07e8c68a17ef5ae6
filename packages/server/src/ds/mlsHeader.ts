/**
 * What the DS reads from MLS messages without being a group member: the
 * framing header of PublicMessage / PrivateMessage (group_id, epoch,
 * content_type; RFC 9420 §6) to route and order, and the KeyPackageRefs a
 * Welcome names (§12.4.3.1). Handshakes themselves are validated whole by
 * the public group state (publicState/). Anything else is rejected.
 */
import { ApiError } from "@conclave/api";
import { ContentType, decode, mlsMessageCodec, WireFormat, type KeyPackage, type Welcome } from "@conclave/mls";

export interface FramingHeader {
  readonly wireFormat: typeof WireFormat.publicMessage | typeof WireFormat.privateMessage;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  /** RFC 9420 ContentType: 1 application, 2 proposal, 3 commit. */
  readonly contentType: number;
  /** PublicMessage sender type (1 member, 2 external, 3 new_member_proposal, 4 new_member_commit); PrivateMessages are always from members. */
  readonly senderType: number;
}

/** Decodes an MLSMessage carrying a PublicMessage or PrivateMessage (throws MlsError DECODE_* on bad bytes). */
export function readFramingHeader(bytes: Uint8Array): FramingHeader {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat === WireFormat.publicMessage) {
    const c = m.publicMessage.content;
    return { wireFormat: m.wireFormat, groupId: c.groupId, epoch: c.epoch, contentType: c.contentType, senderType: c.sender.senderType };
  }
  if (m.wireFormat === WireFormat.privateMessage) {
    const p = m.privateMessage;
    return { wireFormat: m.wireFormat, groupId: p.groupId, epoch: p.epoch, contentType: p.contentType, senderType: 1 };
  }
  throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a PublicMessage or PrivateMessage, got wire format ${m.wireFormat}`);
}

export function readWelcome(bytes: Uint8Array): Welcome {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.welcome) throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a Welcome, got wire format ${m.wireFormat}`);
  return m.welcome;
}

export function readKeyPackage(bytes: Uint8Array): KeyPackage {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.keyPackage) throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a KeyPackage, got wire format ${m.wireFormat}`);
  return m.keyPackage;
}
