/**
 * Group state as versioned bytes, so a client can persist a group and pick it
 * up after a restart. The bytes hold every secret the group still keeps (and
 * nothing the deletion schedule of RFC 9420 §9.2 already deleted): store them
 * encrypted.
 *
 * Layout (TLS presentation language, varint vectors):
 *   "MLSG" || uint8 version (1) || uint16 cipher_suite || State state || optional<Pending> pending
 * where State and Pending are written by writeState / writePending below.
 * Policy (GroupConfig) is not state and is not stored.
 */
import { utf8 } from "../codec/bytes.js";
import { asDecodeError, decode, Reader, Writer } from "../codec/tls.js";
import type { CipherSuite, CryptoProvider, KeyPair } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { senderCodec } from "../messages/framing.js";
import { groupContextCodec } from "../messages/groupContext.js";
import { keyPackageCodec } from "../messages/keyPackage.js";
import { leafNodeCodec } from "../messages/leafNode.js";
import { proposalCodec, reInitCodec } from "../messages/proposal.js";
import { SecretTree } from "../schedule/secretTree.js";
import { PrivateTreeKeys } from "../tree/privateTreeKeys.js";
import { PublicRatchetTree } from "../tree/ratchetTree.js";
import type { LeafIndex, NodeIndex } from "../tree/treeMath.js";
import type { AddedMember, ChangedMember } from "./applyProposals.js";
import { groupInfoSlotBytes, withRatchetTree, type GroupInfoSlot, type PendingCommitState } from "./commit.js";
import type { GroupConfig } from "./groupConfig.js";
import { PackedSignatureKeys } from "./packedSignatureKeys.js";
import { refKey, type CachedProposal, type EpochKeys, type GroupState, type PastEpoch, type ResumptionPsk } from "./groupState.js";
import type { CommittedProposal } from "./proposals.js";

const MAGIC = utf8("MLSG");
const VERSION = 2;

function writeList<T>(w: Writer, items: Iterable<T>, each: (w: Writer, item: T) => void): void {
  w.lengthPrefixed((v) => {
    for (const it of items) each(v, it);
  });
}

function readList<T>(r: Reader, each: (r: Reader) => T): T[] {
  return r.lengthPrefixed((v, end) => {
    const out: T[] = [];
    while (v.offset < end) out.push(each(v));
    return out;
  });
}

function writeOptional<T>(w: Writer, v: T | undefined, each: (w: Writer, v: T) => void): void {
  if (v === undefined) w.u8(0);
  else {
    w.u8(1);
    each(w, v);
  }
}

