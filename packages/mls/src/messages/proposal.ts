/**
 * RFC 9420 §12.1 proposals and the Proposal union, plus the proposal types of
 * draft-ietf-mls-extensions (SelfRemove, AppEphemeral, AppDataUpdate).
 *
 * The union carries no length for a proposal's body, so a proposal type we
 * cannot parse cannot be skipped: it is DECODE_UNKNOWN_VALUE.
 */
import type { Codec, Reader, Writer } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { AppDataUpdateOperation, appDataUpdateOperationCodec, ProposalOrRefType, ProposalType, protocolVersionCodec, type ProtocolVersion } from "./enums.js";
import { extensionsCodec, type Extension } from "./extension.js";
import { keyPackageCodec, type KeyPackage } from "./keyPackage.js";
import { leafNodeCodec, type LeafNode } from "./leafNode.js";
import { preSharedKeyIdCodec, type PreSharedKeyId } from "./psk.js";

// ---------------------------------------------------------------------------
// Proposal bodies (RFC 9420 §12.1.1–§12.1.7)

export interface Add {
  keyPackage: KeyPackage;
}
export const addCodec: Codec<Add> = {
  encode: (w, p) => keyPackageCodec.encode(w, p.keyPackage),
  decode: (r) => ({ keyPackage: keyPackageCodec.decode(r) }),
};

export interface Update {
  leafNode: LeafNode;
}
export const updateCodec: Codec<Update> = {
  encode: (w, p) => leafNodeCodec.encode(w, p.leafNode),
  decode: (r) => ({ leafNode: leafNodeCodec.decode(r) }),
};

export interface Remove {
  /** Leaf index of the member to remove. */
  removed: LeafIndex;
}
export const removeCodec: Codec<Remove> = {
  encode: (w, p) => w.u32(p.removed),
  decode: (r) => ({ removed: r.u32() as LeafIndex }),
};

export interface PreSharedKey {
  psk: PreSharedKeyId;
}
export const preSharedKeyCodec: Codec<PreSharedKey> = {
  encode: (w, p) => preSharedKeyIdCodec.encode(w, p.psk),
  decode: (r) => ({ psk: preSharedKeyIdCodec.decode(r) }),
};

export interface ReInit {
  groupId: Uint8Array;
  version: ProtocolVersion;
  cipherSuite: number;
  extensions: Extension[];
}
export const reInitCodec: Codec<ReInit> = {
  encode(w, p) {
    w.opaque(p.groupId);
    protocolVersionCodec.encode(w, p.version);
    w.u16(p.cipherSuite);
    extensionsCodec.encode(w, p.extensions);
  },
  decode(r) {
    const groupId = r.opaque();
    const version = protocolVersionCodec.decode(r);
    const cipherSuite = r.u16();
    return { groupId, version, cipherSuite, extensions: extensionsCodec.decode(r) };
  },
};

export interface ExternalInit {
  kemOutput: Uint8Array;
}
export const externalInitCodec: Codec<ExternalInit> = {
  encode: (w, p) => w.opaque(p.kemOutput),
  decode: (r) => ({ kemOutput: r.opaque() }),
};

export interface GroupContextExtensions {
  extensions: Extension[];
}
export const groupContextExtensionsCodec: Codec<GroupContextExtensions> = {
  encode: (w, p) => extensionsCodec.encode(w, p.extensions),
  decode: (r) => ({ extensions: extensionsCodec.decode(r) }),
};

// draft-ietf-mls-extensions §"SelfRemove Proposal": struct {} SelfRemove;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SelfRemove {}
export const selfRemoveCodec: Codec<SelfRemove> = { encode: () => {}, decode: () => ({}) };

// draft-ietf-mls-extensions §"Attaching Application Data to a Commit"
export interface AppEphemeral {
  componentId: number;
  data: Uint8Array;
}
export const appEphemeralCodec: Codec<AppEphemeral> = {
  encode(w, p) {
    w.u16(p.componentId);
    w.opaque(p.data);
  },
  decode(r) {
    const componentId = r.u16();
    return { componentId, data: r.opaque() };
  },
};

// draft-ietf-mls-extensions §"Updating Application Data in the GroupContext"
export type AppDataUpdate = { componentId: number; op: typeof AppDataUpdateOperation.update; update: Uint8Array } | { componentId: number; op: typeof AppDataUpdateOperation.remove };
export const appDataUpdateCodec: Codec<AppDataUpdate> = {
  encode(w, p) {
    w.u16(p.componentId);
    appDataUpdateOperationCodec.encode(w, p.op);
    if (p.op === AppDataUpdateOperation.update) w.opaque(p.update);
  },
  decode(r) {
    const componentId = r.u16();
    const op = appDataUpdateOperationCodec.decode(r);
    if (op === AppDataUpdateOperation.update) return { componentId, op, update: r.opaque() };
    return { componentId, op };
  },
};

// ---------------------------------------------------------------------------
// Proposal (RFC 9420 §12.1): the body's fields sit beside proposalType.

