/**
 * GroupInfo as a non-member checks it (RFC 9420 §12.4.3): signed by a member
 * of the tree it describes, and, for the epoch a commit started, equal to the
 * GroupContext the DS computed itself, so a committer cannot hand joiners a
 * GroupInfo for a tree or history other than the group's.
 */
import { bytesEqual } from "../../codec/bytes.js";
import { MlsError } from "../../errors.js";
import { ExtensionType, ProtocolVersion, WireFormat } from "../../messages/enums.js";
import { findExtension } from "../../messages/extension.js";
import type { LeafIndex } from "../../tree/treeMath.js";
import { decodeGroupInfo, requireGroupInfoSignature, type DecodedGroupInfo } from "../../welcome/groupInfoSignature.js";
import type { PublicGroupState } from "./publicGroupState.js";

/** Decodes an MLSMessage(GroupInfo) keeping its signed bytes (GROUP_INFO_MISMATCH for another wire format). */
export function decodeGroupInfoMessage(bytes: Uint8Array): DecodedGroupInfo {
  if (bytes.length < 4) throw new MlsError("DECODE_TRUNCATED", "an MLSMessage starts with version and wire format");
  const version = (bytes[0]! << 8) | bytes[1]!;
  const wf = (bytes[2]! << 8) | bytes[3]!;
  if (version !== ProtocolVersion.mls10) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown protocol version ${version}`);
  if (wf !== WireFormat.groupInfo) throw new MlsError("GROUP_INFO_MISMATCH", `expected an MLSMessage(GroupInfo), got wire format ${wf}`);
  return decodeGroupInfo(bytes.subarray(4));
}

/**
 * §12.4.3: accepts `groupInfoMessage` for `state`'s epoch only when its
 * GroupContext is byte for byte the one computed (tree hash, epoch, confirmed
 * transcript hash, extensions), its confirmation tag is the commit's, its
 * signer is `signer` and the signature verifies under that leaf's key, and a
 * ratchet_tree extension, if any, is the tree itself. Errors:
 * GROUP_INFO_MISMATCH, GROUP_INFO_INVALID_SIGNATURE, DECODE_*.
 */
export async function checkGroupInfoForEpoch(state: PublicGroupState, signer: LeafIndex, groupInfoMessage: Uint8Array): Promise<void> {
  const decoded = decodeGroupInfoMessage(groupInfoMessage);
  const gi = decoded.groupInfo;
  if (!bytesEqual(decoded.groupContext, state.groupContextBytes)) {
    const gc = gi.groupContext;
    const what = !bytesEqual(gc.treeHash, state.groupContext.treeHash)
      ? "tree hash"
      : gc.epoch !== state.groupContext.epoch
        ? "epoch"
        : !bytesEqual(gc.confirmedTranscriptHash, state.groupContext.confirmedTranscriptHash)
          ? "confirmed transcript hash"
          : "GroupContext";
    throw new MlsError("GROUP_INFO_MISMATCH", `the GroupInfo's ${what} differs from the one the commit leads to`);
  }
  if (!bytesEqual(gi.confirmationTag, state.confirmationTag)) throw new MlsError("GROUP_INFO_MISMATCH", "the GroupInfo's confirmation tag is not the commit's");
  if (gi.signer !== signer) throw new MlsError("GROUP_INFO_MISMATCH", `the GroupInfo is signed by leaf ${gi.signer}, not by the committer (leaf ${signer})`);
  const key = state.tree.leafNode(signer)?.signatureKey;
  if (key === undefined) throw new MlsError("GROUP_INFO_MISMATCH", `GroupInfo signer ${signer} is not a member`);
  await requireGroupInfoSignature(state.suite, key, decoded);
  const treeExt = findExtension(gi.extensions, ExtensionType.ratchetTree);
  if (treeExt !== undefined && !bytesEqual(treeExt.extensionData, state.tree.encode())) {
    throw new MlsError("GROUP_INFO_MISMATCH", "the GroupInfo's ratchet_tree is not the group's tree");
  }
}
