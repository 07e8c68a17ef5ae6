/**
 * Fuzzing every decoder exported by src/messages: random bytes and mutated
 * valid encodings (bit flips, byte overwrites, truncations, deletions, random
 * insertions and splices of other messages.json encodings). A decoder may only
 * throw MlsError, and whatever it accepts must re-encode to exactly the input
 * (the encodings are canonical).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decode, encode, Reader, type Codec } from "../src/codec/tls.js";
import { bytesEqual, fromHex } from "../src/codec/bytes.js";
import { MlsError } from "../src/errors.js";
import * as messages from "../src/messages/index.js";
import {
  ContentType,
  CredentialType,
  ExtensionType,
  LeafNodeSource,
  NodeType,
  ProposalOrRefType,
  ProposalType,
  SenderType,
  WireFormat,
  type Extension,
  type FramedContent,
  type FramedContentBody,
  type MLSMessage,
  type Proposal,
  type Sender,
} from "../src/messages/index.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { haveVectors, loadVectors } from "./support/vectors.js";

// ---------------------------------------------------------------------------
// Every exported decoder, by name. Codec factories are expanded per content type.

const CONTENT_TYPES = [ContentType.application, ContentType.proposal, ContentType.commit] as const;
const FACTORIES: Record<string, (t: ContentType) => Codec<unknown>> = {
  framedContentAuthDataCodec: messages.framedContentAuthDataCodec as (t: ContentType) => Codec<unknown>,
  privateMessageContentCodec: messages.privateMessageContentCodec as unknown as (t: ContentType) => Codec<unknown>,
};

const decoders = new Map<string, Codec<unknown>>();
const unknownFactories: string[] = [];
for (const [name, value] of Object.entries(messages)) {
  if (!name.endsWith("Codec")) continue;
  if (typeof value === "function") {
    const factory = FACTORIES[name];
    if (factory === undefined) unknownFactories.push(name);
    else for (const t of CONTENT_TYPES) decoders.set(`${name}(${t})`, factory(t));
  } else {
    decoders.set(name, value as Codec<unknown>);
  }
}

// ---------------------------------------------------------------------------
// Seeds: valid encodings for every decoder, taken from messages.json where it
// has them and hand-made otherwise.

const seeds = new Map<string, Uint8Array[]>();
const MAX_SEEDS = 40;

function add(name: string, value: unknown): void {
  const codec = decoders.get(name);
  if (codec === undefined) throw new Error(`no decoder named ${name}`);
  const list = seeds.get(name) ?? [];
  if (list.length >= MAX_SEEDS) return;
  list.push(encode(codec, value));
  seeds.set(name, list);
}

function bodyOf(c: FramedContent): FramedContentBody {
  switch (c.contentType) {
    case ContentType.application:
      return { contentType: c.contentType, applicationData: c.applicationData };
    case ContentType.proposal:
      return { contentType: c.contentType, proposal: c.proposal };
    case ContentType.commit:
      return { contentType: c.contentType, commit: c.commit };
  }
}

function addProposal(p: Proposal): void {
  add("proposalCodec", p);
  add("proposalOrRefCodec", { type: ProposalOrRefType.proposal, proposal: p });
}

function addExtensions(list: Extension[]): void {
  add("extensionsCodec", list);
  for (const e of list) {
    add("extensionCodec", e);
    const payload = {
      [ExtensionType.ratchetTree]: "ratchetTreeCodec",
      [ExtensionType.externalPub]: "externalPubCodec",
      [ExtensionType.requiredCapabilities]: "requiredCapabilitiesCodec",
      [ExtensionType.applicationId]: "applicationIdCodec",
      [ExtensionType.externalSenders]: "externalSendersCodec",
    }[e.extensionType];
    if (payload !== undefined) add(payload, decode(decoders.get(payload)!, e.extensionData));
    if (e.extensionType === ExtensionType.ratchetTree) {
      const tree = decode(messages.ratchetTreeCodec, e.extensionData);
      tree.forEach((n, i) => {
        if (n === undefined) return;
        add("nodeCodec", n);
        if (n.nodeType === NodeType.leaf) {
          add("leafNodeCodec", n.leafNode);
          add("leafNodeHashInputCodec", { leafIndex: i >> 1, leafNode: n.leafNode });
          add("treeHashInputCodec", { nodeType: NodeType.leaf, leafIndex: i >> 1, leafNode: n.leafNode });
        } else {
          add("parentNodeCodec", n.parentNode);
          const h = { parentNode: n.parentNode, leftHash: new Uint8Array(32).fill(1), rightHash: new Uint8Array(32).fill(2) };
          add("parentNodeHashInputCodec", h);
          add("treeHashInputCodec", { nodeType: NodeType.parent, ...h });
          add("parentHashInputCodec", { encryptionKey: n.parentNode.encryptionKey, parentHash: n.parentNode.parentHash, originalSiblingTreeHash: h.leftHash });
        }
      });
    }
    if (e.extensionType === ExtensionType.requiredCapabilities) {
      add("uint16ListCodec", decode(messages.requiredCapabilitiesCodec, e.extensionData).extensionTypes);
    }
  }
}

function addMessage(m: MLSMessage): void {
  add("mlsMessageCodec", m);
  switch (m.wireFormat) {
    case WireFormat.welcome:
      add("welcomeCodec", m.welcome);
      for (const s of m.welcome.secrets) {
        add("encryptedGroupSecretsCodec", s);
        add("hpkeCiphertextCodec", s.encryptedGroupSecrets);
      }
      break;
    case WireFormat.groupInfo: {
      const gi = m.groupInfo;
      add("groupInfoCodec", gi);
      add("groupInfoTbsCodec", gi);
      add("groupContextCodec", gi.groupContext);
      addExtensions(gi.extensions);
      addExtensions(gi.groupContext.extensions);
      break;
    }
    case WireFormat.keyPackage: {
      const kp = m.keyPackage;
      add("keyPackageCodec", kp);
      add("keyPackageTbsCodec", kp);
      add("leafNodeCodec", kp.leafNode);
      add("leafNodeTbsCodec", kp.leafNode);
      add("leafNodeTbsCodec", { ...kp.leafNode, leafNodeSource: LeafNodeSource.update, groupId: fromHex("0102"), leafIndex: 5 });
      add("capabilitiesCodec", kp.leafNode.capabilities);
      add("uint16ListCodec", kp.leafNode.capabilities.cipherSuites);
      add("credentialCodec", kp.leafNode.credential);
      if (kp.leafNode.leafNodeSource === LeafNodeSource.keyPackage) add("lifetimeCodec", kp.leafNode.lifetime);
      addExtensions(kp.extensions);
      addProposal({ proposalType: ProposalType.add, keyPackage: kp });
      break;
    }
    case WireFormat.publicMessage: {
      const pm = m.publicMessage;
      const c = pm.content;
      add("publicMessageCodec", pm);
      add("framedContentCodec", c);
      add("senderCodec", c.sender);
      add(`framedContentAuthDataCodec(${c.contentType})`, pm.auth);
      add("authenticatedContentCodec", { wireFormat: WireFormat.publicMessage, content: c, auth: pm.auth });
      add("authenticatedContentTbmCodec", {
        contentTbs: { wireFormat: WireFormat.publicMessage, content: c, context: messages.tbsIncludesGroupContext(c.sender) ? lastGroupContext : undefined },
        auth: pm.auth,
      });
      for (const st of [SenderType.member, SenderType.external, SenderType.newMemberProposal, SenderType.newMemberCommit] as const) {
        const sender: Sender = st === SenderType.member ? { senderType: st, leafIndex: leafIndex(2) } : st === SenderType.external ? { senderType: st, senderIndex: 0 } : { senderType: st };
        const content = { ...c, sender } as FramedContent;
        add("framedContentTbsCodec", { wireFormat: WireFormat.publicMessage, content, context: messages.tbsIncludesGroupContext(sender) ? lastGroupContext : undefined });
      }
      add(`privateMessageContentCodec(${c.contentType})`, { ...bodyOf(c), auth: pm.auth, paddingLength: 3 });
      if (c.contentType === ContentType.commit) {
        add("confirmedTranscriptHashInputCodec", { wireFormat: WireFormat.publicMessage, content: c, signature: pm.auth.signature });
        add("interimTranscriptHashInputCodec", { confirmationTag: pm.auth.confirmationTag });
      }
      break;
    }
    case WireFormat.privateMessage: {
      const p = m.privateMessage;
      add("privateMessageCodec", p);
      add("senderDataAadCodec", { groupId: p.groupId, epoch: p.epoch, contentType: p.contentType });
      add("privateContentAadCodec", { groupId: p.groupId, epoch: p.epoch, contentType: p.contentType, authenticatedData: p.authenticatedData });
      break;
    }
  }
}

let lastGroupContext: messages.GroupContext | undefined;

interface MessagesCase {
  [field: string]: string;
}

const BODY_FIELDS: [string, string, (v: any) => Proposal][] = [
  ["add_proposal", "addCodec", (v) => ({ proposalType: ProposalType.add, ...v })],
  ["update_proposal", "updateCodec", (v) => ({ proposalType: ProposalType.update, ...v })],
  ["remove_proposal", "removeCodec", (v) => ({ proposalType: ProposalType.remove, ...v })],
  ["pre_shared_key_proposal", "preSharedKeyCodec", (v) => ({ proposalType: ProposalType.psk, ...v })],
  ["re_init_proposal", "reInitCodec", (v) => ({ proposalType: ProposalType.reinit, ...v })],
  ["external_init_proposal", "externalInitCodec", (v) => ({ proposalType: ProposalType.externalInit, ...v })],
  ["group_context_extensions_proposal", "groupContextExtensionsCodec", (v) => ({ proposalType: ProposalType.groupContextExtensions, ...v })],
];

/** Raw vector encodings, for splicing into other inputs. */
const vectorChunks: Uint8Array[] = [];

