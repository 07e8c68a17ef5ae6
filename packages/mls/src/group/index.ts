/** The MLS Group state machine (RFC 9420 §10 KeyPackages, §11 group creation, §12 group evolution). */
export { Group } from "./group.js";
export type { CreateGroupOptions } from "./create.js";
export type { GroupMember, JoinGroupOptions, OwnCommitMerged, ProcessedMessage } from "./group.js";
export type { CommitOptions, PendingCommitInfo } from "./commit.js";
export { StagedCommit } from "./processCommit.js";
export type { StagedCommitInfo } from "./processCommit.js";
export type { ReceivedApplicationMessage, ReceivedCommit, ReceivedProposal } from "./receive.js";
export type { LeafNodeChanges, ProposalOptions, SentProposal } from "./send.js";
export type { AddedMember, ChangedMember, CommitChanges } from "./applyProposals.js";
export type { CommittedProposal } from "./proposals.js";
export { isPathRequired } from "./proposals.js";
export type { JoinKeyPackage } from "./join.js";
export type { ExternalJoinOptions } from "./externalCommit.js";
export { identicalCredentials, type BranchOptions, type ResumeOptions } from "./resumption.js";
export { createExternalProposal, createNewMemberProposal, type ExternalProposalInput, type ExternalSenderKey } from "./externalProposal.js";
export {
  createKeyPackage,
  defaultCapabilities,
  lifetimeFrom,
  validateKeyPackage,
  type CreateKeyPackageOptions,
  type KeyPackageBundle,
  type KeyPackageValidationOptions,
  type SigningIdentity,
} from "./keyPackage.js";
export {
  DEFAULT_GROUP_CONFIG,
  DEFAULT_MAX_LIFETIME,
  resolveConfig,
  sameSignatureKey,
  type CommitAcceptor,
  type CommitPolicyInput,
  type CredentialContext,
  type CredentialValidator,
  type ExternalPskLookup,
  type GroupConfig,
  type HandshakeWireFormat,
  type ProposalAcceptor,
  type ProposalPolicyInput,
  type SameClient,
  type SameIdentity,
} from "./groupConfig.js";
