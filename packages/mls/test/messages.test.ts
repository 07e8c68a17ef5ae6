/**
 * messages.json (RFC 9420 wire structs): every field of every case decodes with
 * its codec and re-encodes to the same bytes; plus hand-made checks of the
 * context-dependent fields and of the decode errors.
 */
import { afterAll, describe, expect, it } from "vitest";
import { decode, encode, Writer, type Codec } from "../src/codec/tls.js";
import { bytesEqual, fromHex, toHex } from "../src/codec/bytes.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import {
  addCodec,
  applicationIdCodec,
  externalPubCodec,
  externalSendersCodec,
  requiredCapabilitiesCodec,
  type Extension,
  appAckCodec,
  capabilitiesCodec,
  appDataDictionaryCodec,
  commitCodec,
  ContentType,
  CredentialType,
  encodePrivateMessageContent,
  ExtensionType,
  externalInitCodec,
  framedContentTbsBytes,
  framedContentTbsCodec,
  groupContextExtensionsCodec,
  groupSecretsCodec,
  isLastResortKeyPackage,
  lastResortKeyPackageExtension,
  leafNodeCodec,
  leafNodeTbsBytes,
  LeafNodeSource,
  mlsMessageCodec,
  nodeCodec,
  preSharedKeyCodec,
  privateMessageContentCodec,
  proposalCodec,
  ProposalType,
  publicMessageCodec,
  ratchetTreeCodec,
  readExtension,
  reInitCodec,
  removeCodec,
  SenderType,
  updateCodec,
  WireFormat,
  type FramedContent,
  type LeafNode,
  type MLSMessage,
  type PrivateMessageContent,
  type Proposal,
  type PublicMessage,
  type RatchetTree,
  type Welcome,
} from "../src/messages/index.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";
import { errorCode as errCode } from "./support/errors.js";

interface MessagesCase {
  mls_welcome: string;
  mls_group_info: string;
  mls_key_package: string;
  ratchet_tree: string;
  group_secrets: string;
  add_proposal: string;
  update_proposal: string;
  remove_proposal: string;
  pre_shared_key_proposal: string;
  re_init_proposal: string;
  external_init_proposal: string;
  group_context_extensions_proposal: string;
  commit: string;
  public_message_application: string;
  public_message_proposal: string;
  public_message_commit: string;
  private_message: string;
}

/** Each field, the codec that reads it, and what the decoded value must look like. */
const FIELDS: { [K in keyof MessagesCase]: { codec: Codec<any>; check?: (v: any) => void } } = {
  mls_welcome: { codec: mlsMessageCodec, check: (m: MLSMessage) => expect(m.wireFormat).toBe(WireFormat.welcome) },
  mls_group_info: { codec: mlsMessageCodec, check: (m: MLSMessage) => expect(m.wireFormat).toBe(WireFormat.groupInfo) },
  mls_key_package: { codec: mlsMessageCodec, check: (m: MLSMessage) => expect(m.wireFormat).toBe(WireFormat.keyPackage) },
  ratchet_tree: { codec: ratchetTreeCodec },
  group_secrets: { codec: groupSecretsCodec },
  add_proposal: { codec: addCodec },
  update_proposal: { codec: updateCodec },
  remove_proposal: { codec: removeCodec },
  pre_shared_key_proposal: { codec: preSharedKeyCodec },
  re_init_proposal: { codec: reInitCodec },
  external_init_proposal: { codec: externalInitCodec },
  group_context_extensions_proposal: { codec: groupContextExtensionsCodec },
  commit: { codec: commitCodec },
  public_message_application: { codec: mlsMessageCodec, check: (m: MLSMessage) => expectPublic(m, ContentType.application) },
  public_message_proposal: { codec: mlsMessageCodec, check: (m: MLSMessage) => expectPublic(m, ContentType.proposal) },
  public_message_commit: { codec: mlsMessageCodec, check: (m: MLSMessage) => expectPublic(m, ContentType.commit) },
  private_message: { codec: mlsMessageCodec, check: (m: MLSMessage) => expect(m.wireFormat).toBe(WireFormat.privateMessage) },
};

/** Typed payload codecs of the RFC 9420 extensions, to re-check the payloads the vectors carry. */
const PAYLOADS = new Map<number, Codec<any>>([
  [ExtensionType.applicationId, applicationIdCodec],
  [ExtensionType.ratchetTree, ratchetTreeCodec],
  [ExtensionType.requiredCapabilities, requiredCapabilitiesCodec],
  [ExtensionType.externalPub, externalPubCodec],
  [ExtensionType.externalSenders, externalSendersCodec],
]);

