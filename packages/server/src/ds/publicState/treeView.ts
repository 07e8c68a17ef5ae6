/**
 * Group metadata assistance (draft-robert-mls-delivery-service; issue 17
 * item 4): the DS serves the ratchet tree from its validated state instead of
 * clients uploading it. A client asks for the whole tree, or for one leaf's
 * partial view (draft-ietf-mls-partial MembershipProof, resolved copath,
 * leaves), and checks it against the tree hash of a GroupInfo it verified.
 */
import { ApiError, decideStateRead, type PostingClient } from "@conclave/api";
import { encode, leafIndex, partialTreeViewCodec, type CryptoProvider, type PublicGroup } from "@conclave/mls";
import { loadPublicGroup } from "./validateHandshake.js";

export type TreeViewRequest =
  | { readonly kind: "full" }
  /** One leaf's view; `leaf` absent means the requesting client's own leaf. */
  | { readonly kind: "partial"; readonly leaf?: number };

export interface TreeView {
  readonly epoch: bigint;
  /** The tree hash the view checks against (also in the GroupInfo's GroupContext). */
  readonly treeHash: Uint8Array;
  /** "full": the ratchet_tree extension encoding (RFC 9420 §12.4.3.3); "partial": an encoded PartialTreeView. */
  readonly kind: "full" | "partial";
  readonly body: Uint8Array;
}

/** The view of `group` for `client` (members, or anyone in an open group: GROUP_CLOSED otherwise; NOT_FOUND for a blank or absent leaf). */
export function treeViewOf(group: PublicGroup, client: PostingClient, req: TreeViewRequest): TreeView {
  const allowed = decideStateRead(group, client);
  if (!allowed.allow) throw new ApiError(allowed.code, allowed.message);
  const base = { epoch: group.epoch, treeHash: group.treeHash };
  if (req.kind === "full") return { ...base, kind: "full", body: group.ratchetTree() };
  const leaf = req.leaf ?? group.findLeafBySignatureKey(client.signatureKey);
  if (leaf === undefined || !Number.isInteger(leaf) || leaf < 0 || group.member(leafIndex(leaf)) === undefined) {
    throw new ApiError("NOT_FOUND", "no such member leaf in the group's current tree");
  }
  return { ...base, kind: "partial", body: encode(partialTreeViewCodec, group.partialTreeView(leafIndex(leaf))) };
}

/** The GroupInfo the DS holds for the current epoch, for `client` under the same rule (GROUP_INFO_NOT_FOUND when none). */
export function groupInfoOf(group: PublicGroup, client: PostingClient): Uint8Array {
  const allowed = decideStateRead(group, client);
  if (!allowed.allow) throw new ApiError(allowed.code, allowed.message);
  if (group.groupInfo === undefined) throw new ApiError("GROUP_INFO_NOT_FOUND", "no GroupInfo was accepted for the current epoch");
  return group.groupInfo;
}

/** {@link treeViewOf} over stored state bytes. */
export function treeView(stateBytes: Uint8Array, provider: CryptoProvider, client: PostingClient, req: TreeViewRequest): TreeView {
  return treeViewOf(loadPublicGroup(stateBytes, { provider }), client, req);
}