if (haveVectors) {
  const cases = loadVectors<MessagesCase[]>("messages").slice(0, 30);
  for (const c of cases) {
    for (const v of Object.values(c)) vectorChunks.push(fromHex(v));
    const gi = decode(messages.mlsMessageCodec, fromHex(c.mls_group_info!));
    if (gi.wireFormat === WireFormat.groupInfo) lastGroupContext = gi.groupInfo.groupContext;
    for (const f of ["mls_group_info", "mls_welcome", "mls_key_package", "public_message_application", "public_message_proposal", "public_message_commit", "private_message"]) {
      addMessage(decode(messages.mlsMessageCodec, fromHex(c[f]!)));
    }
    add("ratchetTreeCodec", decode(messages.ratchetTreeCodec, fromHex(c.ratchet_tree!)));
    const gs = decode(messages.groupSecretsCodec, fromHex(c.group_secrets!));
    add("groupSecretsCodec", gs);
    if (gs.pathSecret !== undefined) add("pathSecretCodec", gs.pathSecret);
    for (const [i, psk] of gs.psks.entries()) {
      add("preSharedKeyIdCodec", psk);
      add("pskLabelCodec", { id: psk, index: i, count: gs.psks.length });
    }
    for (const [field, name, toProposal] of BODY_FIELDS) {
      const body = decode(decoders.get(name)!, fromHex(c[field]!));
      add(name, body);
      const p = toProposal(body);
      addProposal(p);
      if (p.proposalType === ProposalType.psk) add("preSharedKeyIdCodec", p.psk);
      if (p.proposalType === ProposalType.update) add("leafNodeCodec", p.leafNode);
    }
    const commit = decode(messages.commitCodec, fromHex(c.commit!));
    add("commitCodec", commit);
    for (const p of commit.proposals) add("proposalOrRefCodec", p);
    if (commit.path !== undefined) {
      add("updatePathCodec", commit.path);
      for (const n of commit.path.nodes) add("updatePathNodeCodec", n);
    }
  }
}

