/**
 * @conclave/mls — RFC 9420 Messaging Layer Security. Pure functions and state
 * machines over bytes: no I/O, runs unchanged in Node and browsers.
 *
 * The public API, named one by one: the Group state machine and what it
 * takes and returns, KeyPackages, the public (DS-side) group view, cipher
 * suites and providers, the wire structures with their codecs, and byte
 * helpers. The key schedule, TreeKEM, framing and tree math behind them are
 * internal (not exported). The node:crypto provider is `@conclave/mls/node`.
 *
 * Errors: every failure is an {@link MlsError} with a stable `code`
 * ({@link MlsErrorCode}).
 */

// Errors.
export { MlsError, isMlsError, type MlsErrorCode } from "./errors.js";

// Bytes and the TLS presentation language codec (RFC 8446 §3, RFC 9420 §2.1.2).
export { bytesEqual, concatBytes, constantTimeEqual, fromHex, toHex, utf8, zeroize } from "./codec/bytes.js";
export { Reader, Writer, decode, encode, type Codec } from "./codec/tls.js";

// Cipher suites (RFC 9420 §5.1, §17.1) and crypto providers.
export {
  CIPHER_SUITES,
  CIPHER_SUITE_IDS,
  buildCipherSuite,
  isCipherSuiteId,
  type AeadAlgorithm,
  type CipherSuite,
  type CipherSuiteId,
  type CipherSuiteParams,
  type CryptoPrimitives,
  type CryptoProvider,
  type HashAlgorithm,
  type HpkeCiphertext,
  type KemAlgorithm,
  type KeyPair,
  type SignatureAlgorithm,
} from "./crypto/cipherSuite.js";
export { webCryptoProvider, createWebCryptoProvider, type WebCryptoProviderOptions } from "./crypto/web/index.js";

// Groups (RFC 9420 §10-§12).
export {
  DEFAULT_GROUP_CONFIG,
  DEFAULT_MAX_LIFETIME,
  Group,
  StagedCommit,
  createExternalProposal,
  createKeyPackage,
  createNewMemberProposal,
  defaultCapabilities,
  identicalCredentials,
  isPathRequired,
  lifetimeFrom,
  resolveConfig,
  sameSignatureKey,
  validateKeyPackage,
  type AddedMember,
  type BranchOptions,
  type ChangedMember,
  type CommitAcceptor,
  type CommitChanges,
  type CommitOptions,
  type CommitPolicyInput,
  type CommittedProposal,
  type CreateGroupOptions,
  type CreateKeyPackageOptions,
  type CredentialContext,
  type CredentialValidator,
  type ExternalJoinOptions,
  type ExternalProposalInput,
  type ExternalPskLookup,
  type ExternalSenderKey,
  type GroupConfig,
  type GroupMember,
  type HandshakeWireFormat,
  type JoinGroupOptions,
  type JoinKeyPackage,
  type KeyPackageBundle,
  type KeyPackageValidationOptions,
  type LeafNodeChanges,
  type OwnCommitMerged,
  type PendingCommitInfo,
  type ProcessedMessage,
  type ProposalAcceptor,
  type ProposalOptions,
  type ProposalPolicyInput,
  type ReceivedApplicationMessage,
  type ReceivedCommit,
  type ReceivedProposal,
  type ResumeOptions,
  type SameClient,
  type SameIdentity,
  type SentProposal,
  type SigningIdentity,
  type StagedCommitInfo,
} from "./group/index.js";

// One PrivateMessage disclosed to the DS (RFC 9750 §5.3, opaque groups).
export { openDisclosedMessage, type DisclosedMessage, type DisclosedMessageFault } from "./framing/disclosure.js";

// The public view of a group, as a Delivery Service holds and checks it (RFC 9750 §6).
export {
  PublicGroup,
  membershipProofCodec,
  membershipProofTreeHash,
  partialTreeViewCodec,
  verifyMembershipProof,
  type IndexedNode,
  type MembershipProof,
  type PartialTreeView,
  type PendingProposal,
  type PublicCommitInfo,
  type PublicCommitResult,
  type PublicGroupConfig,
  type PublicProcessed,
  type PublicProposalResult,
} from "./group/public/index.js";

// The ratchet tree as members and the DS see it (RFC 9420 §7).
export { PublicRatchetTree } from "./tree/ratchetTree.js";
export { leafIndex, type LeafIndex } from "./tree/treeMath.js";

// Registry values (RFC 9420 §17).
export {
  AppDataUpdateOperation,
  ComponentId,
  ContentType,
  CredentialType,
  ExtensionType,
  LeafNodeSource,
  NodeType,
  ProposalOrRefType,
  ProposalType,
  ProtocolVersion,
  PskType,
  ResumptionPskUsage,
  SenderType,
  WireFormat,
  isDefaultExtensionType,
  isDefaultProposalType,
  isGrease,
  type ComponentIdValue,
  type CredentialTypeValue,
  type ExtensionTypeValue,
  type ProposalTypeValue,
} from "./messages/enums.js";

// Wire structures and their codecs (RFC 9420 §5-§12).
export { mlsMessageCodec, type MLSMessage } from "./messages/mlsMessage.js";
export { keyPackageCodec, keyPackageTbsBytes, type KeyPackage } from "./messages/keyPackage.js";
export { welcomeCodec, type Welcome } from "./messages/welcome.js";
export { groupInfoCodec, type GroupInfo } from "./messages/groupInfo.js";
export { verifyGroupInfoSignature } from "./welcome/groupInfoSignature.js";
export { groupContextCodec, type GroupContext } from "./messages/groupContext.js";
export { credentialCodec, type Credential } from "./messages/credential.js";
export { capabilitiesCodec, type Capabilities } from "./messages/capabilities.js";
export { leafNodeCodec, type LeafNode, type Lifetime } from "./messages/leafNode.js";
export { ratchetTreeCodec, type RatchetTree } from "./messages/ratchetTreeNodes.js";
export { commitCodec, type Commit } from "./messages/commit.js";
export { proposalCodec, type Proposal, type ProposalOrRef } from "./messages/proposal.js";
export { publicMessageCodec, type PublicMessage, type Sender } from "./messages/framing.js";
export { privateMessageCodec, type PrivateMessage } from "./messages/privateMessage.js";
export { preSharedKeyIdCodec, type PreSharedKeyId } from "./messages/psk.js";
export { extensionCodec, extensionsCodec, findExtension, makeExtension, readExtension, type Extension } from "./messages/extension.js";
export {
  applicationIdCodec,
  externalPubCodec,
  externalSendersCodec,
  requiredCapabilitiesCodec,
  type ApplicationId,
  type ExternalPub,
  type ExternalSender,
  type ExternalSenders,
  type RequiredCapabilities,
} from "./messages/extensionPayloads.js";
export { isLastResortKeyPackage, lastResortKeyPackageExtension } from "./messages/components.js";
export { makeKeyPackageRef, makeProposalRef } from "./messages/refs.js";