function readOptional<T>(r: Reader, each: (r: Reader) => T): T | undefined {
  const present = r.u8();
  if (present === 0) return undefined;
  if (present !== 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
  return each(r);
}

function writeKeyPair(w: Writer, kp: KeyPair): void {
  w.opaque(kp.privateKey);
  w.opaque(kp.publicKey);
}

function readKeyPair(r: Reader): KeyPair {
  const privateKey = r.opaque();
  return { privateKey, publicKey: r.opaque() };
}

const KEY_FIELDS = ["senderDataSecret", "exporterSecret", "externalSecret", "confirmationKey", "membershipKey", "resumptionPsk", "epochAuthenticator", "initSecret"] as const;

function writeState(w: Writer, s: GroupState, withWindows: boolean): void {
  w.opaque(s.groupContextBytes);
  w.opaque(s.tree.encode());
  w.u32(s.privateKeys.leafIndex);
  w.opaque(s.signaturePrivateKey);
  writeList(w, s.privateKeys.entries(), (v, [node, kp]) => {
    v.u32(node);
    writeKeyPair(v, kp);
  });
  for (const f of KEY_FIELDS) w.opaque(s.keys[f]);
  w.opaque(s.secretTree.exportState());
  w.opaque(s.interimTranscriptHash);
  w.opaque(s.confirmationTag);
  writeList(w, s.proposals.values(), (v, c) => {
    v.opaque(c.ref);
    senderCodec.encode(v, c.sender);
    proposalCodec.encode(v, c.proposal);
    v.u8(c.own ? 1 : 0);
    writeOptional(v, c.message, (x, m) => x.opaque(m));
    writeOptional(v, c.updateKeyPair, writeKeyPair);
  });
  writeList(w, s.resumptionPsks, (v, r) => {
    v.u64(r.epoch);
    v.opaque(r.psk);
  });
  w.u8(s.active ? 1 : 0);
  writeOptional(w, s.reinit, (x, v) => reInitCodec.encode(x, v));
  if (!withWindows) return;
  writeList(w, s.pastEpochs, (v, p) => {
    v.u64(p.epoch);
    v.opaque(p.groupContext);
    v.opaque(p.senderDataSecret);
    v.opaque(p.secretTree.exportState());
    writeList(v, p.signatureKeys, (x, [leaf, key]) => {
      x.u32(leaf);
      x.opaque(key);
    });
  });
}

function readState(r: Reader, suite: CipherSuite, config: GroupConfig, pastEpochs: PastEpoch[] | undefined): GroupState {
  const treeOptions = { outOfOrderWindow: config.outOfOrderWindow, maxForwardDistance: config.maxForwardDistance };
  const groupContextBytes = r.opaque();
  const groupContext = decode(groupContextCodec, groupContextBytes);
  if (groupContext.cipherSuite !== suite.id) throw new MlsError("GROUP_STATE_INVALID", "GroupContext suite differs from the state's");
  const tree = PublicRatchetTree.decode(suite, r.opaque());
  const leaf = r.u32() as LeafIndex;
  const signaturePrivateKey = r.opaque();
  const entries = readList(r, (v): [NodeIndex, KeyPair] => [v.u32() as NodeIndex, readKeyPair(v)]);
  const leafEntry = entries.find(([n]) => n === 2 * leaf);
  if (leafEntry === undefined) throw new MlsError("GROUP_STATE_INVALID", "no private key for our leaf");
  const privateKeys = new PrivateTreeKeys(
    leaf,
    leafEntry[1],
    entries.filter(([n]) => n !== 2 * leaf),
  );
  const keys = {} as Record<(typeof KEY_FIELDS)[number], Uint8Array>;
  for (const f of KEY_FIELDS) keys[f] = r.opaque();
  const secretTree = SecretTree.importState(suite, r.opaque(), treeOptions);
  const interimTranscriptHash = r.opaque();
  const confirmationTag = r.opaque();
  const proposals = new Map<string, CachedProposal>();
  for (const c of readList(r, (v): CachedProposal => {
    const ref = v.opaque();
    const sender = senderCodec.decode(v);
    const proposal = proposalCodec.decode(v);
    const own = v.u8() === 1;
    const message = readOptional(v, (x) => x.opaque());
    const updateKeyPair = readOptional(v, readKeyPair);
    return { ref, sender, proposal, own, ...(message === undefined ? {} : { message }), ...(updateKeyPair === undefined ? {} : { updateKeyPair }) };
  })) {
    proposals.set(refKey(c.ref), c);
  }
  const resumptionPsks = readList(r, (v): ResumptionPsk => {
    const epoch = v.u64();
    return { epoch, psk: v.opaque() };
  });
  const activeByte = r.u8();
  if (activeByte > 1) throw new MlsError("GROUP_STATE_INVALID", "bad active flag");
  const reinit = readOptional(r, (x) => reInitCodec.decode(x));
  const past =
    pastEpochs ??
    readList(r, (v): PastEpoch => {
      const epoch = v.u64();
      const groupContext = v.opaque();
      const senderDataSecret = v.opaque();
      const secretTree = SecretTree.importState(suite, v.opaque(), treeOptions);
      // Views of the input for as long as they are copied into one buffer.
      const signatureKeys = new PackedSignatureKeys(readList(v, (x): [number, Uint8Array] => [x.u32(), x.opaqueView()]));
      return { epoch, groupContext, senderDataSecret, secretTree, signatureKeys };
    });
  const state: GroupState = {
    suite,
    groupContext,
    groupContextBytes,
    tree,
    privateKeys,
    signaturePrivateKey,
    keys: keys as EpochKeys,
    secretTree,
    interimTranscriptHash,
    confirmationTag,
    proposals,
    pastEpochs: past,
    resumptionPsks,
    active: activeByte === 1,
    ...(reinit === undefined ? {} : { reinit }),
  };
  // The private keys must match the public tree (§4.2); a mismatch means corrupt state.
  if (state.active) state.privateKeys.checkConsistentWith(tree);
  return state;
}

function writeCommitted(w: Writer, c: CommittedProposal): void {
  proposalCodec.encode(w, c.proposal);
  senderCodec.encode(w, c.sender);
  writeOptional(w, c.ref, (x, ref) => x.opaque(ref));
}

function readCommitted(r: Reader): CommittedProposal {
  const proposal = proposalCodec.decode(r);
  const sender = senderCodec.decode(r);
  const ref = readOptional(r, (x) => x.opaque());
  return ref === undefined ? { proposal, sender } : { proposal, sender, ref, verified: true };
}

function writeChanged(w: Writer, c: ChangedMember): void {
  w.u32(c.leafIndex);
  leafNodeCodec.encode(w, c.leafNode);
}

function readChanged(r: Reader): ChangedMember {
  const leafIndex = r.u32() as LeafIndex;
  return { leafIndex, leafNode: leafNodeCodec.decode(r) };
}

function writePending(w: Writer, p: PendingCommitState): void {
  w.opaque(p.commit);
  writeOptional(w, p.welcome, (x, m) => x.opaque(m));
  // Version 2: the GroupInfo only once signed, then how to sign it (version 1 always held it signed).
  writeOptional(w, groupInfoSlotBytes(p.groupInfo), (x, m) => x.opaque(m));
  w.u8((p.groupInfo.ratchetTree ? 1 : 0) | (p.groupInfo.externalPub ? 2 : 0));
  w.opaque(p.ratchetTree);
  w.u64(p.epoch);
  writeList(w, p.proposals, writeCommitted);
  writeList(w, p.added, (v, a) => {
    v.u32(a.leafIndex);
    keyPackageCodec.encode(v, a.keyPackage);
  });
  writeList(w, p.removed, writeChanged);
  writeList(w, p.updated, writeChanged);
  writeState(w, p.next, false);
}

function readPending(r: Reader, version: number, suite: CipherSuite, config: GroupConfig, current: GroupState): PendingCommitState {
  const commit = r.opaque();
  const welcome = readOptional(r, (x) => x.opaque());
  let groupInfo: GroupInfoSlot;
  if (version === 1) groupInfo = { ratchetTree: true, externalPub: true, bytes: r.opaque() };
  else {
    const bytes = readOptional(r, (x) => x.opaque());
    const flags = r.u8();
    if (flags > 3) throw new MlsError("GROUP_STATE_INVALID", "unknown GroupInfo flags");
    groupInfo = { ratchetTree: (flags & 1) !== 0, externalPub: (flags & 2) !== 0, ...(bytes === undefined ? {} : { bytes }) };
  }
  const ratchetTree = r.opaque();
  const epoch = r.u64();
  const proposals = readList(r, readCommitted);
  const added = readList(r, (v): AddedMember => {
    const leafIndex = v.u32() as LeafIndex;
    return { leafIndex, keyPackage: keyPackageCodec.decode(v) };
  });
  const removed = readList(r, readChanged);
  const updated = readList(r, readChanged);
  const next = readState(r, suite, config, current.pastEpochs);
  return withRatchetTree({ commit, ...(welcome === undefined ? {} : { welcome }), groupInfo, epoch, proposals, added, removed, updated, next }, ratchetTree);
}

/** Serializes a group's state and its pending commit, if any. */
export function serializeGroupState(state: GroupState, pending: PendingCommitState | undefined): Uint8Array {
  const w = new Writer(4096);
  w.raw(MAGIC);
  w.u8(VERSION);
  w.u16(state.suite.id);
  writeState(w, state, true);
  writeOptional(w, pending, writePending);
  return w.finish();
}

/** Restores what {@link serializeGroupState} wrote. Malformed or foreign bytes: GROUP_STATE_INVALID. */
export function deserializeGroupState(bytes: Uint8Array, provider: CryptoProvider, config: GroupConfig): { state: GroupState; pending?: PendingCommitState } {
  const r = new Reader(bytes);
  try {
    const magic = r.raw(4);
    if (magic.some((b, i) => b !== MAGIC[i])) throw new MlsError("GROUP_STATE_INVALID", "not a serialized group");
    const version = r.u8();
    if (version !== VERSION && version !== 1) throw new MlsError("GROUP_STATE_INVALID", `unknown group state version ${version}`);
    const suite = provider.suite(r.u16());
    const state = readState(r, suite, config, undefined);
    const pending = readOptional(r, (x) => readPending(x, version, suite, config, state));
    r.expectEnd();
    return pending === undefined ? { state } : { state, pending };
  } catch (e) {
    if (e instanceof MlsError && e.code === "GROUP_STATE_INVALID") throw e;
    throw new MlsError("GROUP_STATE_INVALID", `malformed group state: ${asDecodeError(e).message}`, { cause: e });
  }
}
