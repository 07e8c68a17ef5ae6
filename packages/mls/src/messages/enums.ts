/**
 * Enumerations and registry values of RFC 9420 (§6, §7, §8.4, §12.1, §17) and
 * draft-ietf-mls-extensions. Closed enums get a codec that rejects unknown
 * values; registries that are extensible (extension, proposal, credential
 * types) stay plain uint16 on the wire.
 */
import { enumeration, uint8, uint16, type Codec } from "../codec/tls.js";

/** ProtocolVersion (RFC 9420 §6). */
export const ProtocolVersion = { mls10: 1 } as const;
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion];
export const protocolVersionCodec: Codec<ProtocolVersion> = enumeration(uint16, [1], "ProtocolVersion");

/** ContentType (RFC 9420 §6). */
export const ContentType = { application: 1, proposal: 2, commit: 3 } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];
export const contentTypeCodec: Codec<ContentType> = enumeration(uint8, [1, 2, 3], "ContentType");

/** SenderType (RFC 9420 §6). */
export const SenderType = { member: 1, external: 2, newMemberProposal: 3, newMemberCommit: 4 } as const;
export type SenderType = (typeof SenderType)[keyof typeof SenderType];
export const senderTypeCodec: Codec<SenderType> = enumeration(uint8, [1, 2, 3, 4], "SenderType");

/** WireFormat (RFC 9420 §6, §17.2). */
export const WireFormat = { publicMessage: 1, privateMessage: 2, welcome: 3, groupInfo: 4, keyPackage: 5 } as const;
export type WireFormat = (typeof WireFormat)[keyof typeof WireFormat];
export const wireFormatCodec: Codec<WireFormat> = enumeration(uint16, [1, 2, 3, 4, 5], "WireFormat");

/** LeafNodeSource (RFC 9420 §7.2). */
export const LeafNodeSource = { keyPackage: 1, update: 2, commit: 3 } as const;
export type LeafNodeSource = (typeof LeafNodeSource)[keyof typeof LeafNodeSource];
export const leafNodeSourceCodec: Codec<LeafNodeSource> = enumeration(uint8, [1, 2, 3], "LeafNodeSource");

/** NodeType (RFC 9420 §7.8). */
export const NodeType = { leaf: 1, parent: 2 } as const;
export type NodeType = (typeof NodeType)[keyof typeof NodeType];
export const nodeTypeCodec: Codec<NodeType> = enumeration(uint8, [1, 2], "NodeType");

/** PskType (RFC 9420 §8.4). */
export const PskType = { external: 1, resumption: 2 } as const;
export type PskType = (typeof PskType)[keyof typeof PskType];
export const pskTypeCodec: Codec<PskType> = enumeration(uint8, [1, 2], "PSKType");

/** ResumptionPskUsage (RFC 9420 §8.4). */
export const ResumptionPskUsage = { application: 1, reinit: 2, branch: 3 } as const;
export type ResumptionPskUsage = (typeof ResumptionPskUsage)[keyof typeof ResumptionPskUsage];
export const resumptionPskUsageCodec: Codec<ResumptionPskUsage> = enumeration(uint8, [1, 2, 3], "ResumptionPSKUsage");

/** ProposalOrRefType (RFC 9420 §12.4). */
export const ProposalOrRefType = { proposal: 1, reference: 2 } as const;
export type ProposalOrRefType = (typeof ProposalOrRefType)[keyof typeof ProposalOrRefType];
export const proposalOrRefTypeCodec: Codec<ProposalOrRefType> = enumeration(uint8, [1, 2], "ProposalOrRefType");

/**
 * ExtensionType (RFC 9420 §17.3 MLS Extension Types); draft-ietf-mls-extensions §IANA adds 0x0006..0x0008
 * (values there are "suggested", so they may still move before publication).
 */
export const ExtensionType = {
  applicationId: 0x0001,
  ratchetTree: 0x0002,
  requiredCapabilities: 0x0003,
  externalPub: 0x0004,
  externalSenders: 0x0005,
  appDataDictionary: 0x0006,
  supportedWireFormats: 0x0007,
  requiredWireFormats: 0x0008,
} as const;
/** An extension type: a registered value above or any other uint16 (the registry is extensible). */
export type ExtensionTypeValue = number;

/** ProposalType (RFC 9420 §17.4 MLS Proposal Types, a uint16 registry). */
export const ProposalType = {
  add: 0x0001,
  update: 0x0002,
  remove: 0x0003,
  psk: 0x0004,
  reinit: 0x0005,
  externalInit: 0x0006,
  groupContextExtensions: 0x0007,
  // draft-ietf-mls-extensions (suggested values)
  appDataUpdate: 0x0008,
  appEphemeral: 0x0009,
  selfRemove: 0x000a,
} as const;
/** A proposal type: a registered value above or any other uint16 (the registry is extensible). */
export type ProposalTypeValue = number;

/** RFC 9420 §7.2: proposal types every client implements; they MUST NOT be listed in Capabilities. */
export function isDefaultProposalType(type: number): boolean {
  return type >= ProposalType.add && type <= ProposalType.groupContextExtensions;
}

/** RFC 9420 §7.2: extension types every client implements; they MUST NOT be listed in Capabilities. */
export function isDefaultExtensionType(type: number): boolean {
  return type >= ExtensionType.applicationId && type <= ExtensionType.externalSenders;
}

/** AppDataUpdateOperation (draft-ietf-mls-extensions §"Updating Application Data in the GroupContext"). */
export const AppDataUpdateOperation = { update: 1, remove: 2 } as const;
export type AppDataUpdateOperation = (typeof AppDataUpdateOperation)[keyof typeof AppDataUpdateOperation];
export const appDataUpdateOperationCodec: Codec<AppDataUpdateOperation> = enumeration(uint8, [1, 2], "AppDataUpdateOperation");

/** ComponentId (draft-ietf-mls-extensions "MLS Component Types" registry: uint16, extensible). */
export const ComponentId = {
  appComponents: 0x0001,
  safeAad: 0x0002,
  contentMediaTypes: 0x0003,
  lastResortKeyPackage: 0x0004,
  appAck: 0x0005,
} as const;
/** A component id: a registered value above or any other uint16 (the registry is extensible). */
export type ComponentIdValue = number;

/** CredentialType (RFC 9420 §17.5 MLS Credential Types). */
export const CredentialType = { basic: 0x0001, x509: 0x0002 } as const;
/** A credential type: a registered value above or any other uint16 (the registry is extensible). */
export type CredentialTypeValue = number;

/** RFC 9420 §13.5: GREASE values (0x0A0A, 0x1A1A, ... 0xEAEA) for extensible registries. */
export function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 12 === ((value >> 4) & 0x0f);
}
