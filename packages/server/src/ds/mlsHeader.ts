/**
 * What the DS reads from MLS messages without being a group member: the
 * framing header of PublicMessage / PrivateMessage (group_id, epoch,
 * content_type; RFC 9420 §6), the KeyPackageRefs a Welcome names (§12.4.3.1)
 * and the GroupContext of a GroupInfo. Anything else is rejected.
 */
import { ApiError } from "@conclave/api";
import { ContentType, decode, ExtensionType, mlsMessageCodec, NodeType, ProposalOrRefType, ProposalType, ratchetTreeCodec, WireFormat, type GroupInfo, type KeyPackage, type Welcome } from "@conclave/mls";

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

/**
 * RFC 9420 §12.4.3.2: the leaves an external commit (a PublicMessage) removes by value. A non-empty
 * answer marks a resync: a client that lost its state rejoins and removes its old leaf.
 */
export function externalCommitRemovedLeaves(bytes: Uint8Array): number[] {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.publicMessage) return [];
  const c = m.publicMessage.content;
  if (c.contentType !== ContentType.commit) return [];
  const out: number[] = [];
  for (const por of c.commit.proposals) {
    if (por.type === ProposalOrRefType.proposal && por.proposal.proposalType === ProposalType.remove) out.push(por.proposal.removed);
  }
  return out;
}

/**
 * The signature key at `leaf` in the group's current tree, read from the kept GroupInfo's ratchet_tree
 * extension or the kept ratchet tree when they are for `epoch`; undefined when the DS cannot know it.
 */
export function leafSignatureKey(groupInfo: Uint8Array | null, ratchetTree: Uint8Array | null, epoch: bigint, leaf: number): Uint8Array | null | undefined {
  if (groupInfo === null) return undefined;
  const gi = readGroupInfo(groupInfo);
  if (gi.groupContext.epoch !== epoch) return undefined;
  const treeBytes = gi.extensions.find((e) => e.extensionType === ExtensionType.ratchetTree)?.extensionData ?? ratchetTree;
  if (treeBytes === null) return undefined;
  let node;
  try {
    node = decode(ratchetTreeCodec, treeBytes)[2 * leaf];
  } catch {
    return undefined; // a tree the committer uploaded that does not decode tells nothing
  }
  // null: the DS knows the tree and the leaf is blank or not a leaf.
  return node?.nodeType === NodeType.leaf ? node.leafNode.signatureKey : null;
}

export function readWelcome(bytes: Uint8Array): Welcome {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.welcome) throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a Welcome, got wire format ${m.wireFormat}`);
  return m.welcome;
}

export function readGroupInfo(bytes: Uint8Array): GroupInfo {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.groupInfo) throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a GroupInfo, got wire format ${m.wireFormat}`);
  return m.groupInfo;
}

export function readKeyPackage(bytes: Uint8Array): KeyPackage {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.keyPackage) throw new ApiError("UNEXPECTED_WIRE_FORMAT", `expected a KeyPackage, got wire format ${m.wireFormat}`);
  return m.keyPackage;
}