// Hand-made seeds for what the vectors do not carry.
const basic = { credentialType: CredentialType.basic, identity: fromHex("616c696365") } as const;
add("credentialCodec", { credentialType: CredentialType.x509, certificates: [fromHex("3082"), fromHex("")] });
add("protocolVersionCodec", 1);
for (const v of [1, 2, 3]) add("contentTypeCodec", v);
for (const v of [1, 2, 3, 4]) add("senderTypeCodec", v);
for (const v of [1, 2, 3, 4, 5]) add("wireFormatCodec", v);
for (const v of [1, 2, 3]) add("leafNodeSourceCodec", v);
for (const v of [1, 2]) add("nodeTypeCodec", v);
for (const v of [1, 2]) add("pskTypeCodec", v);
for (const v of [1, 2, 3]) add("resumptionPskUsageCodec", v);
for (const v of [1, 2]) add("proposalOrRefTypeCodec", v);
for (const v of [1, 2]) add("appDataUpdateOperationCodec", v);
add("selfRemoveCodec", {});
add("appEphemeralCodec", { componentId: 5, data: fromHex("00010203") });
add("appDataUpdateCodec", { componentId: 7, op: 1, update: fromHex("aa") });
add("appDataUpdateCodec", { componentId: 7, op: 2 });
addProposal({ proposalType: ProposalType.selfRemove });
addProposal({ proposalType: ProposalType.appEphemeral, componentId: 5, data: fromHex("00") });
addProposal({ proposalType: ProposalType.appDataUpdate, componentId: 7, op: 2 });
add("proposalOrRefCodec", { type: ProposalOrRefType.reference, reference: new Uint8Array(32).fill(9) });
add("leafIndexCodec", 0x01020304);
add("senderDataCodec", { leafIndex: 7, generation: 1000, reuseGuard: fromHex("01020304") });
add("applicationIdCodec", { applicationId: fromHex("6170702d3031") });
add("externalSenderCodec", { signatureKey: new Uint8Array(32).fill(3), credential: basic });
add("externalSendersCodec", [{ signatureKey: new Uint8Array(32).fill(3), credential: basic }]);
add("componentOperationLabelCodec", { baseLabel: messages.COMPONENT_BASE_LABEL, componentId: 4, label: "sign" });
add("componentDataCodec", { componentId: 4, data: new Uint8Array(0) });
add("appDataDictionaryCodec", {
  componentData: [
    { componentId: 1, data: fromHex("0004") },
    { componentId: 4, data: new Uint8Array(0) },
  ],
});
add("messageRangeCodec", { sender: 1, firstGeneration: 2, lastGeneration: 9 });
add("appAckCodec", {
  receivedRanges: [
    { sender: 1, firstGeneration: 2, lastGeneration: 9 },
    { sender: 3, firstGeneration: 0, lastGeneration: 0 },
  ],
});
{
  // The vectors' trees have a single leaf, so parent nodes are made here.
  const parent = { encryptionKey: new Uint8Array(32).fill(4), parentHash: new Uint8Array(32).fill(5), unmergedLeaves: [1, 3, 0x01020304] };
  const hashes = { leftHash: new Uint8Array(32).fill(1), rightHash: new Uint8Array(32).fill(2) };
  add("parentNodeCodec", parent);
  add("parentNodeCodec", { ...parent, parentHash: new Uint8Array(0), unmergedLeaves: [] });
  add("nodeCodec", { nodeType: NodeType.parent, parentNode: parent });
  add("parentNodeHashInputCodec", { parentNode: parent, ...hashes });
  add("parentNodeHashInputCodec", hashes);
  add("treeHashInputCodec", { nodeType: NodeType.parent, parentNode: parent, ...hashes });
  add("treeHashInputCodec", { nodeType: NodeType.leaf, leafIndex: 3 });
  add("parentHashInputCodec", { encryptionKey: parent.encryptionKey, parentHash: parent.parentHash, originalSiblingTreeHash: hashes.leftHash });
  const leaf = seeds.get("leafNodeCodec")?.[0];
  if (leaf !== undefined) {
    add("ratchetTreeCodec", [
      { nodeType: NodeType.leaf, leafNode: decode(messages.leafNodeCodec, leaf) },
      { nodeType: NodeType.parent, parentNode: parent },
      undefined,
      undefined,
      { nodeType: NodeType.leaf, leafNode: decode(messages.leafNodeCodec, leaf) },
    ]);
  }
}
add("privateMessageContentCodec(1)", { contentType: ContentType.application, applicationData: fromHex("68"), auth: { signature: fromHex("99") }, paddingLength: 0 });