export type ProposalAdd = { proposalType: typeof ProposalType.add } & Add;
export type ProposalUpdate = { proposalType: typeof ProposalType.update } & Update;
export type ProposalRemove = { proposalType: typeof ProposalType.remove } & Remove;
export type ProposalPreSharedKey = { proposalType: typeof ProposalType.psk } & PreSharedKey;
export type ProposalReInit = { proposalType: typeof ProposalType.reinit } & ReInit;
export type ProposalExternalInit = { proposalType: typeof ProposalType.externalInit } & ExternalInit;
export type ProposalGroupContextExtensions = { proposalType: typeof ProposalType.groupContextExtensions } & GroupContextExtensions;
export type ProposalSelfRemove = { proposalType: typeof ProposalType.selfRemove } & SelfRemove;
export type ProposalAppEphemeral = { proposalType: typeof ProposalType.appEphemeral } & AppEphemeral;
export type ProposalAppDataUpdate = { proposalType: typeof ProposalType.appDataUpdate } & AppDataUpdate;

/** A Proposal (RFC 9420 §12.1), by proposal type. */
export type Proposal =
  | ProposalAdd
  | ProposalUpdate
  | ProposalRemove
  | ProposalPreSharedKey
  | ProposalReInit
  | ProposalExternalInit
  | ProposalGroupContextExtensions
  | ProposalSelfRemove
  | ProposalAppEphemeral
  | ProposalAppDataUpdate;

function writeProposal(w: Writer, p: Proposal): void {
  w.u16(p.proposalType);
  switch (p.proposalType) {
    case ProposalType.add:
      return addCodec.encode(w, p);
    case ProposalType.update:
      return updateCodec.encode(w, p);
    case ProposalType.remove:
      return removeCodec.encode(w, p);
    case ProposalType.psk:
      return preSharedKeyCodec.encode(w, p);
    case ProposalType.reinit:
      return reInitCodec.encode(w, p);
    case ProposalType.externalInit:
      return externalInitCodec.encode(w, p);
    case ProposalType.groupContextExtensions:
      return groupContextExtensionsCodec.encode(w, p);
    case ProposalType.selfRemove:
      return;
    case ProposalType.appEphemeral:
      return appEphemeralCodec.encode(w, p);
    case ProposalType.appDataUpdate:
      return appDataUpdateCodec.encode(w, p);
    default:
      throw new MlsError("ENCODE_INVALID", `unknown proposal type ${(p as { proposalType: number }).proposalType}`);
  }
}

function readProposal(r: Reader): Proposal {
  const t = r.u16();
  switch (t) {
    case ProposalType.add:
      return { proposalType: t, keyPackage: keyPackageCodec.decode(r) };
    case ProposalType.update:
      return { proposalType: t, leafNode: leafNodeCodec.decode(r) };
    case ProposalType.remove:
      return { proposalType: t, removed: r.u32() as LeafIndex };
    case ProposalType.psk:
      return { proposalType: t, psk: preSharedKeyIdCodec.decode(r) };
    case ProposalType.reinit:
      return { proposalType: t, ...reInitCodec.decode(r) };
    case ProposalType.externalInit:
      return { proposalType: t, kemOutput: r.opaque() };
    case ProposalType.groupContextExtensions:
      return { proposalType: t, extensions: extensionsCodec.decode(r) };
    case ProposalType.selfRemove:
      return { proposalType: t };
    case ProposalType.appEphemeral:
      return { proposalType: t, ...appEphemeralCodec.decode(r) };
    case ProposalType.appDataUpdate:
      return { proposalType: t, ...appDataUpdateCodec.decode(r) };
    default:
      // No length prefix on the body: an unknown proposal cannot be skipped (RFC 9420 §12.1).
      throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown proposal type ${t}`);
  }
}

/** TLS codec of {@link Proposal}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const proposalCodec: Codec<Proposal> = { encode: writeProposal, decode: readProposal };

// ---------------------------------------------------------------------------
// ProposalOrRef (RFC 9420 §12.4)

/** A proposal in a Commit (RFC 9420 §12.4): inline, or by ProposalRef. */
export type ProposalOrRef =
  | { type: typeof ProposalOrRefType.proposal; proposal: Proposal }
  /** ProposalRef: RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent). */
  | { type: typeof ProposalOrRefType.reference; reference: Uint8Array };

export const proposalOrRefCodec: Codec<ProposalOrRef> = {
  encode(w, p) {
    w.u8(p.type);
    if (p.type === ProposalOrRefType.proposal) writeProposal(w, p.proposal);
    else if (p.type === ProposalOrRefType.reference) w.opaque(p.reference);
    else throw new MlsError("ENCODE_INVALID", `unknown ProposalOrRefType ${(p as { type: number }).type}`);
  },
  decode(r) {
    const t = r.u8();
    if (t === ProposalOrRefType.proposal) return { type: t, proposal: readProposal(r) };
    if (t === ProposalOrRefType.reference) return { type: t, reference: r.opaque() };
    throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown ProposalOrRefType ${t}`);
  },
};