/** Decodes each known extension payload and checks it re-encodes identically; returns how many it checked. */
function checkPayloads(extensions: readonly Extension[]): number {
  let n = 0;
  for (const e of extensions) {
    const codec = PAYLOADS.get(e.extensionType);
    if (codec === undefined) continue;
    expect(encode(codec, decode(codec, e.extensionData))).toEqual(e.extensionData);
    n++;
  }
  return n;
}

function expectPublic(m: MLSMessage, contentType: ContentType): void {
  expect(m.wireFormat).toBe(WireFormat.publicMessage);
  if (m.wireFormat !== WireFormat.publicMessage) return;
  const pm = m.publicMessage;
  expect(pm.content.contentType).toBe(contentType);
  expect(pm.auth.confirmationTag !== undefined).toBe(contentType === ContentType.commit);
  expect(pm.membershipTag !== undefined).toBe(pm.content.sender.senderType === SenderType.member);
}

describe.skipIf(!haveVectors)("messages.json", () => {
  const tally = new VectorTally("messages.json");
  afterAll(() => tally.report());
  const cases = haveVectors ? loadVectors<MessagesCase[]>("messages") : [];

  it("typed extension payloads inside GroupInfo and GroupContext round-trip", () => {
    let checked = 0;
    for (const c of cases) {
      const m = decode(mlsMessageCodec, fromHex(c.mls_group_info));
      if (m.wireFormat !== WireFormat.groupInfo) throw new Error("not a GroupInfo");
      checked += checkPayloads(m.groupInfo.extensions) + checkPayloads(m.groupInfo.groupContext.extensions);
    }
    expect(checked).toBeGreaterThanOrEqual(cases.length);
  });

  it("has cases and all the fields the README lists", () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect(Object.keys(c).sort()).toEqual(Object.keys(FIELDS).sort());
  });

  it("decodes every field with its codec and re-encodes it byte for byte", () => {
    cases.forEach((c, i) => {
      for (const [field, { codec, check }] of Object.entries(FIELDS) as [keyof MessagesCase, (typeof FIELDS)[keyof MessagesCase]][]) {
        const bytes = fromHex(c[field]);
        let value: unknown;
        try {
          value = decode(codec, bytes);
        } catch (e) {
          throw new Error(`case ${i} ${field}: ${(e as Error).message}`);
        }
        check?.(value);
        const again = encode(codec, value);
        if (toHex(again) !== c[field]) throw new Error(`case ${i} ${field}: re-encoding differs`);
      }
      tally.pass();
    });
    expect(tally.passed).toBe(cases.length);
  });
});

// ---------------------------------------------------------------------------
// Hand-made values for the context-dependent encodings (RFC 9420 §6.1–§6.3)

const leaf: LeafNode = {
  encryptionKey: fromHex("aa".repeat(32)),
  signatureKey: fromHex("bb".repeat(32)),
  credential: { credentialType: CredentialType.basic, identity: fromHex("616c696365") },
  capabilities: { versions: [1, 0x0a0a], cipherSuites: [1, 0x1a1a], extensions: [0x2a2a], proposals: [0x3a3a], credentials: [1, 2] },
  leafNodeSource: LeafNodeSource.keyPackage,
  lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn },
  extensions: [{ extensionType: 0x4a4a, extensionData: fromHex("00ff") }],
  signature: fromHex("cc".repeat(64)),
};

const groupContext = {
  version: 1 as const,
  cipherSuite: 1,
  groupId: fromHex("0102"),
  epoch: 7n,
  treeHash: fromHex("11".repeat(32)),
  confirmedTranscriptHash: fromHex("22".repeat(32)),
  extensions: [],
};

function content(senderType: SenderType, body: Pick<FramedContent, "contentType"> & Record<string, unknown>): FramedContent {
  const sender = senderType === SenderType.member ? { senderType, leafIndex: leafIndex(3) } : senderType === SenderType.external ? { senderType, senderIndex: 1 } : { senderType };
  return { groupId: fromHex("0102"), epoch: 7n, sender, authenticatedData: fromHex("ad"), ...body } as FramedContent;
}

