/** The public (non-member) view of a group: what a Delivery Service holds and checks (RFC 9750 §6). */
export { PublicGroup, type PendingProposal, type PublicCommitResult, type PublicGroupConfig, type PublicProcessed, type PublicProposalResult } from "./publicGroup.js";
export type { PublicCommitInfo } from "./publicCommit.js";
export { membershipProofCodec, membershipProofTreeHash, partialTreeViewCodec, verifyMembershipProof, type IndexedNode, type MembershipProof, type PartialTreeView } from "./treeView.js";