// ---------------------------------------------------------------------------
// The properties

/**
 * Decoding either throws MlsError or yields a value that re-encodes to the input.
 * It drives the codec through a bare Reader, not `decode()`, because `decode()`
 * wraps stray exceptions into MlsError and would hide them.
 */
function checkDecoder(name: string, codec: Codec<unknown>, bytes: Uint8Array): void {
  let value: unknown;
  try {
    const r = new Reader(bytes);
    value = codec.decode(r);
    r.expectEnd();
  } catch (e) {
    if (!(e instanceof MlsError)) throw new Error(`${name} threw a non-MlsError: ${String(e)}`, { cause: e });
    return;
  }
  let again: Uint8Array;
  try {
    again = encode(codec, value);
  } catch (e) {
    throw new Error(`${name} decoded a value it cannot encode: ${String(e)}`, { cause: e });
  }
  if (!bytesEqual(again, bytes)) throw new Error(`${name} accepted a non-canonical encoding`);
}

/** Byte values at the edges of presence octets, enums and varint prefixes. */
const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff];

type Mutation =
  | { kind: "flip"; pos: number; bit: number }
  | { kind: "set"; pos: number; byte: number }
  | { kind: "truncate"; pos: number }
  | { kind: "delete"; pos: number; len: number }
  | { kind: "insert"; pos: number; bytes: Uint8Array }
  | { kind: "splice"; pos: number; chunk: number; from: number; len: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), pos: fc.nat(), byte: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant("truncate" as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant("delete" as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("insert" as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("splice" as const), pos: fc.nat(), chunk: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(input: Uint8Array, m: Mutation): Uint8Array {
  const n = input.length;
  const at = (p: number, span: number): number => (span === 0 ? 0 : p % span);
  switch (m.kind) {
    case "flip": {
      if (n === 0) return input;
      const out = input.slice();
      out[at(m.pos, n)]! ^= 1 << m.bit;
      return out;
    }
    case "set": {
      if (n === 0) return input;
      const out = input.slice();
      out[at(m.pos, n)] = m.byte;
      return out;
    }
    case "truncate":
      return input.slice(0, at(m.pos, n));
    case "delete": {
      const p = at(m.pos, n);
      return new Uint8Array([...input.subarray(0, p), ...input.subarray(p + m.len)]);
    }
    case "insert": {
      const p = at(m.pos, n + 1);
      return new Uint8Array([...input.subarray(0, p), ...m.bytes, ...input.subarray(p)]);
    }
    case "splice": {
      if (vectorChunks.length === 0) return input;
      const chunk = vectorChunks[m.chunk % vectorChunks.length]!;
      const from = at(m.from, chunk.length);
      const p = at(m.pos, n + 1);
      return new Uint8Array([...input.subarray(0, p), ...chunk.subarray(from, from + m.len), ...input.subarray(p)]);
    }
  }
}

describe("decoder fuzzing", () => {
  it("knows every exported decoder and has a valid seed for each", () => {
    expect(unknownFactories).toEqual([]);
    const missing = [...decoders.keys()].filter((k) => (seeds.get(k)?.length ?? 0) === 0);
    if (haveVectors) expect(missing).toEqual([]);
    // Every seed is a valid encoding to begin with.
    for (const [name, list] of seeds) for (const s of list) expect(() => decode(decoders.get(name)!, s)).not.toThrow();
    expect(decoders.size).toBeGreaterThan(70);
  });

  it("random bytes: only MlsError, and accepted inputs are canonical", () => {
    for (const [name, codec] of decoders) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => checkDecoder(name, codec, bytes)),
        { numRuns: 100 },
      );
    }
  });

  it("mutated valid encodings: only MlsError, and accepted inputs are canonical", () => {
    for (const [name, codec] of decoders) {
      const list = seeds.get(name) ?? [];
      if (list.length === 0) continue;
      fc.assert(
        fc.property(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (pick, muts) => {
          let bytes = list[pick % list.length]!;
          for (const m of muts) bytes = mutate(bytes, m);
          checkDecoder(name, codec, bytes);
        }),
        { numRuns: 400 },
      );
    }
  });

  it("every single-byte overwrite of one seed per decoder with an edge value", () => {
    for (const [name, list] of seeds) {
      const codec = decoders.get(name)!;
      const seed = list[0]!;
      const bytes = seed.slice();
      for (let i = 0; i < bytes.length; i++) {
        for (const v of INTERESTING) {
          if (v === seed[i]) continue;
          bytes[i] = v;
          checkDecoder(name, codec, bytes);
        }
        bytes[i] = seed[i]!;
      }
    }
  });

  it("every truncation of every seed fails cleanly", () => {
    for (const [name, list] of seeds) {
      const codec = decoders.get(name)!;
      for (const s of list.slice(0, 3)) for (let i = 0; i < s.length; i++) checkDecoder(name, codec, s.subarray(0, i));
    }
  });
});