describe("context-dependent fields", () => {
  it("PublicMessage carries membership_tag only for members", () => {
    const app = { contentType: ContentType.application, applicationData: fromHex("68656c6c6f") };
    const member: PublicMessage = { content: content(SenderType.member, app), auth: { signature: fromHex("99") }, membershipTag: fromHex("77".repeat(32)) };
    const bytes = encode(publicMessageCodec, member);
    expect(decode(publicMessageCodec, bytes)).toEqual(member);
    // Without the tag the member message is one opaque shorter: the decoder must see truncation.
    expect(errCode(() => decode(publicMessageCodec, bytes.subarray(0, bytes.length - 33)))).toBe("DECODE_TRUNCATED");
    expect(errCode(() => encode(publicMessageCodec, { ...member, membershipTag: undefined }))).toBe("ENCODE_INVALID");

    const proposal: Proposal = { proposalType: ProposalType.remove, removed: leafIndex(2) };
    const external: PublicMessage = {
      content: content(SenderType.external, { contentType: ContentType.proposal, proposal }),
      auth: { signature: fromHex("99") },
    };
    const extBytes = encode(publicMessageCodec, external);
    expect(decode(publicMessageCodec, extBytes)).toEqual(external);
    // A trailing tag on a non-member message is trailing garbage.
    expect(errCode(() => decode(publicMessageCodec, new Uint8Array([...extBytes, 1, 0xaa])))).toBe("DECODE_TRAILING_BYTES");
    expect(errCode(() => encode(publicMessageCodec, { ...external, membershipTag: fromHex("00") }))).toBe("ENCODE_INVALID");
  });

  it("FramedContentAuthData carries confirmation_tag only for commits", () => {
    const commit = { contentType: ContentType.commit, commit: { proposals: [] } };
    const m: PublicMessage = { content: content(SenderType.newMemberCommit, commit), auth: { signature: fromHex("99"), confirmationTag: fromHex("55".repeat(32)) } };
    const bytes = encode(publicMessageCodec, m);
    expect(decode(publicMessageCodec, bytes)).toEqual(m);
    expect(toHex(bytes.subarray(bytes.length - 33))).toBe("20" + "55".repeat(32));
    expect(errCode(() => encode(publicMessageCodec, { ...m, auth: { signature: fromHex("99") } }))).toBe("ENCODE_INVALID");
  });

  it("FramedContentTBS includes the GroupContext only for member and new_member_commit senders", () => {
    const app = { contentType: ContentType.application, applicationData: fromHex("00") };
    for (const st of [SenderType.member, SenderType.newMemberCommit, SenderType.external, SenderType.newMemberProposal]) {
      const withCtx = st === SenderType.member || st === SenderType.newMemberCommit;
      const tbs = { wireFormat: WireFormat.publicMessage, content: content(st, app), context: withCtx ? groupContext : undefined };
      const bytes = framedContentTbsBytes(tbs);
      expect(toHex(bytes.subarray(0, 4))).toBe("00010001"); // version mls10, wire format public
      const back = decode(framedContentTbsCodec, bytes);
      expect(back.context).toEqual(withCtx ? groupContext : undefined);
      expect(errCode(() => framedContentTbsBytes({ ...tbs, context: withCtx ? undefined : groupContext }))).toBe("ENCODE_INVALID");
    }
  });

  it("PrivateMessageContent padding must be zero bytes", () => {
    const c: PrivateMessageContent = { contentType: ContentType.application, applicationData: fromHex("68"), auth: { signature: fromHex("99") }, paddingLength: 5 };
    const bytes = encodePrivateMessageContent(c);
    expect(toHex(bytes)).toBe("0168" + "0199" + "0000000000");
    const codec = privateMessageContentCodec(ContentType.application);
    expect(decode(codec, bytes)).toEqual(c);
    bytes[bytes.length - 2] = 1;
    expect(errCode(() => decode(codec, bytes))).toBe("MESSAGE_INVALID_PADDING");
    // The same bytes read as a commit body fail rather than misparse.
    expect(errCode(() => decode(privateMessageContentCodec(ContentType.commit), fromHex("0168019900")))).toBeDefined();
  });
});

describe("decode errors", () => {
  it("rejects unknown proposal, credential, wire format and bad versions", () => {
    expect(errCode(() => decode(proposalCodec, fromHex("0b0b00")))).toBe("DECODE_UNKNOWN_VALUE");
    expect(errCode(() => decode(leafNodeCodec, fromHex("0000" + "0003")))).toBe("DECODE_UNKNOWN_VALUE");
    expect(errCode(() => decode(mlsMessageCodec, fromHex("00010006")))).toBe("DECODE_UNKNOWN_VALUE");
    expect(errCode(() => decode(mlsMessageCodec, fromHex("00020001")))).toBe("DECODE_UNKNOWN_VALUE");
  });

  it("rejects a ratchet tree that ends with a blank node or has a bad presence octet", () => {
    const tree = [{ nodeType: 1 as const, leafNode: leaf }];
    const bytes = encode(ratchetTreeCodec, tree);
    expect(decode(ratchetTreeCodec, bytes)).toEqual(tree);
    const w = new Writer();
    w.lengthPrefixed((inner) => {
      inner.u8(1);
      nodeCodec.encode(inner, tree[0]!);
      inner.u8(0); // a trailing blank
    });
    expect(errCode(() => decode(ratchetTreeCodec, w.finish()))).toBe("DECODE_INVALID");
    expect(errCode(() => decode(ratchetTreeCodec, fromHex("00")))).toBe("DECODE_INVALID");
    expect(errCode(() => encode(ratchetTreeCodec, [...tree, undefined]))).toBe("ENCODE_INVALID");
    expect(errCode(() => decode(ratchetTreeCodec, fromHex("0102")))).toBe("DECODE_INVALID_OPTIONAL");
  });

  it("keeps GREASE and unknown values in capabilities and extensions", () => {
    const bytes = encode(leafNodeCodec, leaf);
    expect(decode(leafNodeCodec, bytes)).toEqual(leaf);
    expect(encode(leafNodeCodec, decode(leafNodeCodec, bytes))).toEqual(bytes);
  });

  it("needs the group id and leaf index for update/commit LeafNodeTBS", () => {
    const update = { ...leaf, leafNodeSource: LeafNodeSource.update } as LeafNode;
    expect(errCode(() => leafNodeTbsBytes(update))).toBe("INVALID_ARGUMENT");
    const tbs = leafNodeTbsBytes(update, { groupId: fromHex("0102"), leafIndex: leafIndex(9) });
    expect(toHex(tbs.subarray(tbs.length - 7))).toBe("02010200000009");
  });
});

describe("draft-ietf-mls-extensions structs", () => {
  it("marks and recognises last-resort KeyPackages", () => {
    const ext = lastResortKeyPackageExtension();
    expect(ext.extensionType).toBe(ExtensionType.appDataDictionary);
    expect(toHex(ext.extensionData)).toBe("03" + "0004" + "00");
    expect(isLastResortKeyPackage({ extensions: [ext] })).toBe(true);
    expect(isLastResortKeyPackage({ extensions: [] })).toBe(false);
    expect(readExtension([ext], ExtensionType.appDataDictionary, appDataDictionaryCodec)?.componentData[0]?.componentId).toBe(4);
    // component_data must be sorted and unique
    expect(errCode(() => decode(appDataDictionaryCodec, fromHex("06" + "000500" + "000400")))).toBe("DECODE_INVALID");
  });

  it("round-trips SelfRemove, AppEphemeral (carrying an AppAck) and AppDataUpdate proposals", () => {
    const ack = encode(appAckCodec, { receivedRanges: [{ sender: leafIndex(1), firstGeneration: 0, lastGeneration: 9 }] });
    const proposals: Proposal[] = [
      { proposalType: ProposalType.selfRemove },
      { proposalType: ProposalType.appEphemeral, componentId: 5, data: ack },
      { proposalType: ProposalType.appDataUpdate, componentId: 7, op: 1, update: fromHex("01") },
      { proposalType: ProposalType.appDataUpdate, componentId: 7, op: 2 },
    ];
    for (const p of proposals) expect(decode(proposalCodec, encode(proposalCodec, p))).toEqual(p);
    expect(toHex(encode(proposalCodec, proposals[0]!))).toBe("000a");
    expect(decode(appAckCodec, ack).receivedRanges[0]?.lastGeneration).toBe(9);
  });
});

describe("large inputs", () => {
  it("round-trips a 10,000-leaf ratchet tree and a Welcome for 5,000 joiners", () => {
    const leaves = 10_000;
    const tree: RatchetTree = [];
    for (let i = 0; i < 2 * leaves - 1; i++) {
      if (i % 2 === 0) {
        const key = new Uint8Array(32).fill(i & 0xff);
        tree.push({ nodeType: 1, leafNode: { ...leaf, encryptionKey: key, signatureKey: key } });
      } else if (i % 4 === 1) {
        tree.push(undefined);
      } else {
        tree.push({ nodeType: 2, parentNode: { encryptionKey: new Uint8Array(32), parentHash: new Uint8Array(32), unmergedLeaves: [leafIndex(i >> 1)] } });
      }
    }
    let t0 = performance.now();
    const bytes = encode(ratchetTreeCodec, tree);
    const t1 = performance.now();
    const back = decode(ratchetTreeCodec, bytes);
    const t2 = performance.now();
    expect(back.length).toBe(tree.length);
    // (bytesEqual: vitest's deep equality is far too slow for megabytes)
    expect(bytesEqual(encode(ratchetTreeCodec, back), bytes)).toBe(true);
    console.log(`[perf] ratchet tree ${leaves} leaves, ${bytes.length} bytes: encode ${(t1 - t0).toFixed(1)} ms, decode ${(t2 - t1).toFixed(1)} ms`);

    const welcome: Welcome = {
      cipherSuite: 1,
      secrets: Array.from({ length: 5_000 }, (_, i) => ({
        newMember: new Uint8Array(32).fill(i & 0xff),
        encryptedGroupSecrets: { kemOutput: new Uint8Array(32), ciphertext: new Uint8Array(100) },
      })),
      encryptedGroupInfo: bytes, // stands in for an encrypted GroupInfo carrying the tree
    };
    const msg: MLSMessage = { wireFormat: WireFormat.welcome, welcome };
    t0 = performance.now();
    const wbytes = encode(mlsMessageCodec, msg);
    const wback = decode(mlsMessageCodec, wbytes);
    console.log(`[perf] Welcome ${wbytes.length} bytes: encode+decode ${(performance.now() - t0).toFixed(1)} ms`);
    expect(bytesEqual(encode(mlsMessageCodec, wback), wbytes)).toBe(true);
    if (wback.wireFormat !== WireFormat.welcome) throw new Error("not a Welcome");
    expect(wback.welcome.secrets.length).toBe(5_000);
    expect(bytesEqual(wback.welcome.encryptedGroupInfo, bytes)).toBe(true);
  });
});

describe("Capabilities decoding shares identical lists", () => {
  const caps = (extra: number) => ({ versions: [1], cipherSuites: [1, 3, extra], extensions: [5, 10], proposals: [], credentials: [1, 2] });

  it("identical encodings give one frozen object; others their own; every one re-encodes to its bytes", () => {
    const a = encode(capabilitiesCodec, caps(0x0a0a));
    const b = encode(capabilitiesCodec, caps(0x1a1a));
    const a1 = decode(capabilitiesCodec, a);
    const a2 = decode(capabilitiesCodec, a.slice());
    const b1 = decode(capabilitiesCodec, b);
    expect(a2).toBe(a1);
    expect(b1).not.toBe(a1);
    expect(a1).toEqual(caps(0x0a0a));
    expect(b1).toEqual(caps(0x1a1a));
    expect(toHex(encode(capabilitiesCodec, a1))).toBe(toHex(a));
    expect(toHex(encode(capabilitiesCodec, b1))).toBe(toHex(b));
    // The last encoding seen is matched first, against its own copy: changing the input afterwards fools nothing.
    const bAgain = b.slice();
    expect(decode(capabilitiesCodec, bAgain)).toBe(b1);
    bAgain[bAgain.length - 1]! ^= 1;
    expect(decode(capabilitiesCodec, bAgain)).toEqual({ ...caps(0x1a1a), credentials: [1, 3] });
    expect(decode(capabilitiesCodec, b)).toBe(b1);
    expect(decode(capabilitiesCodec, a)).toBe(a1);
    // Shared, so nobody may change it for the others.
    expect(Object.isFrozen(a1) && Object.isFrozen(a1.cipherSuites)).toBe(true);
    expect(() => a1.cipherSuites.push(7)).toThrow(TypeError);
  });

  it("past the remembered limit, lists decode right and the oldest are simply decoded again", () => {
    const first = decode(capabilitiesCodec, encode(capabilitiesCodec, caps(1)));
    for (let i = 2; i < 200; i++) expect(decode(capabilitiesCodec, encode(capabilitiesCodec, caps(i)))).toEqual(caps(i));
    const again = decode(capabilitiesCodec, encode(capabilitiesCodec, caps(1)));
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});
