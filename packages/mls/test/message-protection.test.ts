/**
 * message-protection.json (RFC 9420 §6, §6.1–§6.3) for both providers, plus the
 * failure modes of PublicMessage / PrivateMessage protection, by error code.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { bytesEqual, toHex } from "../src/codec/bytes.js";
import { decode, encode, Writer } from "../src/codec/tls.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import {
  authenticatedContentBytes,
  confirmedTranscriptHashInputOf,
  createFramingContext,
  decodePublicMessage,
  encodeAuthData,
  framedContentBodyOffset,
  protectPrivateMessage,
  protectPublicMessage,
  signFramedContent,
  unprotectPrivateMessage,
  unprotectPublicMessage,
  verifyFramedContentSignature,
  withConfirmationTag,
  type EncodedAuthenticatedContent,
  type FramingContext,
  type PrivateMessageContext,
  type PublicMessageContext,
  type SignatureKeyLookup,
  type UnprotectedPrivateMessage,
} from "../src/framing/index.js";
import { commitCodec } from "../src/messages/commit.js";
import { ContentType, ProposalType, ProtocolVersion, SenderType, WireFormat } from "../src/messages/enums.js";
import { authenticatedContentCodec, framedContentCodec, type FramedContent, type FramedContentBody, type Sender } from "../src/messages/framing.js";
import { groupContextCodec, type GroupContext } from "../src/messages/groupContext.js";
import { keyPackageCodec } from "../src/messages/keyPackage.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { proposalCodec } from "../src/messages/proposal.js";
import { confirmedTranscriptHashInputBytes } from "../src/messages/transcriptHashInput.js";
import { SecretTree } from "../src/schedule/secretTree.js";
import { senderDataKeyAndNonce } from "../src/schedule/senderData.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

interface MessageProtectionVector {
  cipher_suite: number;
  group_id: string;
  epoch: number | string;
  tree_hash: string;
  confirmed_transcript_hash: string;
  signature_priv: string;
  signature_pub: string;
  encryption_secret: string;
  sender_data_secret: string;
  membership_key: string;
  proposal: string;
  proposal_pub: string;
  proposal_priv: string;
  commit: string;
  commit_pub: string;
  commit_priv: string;
  application: string;
  application_priv: string;
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];
/** EdDSA signatures are deterministic (RFC 8032), so re-protecting a PublicMessage must give the vector's bytes. */
const deterministicSignatures = new Set([1, 3, 4, 6]);

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<MlsErrorCode | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(MlsError);
    return (e as MlsError).code;
  }
  return undefined;
}

/** The epoch of a vector: GroupContext from its fields with no extensions (README "Message Protection"). */
function epochOf(cs: CipherSuite, v: MessageProtectionVector) {
  const gc: GroupContext = {
    version: ProtocolVersion.mls10,
    cipherSuite: v.cipher_suite,
    groupId: hex(v.group_id),
    epoch: BigInt(v.epoch),
    treeHash: hex(v.tree_hash),
    confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
    extensions: [],
  };
  const ctx = createFramingContext(cs, gc);
  const sigPub = hex(v.signature_pub);
  const lookup: SignatureKeyLookup = (s) => (s.senderType === SenderType.member && s.leafIndex === 1 ? sigPub : undefined);
  return {
    ctx,
    pub: { ...ctx, membershipKey: hex(v.membership_key) } satisfies PublicMessageContext,
    /** A fresh secret tree of 2 leaves per call, as the README prescribes for each message. */
    priv: (): PrivateMessageContext => ({ ...ctx, senderDataSecret: hex(v.sender_data_secret), secretTree: new SecretTree(cs, hex(v.encryption_secret), 2) }),
    lookup,
    sigPriv: signaturePrivateKey(cs, hex(v.signature_priv)),
  };
}

/**
 * The P-521 vector's signature_priv is 65 bytes: its leading zero octet was
 * dropped, where Field-Element-to-Octet-String (README) gives 66. Restore it.
 */
function signaturePrivateKey(cs: CipherSuite, priv: Uint8Array): Uint8Array {
  if (!cs.params.signature.startsWith("ECDSA") || priv.length >= cs.params.nsk) return priv;
  const out = new Uint8Array(cs.params.nsk);
  out.set(priv, cs.params.nsk - priv.length);
  return out;
}

const SENDER: Sender = { senderType: SenderType.member, leafIndex: leafIndex(1) };

/** The raw value of a body as the vector lists it: the Proposal / Commit encoding, or the application data. */
function rawOf(body: FramedContentBody): string {
  switch (body.contentType) {
    case ContentType.application:
      return toHex(body.applicationData);
    case ContentType.proposal:
      return toHex(encode(proposalCodec, body.proposal));
    case ContentType.commit:
      return toHex(encode(commitCodec, body.commit));
  }
}

/** Everything a received content must satisfy beyond its body: the kept encodings are the canonical ones. */
function checkEncodings(ac: EncodedAuthenticatedContent): void {
  expect(toHex(ac.contentBytes)).toBe(toHex(encode(framedContentCodec, ac.content)));
  expect(toHex(authenticatedContentBytes(ac))).toBe(toHex(encode(authenticatedContentCodec, ac)));
  if (ac.content.contentType === ContentType.commit) {
    expect(toHex(confirmedTranscriptHashInputOf(ac))).toBe(toHex(confirmedTranscriptHashInputBytes(ac)));
  }
  expect(ac.content.sender).toEqual(SENDER);
}

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("message-protection.json (RFC 9420 §6) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`message-protection.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<MessageProtectionVector[]>("message-protection") : [];
  const cases = vectors.flatMap((v) => (["proposal", "commit", "application"] as const).map((kind) => [v.cipher_suite, kind, v] as const));

  it.each(cases)("cipher suite %i, %s", async (suiteId, kind, v) => {
    const cs = provider.suite(suiteId);
    const e = epochOf(cs, v);
    const raw = v[kind];

    // The vector's PublicMessage (proposal and commit only) verifies and carries the raw value.
    let confirmationTag: Uint8Array | undefined;
    let authenticatedData: Uint8Array = new Uint8Array(0);
    if (kind !== "application") {
      const pubBytes = hex(v[`${kind}_pub`]);
      const got = await unprotectPublicMessage(e.pub, pubBytes, e.lookup);
      expect(rawOf(got.content)).toBe(raw);
      checkEncodings(got);
      confirmationTag = got.auth.confirmationTag;
      authenticatedData = got.content.authenticatedData;
      // The same through the decoded struct (re-encodes the content).
      const decoded = decode(mlsMessageCodec, pubBytes);
      expect(decoded.wireFormat).toBe(WireFormat.publicMessage);
      if (decoded.wireFormat !== WireFormat.publicMessage) return;
      const again = await unprotectPublicMessage(e.pub, decoded.publicMessage, e.lookup);
      expect(toHex(again.contentBytes)).toBe(toHex(got.contentBytes));
    }

    const body: FramedContentBody =
      kind === "application"
        ? { contentType: ContentType.application, applicationData: hex(raw) }
        : kind === "proposal"
          ? { contentType: ContentType.proposal, proposal: decode(proposalCodec, hex(raw)) }
          : { contentType: ContentType.commit, commit: decode(commitCodec, hex(raw)) };
    const content: FramedContent = { groupId: e.ctx.groupId, epoch: e.ctx.epoch, sender: SENDER, authenticatedData, ...body };
    const tagged = (ac: EncodedAuthenticatedContent) => (kind === "commit" ? withConfirmationTag(ac, confirmationTag ?? cs.randomBytes(cs.params.nh)) : ac);

    // Protect as a PublicMessage with signature_priv; it verifies with signature_pub. Application data must be refused.
    const signedPub = tagged(await signFramedContent(cs, e.sigPriv, WireFormat.publicMessage, content, e.ctx.groupContext));
    if (kind === "application") {
      expect(await codeOf(() => protectPublicMessage(e.pub, signedPub))).toBe("MESSAGE_INVALID_CONTENT");
    } else {
      const ours = protectPublicMessage(e.pub, signedPub);
      if (deterministicSignatures.has(suiteId)) expect(toHex(ours), "re-protected PublicMessage").toBe(v[`${kind}_pub`]);
      const back = await unprotectPublicMessage(e.pub, ours, e.lookup);
      expect(rawOf(back.content)).toBe(raw);
      checkEncodings(back);
    }

    // The vector's PrivateMessage decrypts with a fresh tree and verifies.
    const received = await unprotectPrivateMessage(e.priv(), hex(v[`${kind}_priv`]), e.lookup);
    expect(rawOf(received.content)).toBe(raw);
    expect(received.senderLeaf).toBe(1);
    checkEncodings(received);
    // And through the decoded struct.
    const decodedPriv = decode(mlsMessageCodec, hex(v[`${kind}_priv`]));
    if (decodedPriv.wireFormat !== WireFormat.privateMessage) throw new Error("not a PrivateMessage");
    const viaStruct = await unprotectPrivateMessage(e.priv(), decodedPriv.privateMessage, e.lookup);
    expect(toHex(viaStruct.contentBytes)).toBe(toHex(received.contentBytes));

    // Protect as a PrivateMessage ourselves; a fresh receiver tree unprotects it.
    const privContent = { ...content, authenticatedData: received.content.authenticatedData };
    const signedPriv = tagged(await signFramedContent(cs, e.sigPriv, WireFormat.privateMessage, privContent, e.ctx.groupContext));
    const sealed = await protectPrivateMessage(e.priv(), signedPriv);
    const opened = await unprotectPrivateMessage(e.priv(), sealed, e.lookup);
    expect(rawOf(opened.content)).toBe(raw);
    expect(opened.generation).toBe(0);
    expect(toHex(opened.contentBytes)).toBe(toHex(signedPriv.contentBytes));
    expect(opened.auth).toEqual(signedPriv.auth);
    tally.pass();
  });
});

// ---------------------------------------------------------------------------
// Behaviour and failure codes (suite 1 and a P-256 suite, node provider, synthetic epoch)

function syntheticEpoch(cs: CipherSuite, epoch = 7n) {
  const groupId = new Uint8Array([1, 2, 3, 4]);
  const ctx = createFramingContext(cs, {
    version: ProtocolVersion.mls10,
    cipherSuite: cs.id,
    groupId,
    epoch,
    treeHash: new Uint8Array(cs.params.nh).fill(1),
    confirmedTranscriptHash: new Uint8Array(cs.params.nh).fill(2),
    extensions: [],
  });
  const encryptionSecret = new Uint8Array(cs.params.nh).fill(3);
  const senderDataSecret = new Uint8Array(cs.params.nh).fill(4);
  const membershipKey = new Uint8Array(cs.params.nh).fill(5);
  return {
    ctx,
    pub: { ...ctx, membershipKey } as PublicMessageContext,
    priv: (leaves = 4): PrivateMessageContext => ({ ...ctx, senderDataSecret, secretTree: new SecretTree(cs, encryptionSecret, leaves) }),
    encryptionSecret,
    senderDataSecret,
  };
}

function app(ctx: FramingContext, leaf: number, data: Uint8Array, authenticatedData = new Uint8Array(0)): FramedContent {
  return {
    groupId: ctx.groupId,
    epoch: ctx.epoch,
    sender: { senderType: SenderType.member, leafIndex: leafIndex(leaf) },
    authenticatedData,
    contentType: ContentType.application,
    applicationData: data,
  };
}

function removeProposal(ctx: FramingContext, sender: Sender, removed = 3): FramedContent {
  return {
    groupId: ctx.groupId,
    epoch: ctx.epoch,
    sender,
    authenticatedData: new Uint8Array(0),
    contentType: ContentType.proposal,
    proposal: { proposalType: ProposalType.remove, removed: leafIndex(removed) },
  };
}

/**
 * §6.3 encryption written out from the primitives, independent of
 * protectPrivateMessage, so the receiver can be fed plaintexts the sender
 * would never produce (bad padding).
 */
async function encryptRaw(cs: CipherSuite, ctx: PrivateMessageContext, leaf: number, contentType: ContentType, plaintext: Uint8Array, generation = 0): Promise<Uint8Array> {
  const tree = ctx.secretTree;
  const k = tree.keyForGeneration(leafIndex(leaf), contentType === ContentType.application ? "application" : "handshake", generation);
  const guard = new Uint8Array([9, 8, 7, 6]);
  const nonce = k.nonce.slice();
  for (let i = 0; i < 4; i++) nonce[i]! ^= guard[i]!;
  const aadW = new Writer();
  aadW.opaque(ctx.groupId);
  aadW.u64(ctx.epoch);
  aadW.u8(contentType);
  aadW.opaque(new Uint8Array(0));
  const aad = aadW.finish();
  const sdAad = aad.subarray(0, aad.length - 1); // SenderDataAAD: PrivateContentAAD without the empty authenticated_data
  const ciphertext = await cs.aeadSeal(k.key, nonce, aad, plaintext);
  const sdW = new Writer();
  sdW.u32(leaf);
  sdW.u32(generation);
  sdW.raw(guard);
  const sd = senderDataKeyAndNonce(cs, ctx.senderDataSecret, ciphertext);
  const esd = await cs.aeadSeal(sd.key, sd.nonce, sdAad, sdW.finish());
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.privateMessage,
    privateMessage: { groupId: ctx.groupId, epoch: ctx.epoch, contentType, authenticatedData: new Uint8Array(0), encryptedSenderData: esd, ciphertext },
  });
}

describe.each([1, 2])("message protection behaviour, cipher suite %i", (suiteId) => {
  const cs = nodeCryptoProvider.suite(suiteId);
  const keys = new Map<number, { privateKey: Uint8Array; publicKey: Uint8Array }>();
  const signer = async (leaf: number) => {
    let kp = keys.get(leaf);
    if (kp === undefined) {
      kp = await cs.signatureGenerateKeyPair();
      keys.set(leaf, kp);
    }
    return kp;
  };
  const lookup: SignatureKeyLookup = (s) => (s.senderType === SenderType.member ? keys.get(s.leafIndex)?.publicKey : undefined);
  const data = new Uint8Array(1024).map((_, i) => i & 0xff);

  async function sealApp(ctx: PrivateMessageContext, leaf: number, bytes = data, padding?: { kind: "padToMultiple"; multiple: number }) {
    const ac = await signFramedContent(cs, (await signer(leaf)).privateKey, WireFormat.privateMessage, app(ctx, leaf, bytes), ctx.groupContext);
    return protectPrivateMessage(ctx, ac, padding === undefined ? {} : { padding });
  }

  it("round-trips application messages in order and out of order, reporting sender and generation", async () => {
    const e = syntheticEpoch(cs);
    const sender = e.priv();
    const receiver = e.priv();
    const msgs = [];
    for (let i = 0; i < 4; i++) msgs.push(await sealApp(sender, 2, data.subarray(0, 100 + i)));
    for (const i of [0, 3, 1, 2]) {
      const got = await unprotectPrivateMessage(receiver, msgs[i]!, lookup);
      expect(got.senderLeaf).toBe(2);
      expect(got.generation).toBe(i);
      expect(got.content.contentType === ContentType.application && toHex(got.content.applicationData)).toBe(toHex(data.subarray(0, 100 + i)));
    }
  });

  it("any data, authenticated_data and padding multiple round-trips through a PrivateMessage", async () => {
    const e = syntheticEpoch(cs);
    const sender = e.priv();
    const receiver = e.priv();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 300 }), async (bytes, ad, multiple) => {
        const ac = await signFramedContent(cs, (await signer(2)).privateKey, WireFormat.privateMessage, app(sender, 2, bytes, ad), sender.groupContext);
        const sealed = await protectPrivateMessage(sender, ac, { padding: { kind: "padToMultiple", multiple } });
        const m = decode(mlsMessageCodec, sealed);
        if (m.wireFormat !== WireFormat.privateMessage) throw new Error("unreachable");
        expect((m.privateMessage.ciphertext.length - 16) % multiple).toBe(0);
        const got = await unprotectPrivateMessage(receiver, sealed, lookup);
        expect(toHex(got.contentBytes)).toBe(toHex(ac.contentBytes));
        expect(got.content).toEqual(ac.content);
      }),
      { numRuns: 60 },
    );
  });

  it("authenticated_data travels in the clear but is authenticated", async () => {
    const e = syntheticEpoch(cs);
    const ctx = e.priv();
    const ad = new Uint8Array([0xaa, 0xbb, 0xcc]);
    const ac = await signFramedContent(cs, (await signer(0)).privateKey, WireFormat.privateMessage, app(ctx, 0, data, ad), ctx.groupContext);
    const sealed = await protectPrivateMessage(ctx, ac);
    const got = await unprotectPrivateMessage(e.priv(), sealed, lookup);
    expect(toHex(got.content.authenticatedData)).toBe("aabbcc");
    // Change the authenticated data on the wire: the AEAD rejects it.
    const m = decode(mlsMessageCodec, sealed);
    if (m.wireFormat !== WireFormat.privateMessage) throw new Error("unreachable");
    const forged = encode(mlsMessageCodec, { wireFormat: WireFormat.privateMessage, privateMessage: { ...m.privateMessage, authenticatedData: new Uint8Array([0xaa, 0xbb, 0xcd]) } });
    expect(await codeOf(unprotectPrivateMessage(e.priv(), forged, lookup))).toBe("CRYPTO_DECRYPT_FAILED");
  });

  it("pads the plaintext to the policy's multiple and strips it on receipt", async () => {
    const e = syntheticEpoch(cs);
    for (const [len, multiple] of [
      [1, 64],
      [1000, 256],
      [5, 1],
      [0, 32],
    ] as const) {
      const sealed = await sealApp(e.priv(), 1, data.subarray(0, len), { kind: "padToMultiple", multiple });
      const m = decode(mlsMessageCodec, sealed);
      if (m.wireFormat !== WireFormat.privateMessage) throw new Error("unreachable");
      expect((m.privateMessage.ciphertext.length - 16) % multiple, `len ${len} multiple ${multiple}`).toBe(0);
      const got = await unprotectPrivateMessage(e.priv(), sealed, lookup);
      expect(got.content.contentType === ContentType.application && got.content.applicationData.length).toBe(len);
    }
    const ctx = e.priv();
    const ac = await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.privateMessage, app(ctx, 1, data), ctx.groupContext);
    expect(await codeOf(protectPrivateMessage(ctx, ac, { padding: { kind: "padToMultiple", multiple: 0 } }))).toBe("INVALID_ARGUMENT");
  });

  it("rejects non-zero padding (MESSAGE_INVALID_PADDING) and accepts zero padding from an independent encryptor", async () => {
    const e = syntheticEpoch(cs);
    const ctx = e.priv();
    const ac = await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.privateMessage, app(ctx, 1, data.subarray(0, 10)), ctx.groupContext);
    const body = ac.contentBytes.subarray(framedContentBodyOffset(ac.contentBytes));
    const auth = encodeAuthData(ac);
    const plain = (padding: number[]) => new Uint8Array([...body, ...auth, ...padding]);
    const good = await encryptRaw(cs, e.priv(), 1, ContentType.application, plain([0, 0, 0, 0]));
    const got = await unprotectPrivateMessage(e.priv(), good, lookup);
    expect(toHex(got.contentBytes)).toBe(toHex(ac.contentBytes));
    const bad = await encryptRaw(cs, e.priv(), 1, ContentType.application, plain([0, 0, 1, 0]));
    expect(await codeOf(unprotectPrivateMessage(e.priv(), bad, lookup))).toBe("MESSAGE_INVALID_PADDING");
    // A truncated auth is malformed, not a padding problem.
    const cut = await encryptRaw(cs, e.priv(), 1, ContentType.application, plain([]).subarray(0, body.length + 3));
    expect(await codeOf(unprotectPrivateMessage(e.priv(), cut, lookup))).toMatch(/^DECODE_/);
  });

  it("rejects a replayed generation (SECRET_TREE_GENERATION_CONSUMED)", async () => {
    const e = syntheticEpoch(cs);
    const receiver = e.priv();
    const sealed = await sealApp(e.priv(), 1);
    await unprotectPrivateMessage(receiver, sealed, lookup);
    expect(await codeOf(unprotectPrivateMessage(receiver, sealed, lookup))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    // Two concurrent decryptions of one message: exactly one succeeds.
    const again = await sealApp(e.priv(), 3);
    const r = e.priv();
    const results = await Promise.allSettled([unprotectPrivateMessage(r, again, lookup), unprotectPrivateMessage(r, again, lookup)]);
    expect(results.filter((x) => x.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((x) => x.status === "rejected");
    expect((failed as PromiseRejectedResult).reason.code).toBe("SECRET_TREE_GENERATION_CONSUMED");
  });

  it("a tampered ciphertext fails to decrypt (CRYPTO_DECRYPT_FAILED) and does not burn the key", async () => {
    const e = syntheticEpoch(cs);
    const receiver = e.priv();
    const sealed = await sealApp(e.priv(), 1);
    // The last byte is in the content's AEAD tag, outside the sample that keys the sender data.
    const tampered = sealed.slice();
    tampered[tampered.length - 1]! ^= 1;
    expect(await codeOf(unprotectPrivateMessage(receiver, tampered, lookup))).toBe("CRYPTO_DECRYPT_FAILED");
    // A byte inside the sample changes the sender data key: that AEAD fails first.
    const sample = sealed.slice();
    sample[sample.length - 1024]! ^= 1;
    expect(await codeOf(unprotectPrivateMessage(receiver, sample, lookup))).toBe("CRYPTO_DECRYPT_FAILED");
    const got = await unprotectPrivateMessage(receiver, sealed, lookup);
    expect(got.generation).toBe(0);
  });

  it("rejects the wrong group and epoch (MESSAGE_WRONG_GROUP / MESSAGE_WRONG_EPOCH), both wire formats", async () => {
    const e = syntheticEpoch(cs);
    const sealed = await sealApp(e.priv(), 1);
    const other = syntheticEpoch(cs, 8n);
    expect(await codeOf(unprotectPrivateMessage(other.priv(), sealed, lookup))).toBe("MESSAGE_WRONG_EPOCH");
    const otherGroup = { ...e.priv(), groupId: new Uint8Array([9]) };
    expect(await codeOf(unprotectPrivateMessage(otherGroup, sealed, lookup))).toBe("MESSAGE_WRONG_GROUP");

    const ac = await signFramedContent(
      cs,
      (await signer(1)).privateKey,
      WireFormat.publicMessage,
      removeProposal(e.ctx, { senderType: SenderType.member, leafIndex: leafIndex(1) }),
      e.ctx.groupContext,
    );
    const pub = protectPublicMessage(e.pub, ac);
    expect(await codeOf(unprotectPublicMessage({ ...other.pub }, pub, lookup))).toBe("MESSAGE_WRONG_EPOCH");
    expect(await codeOf(unprotectPublicMessage({ ...e.pub, groupId: new Uint8Array([9]) }, pub, lookup))).toBe("MESSAGE_WRONG_GROUP");
    expect(await codeOf(() => protectPublicMessage(other.pub, ac))).toBe("MESSAGE_WRONG_EPOCH");
    expect(
      await codeOf(
        protectPrivateMessage(
          { ...e.priv(), groupId: new Uint8Array([9]) },
          await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.privateMessage, app(e.ctx, 1, data), e.ctx.groupContext),
        ),
      ),
    ).toBe("MESSAGE_WRONG_GROUP");
  });

  it("checks the membership tag (MESSAGE_INVALID_MEMBERSHIP_TAG) before the signature (MESSAGE_INVALID_SIGNATURE)", async () => {
    const e = syntheticEpoch(cs);
    const member = { senderType: SenderType.member, leafIndex: leafIndex(1) } as const;
    const ac = await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.publicMessage, removeProposal(e.ctx, member), e.ctx.groupContext);
    const pub = protectPublicMessage(e.pub, ac);
    expect((await unprotectPublicMessage(e.pub, pub, lookup)).content).toEqual(ac.content);

    const flipped = pub.slice();
    flipped[flipped.length - 1]! ^= 1;
    expect(await codeOf(unprotectPublicMessage(e.pub, flipped, lookup))).toBe("MESSAGE_INVALID_MEMBERSHIP_TAG");
    expect(await codeOf(unprotectPublicMessage({ ...e.pub, membershipKey: new Uint8Array(cs.params.nh) }, pub, lookup))).toBe("MESSAGE_INVALID_MEMBERSHIP_TAG");

    // A bad signature under a valid membership tag.
    const badSig = ac.auth.signature.slice();
    badSig[0]! ^= 1;
    const forged = protectPublicMessage(e.pub, { ...ac, auth: { signature: badSig } });
    expect(await codeOf(unprotectPublicMessage(e.pub, forged, lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
    // Signed by someone else's key.
    const stranger = await cs.signatureGenerateKeyPair();
    const other = await signFramedContent(cs, stranger.privateKey, WireFormat.publicMessage, removeProposal(e.ctx, member), e.ctx.groupContext);
    expect(await codeOf(unprotectPublicMessage(e.pub, protectPublicMessage(e.pub, other), lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
    // Signed for the private wire format, sent as public: the TBS differs.
    const wrongWf = await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.privateMessage, removeProposal(e.ctx, member), e.ctx.groupContext);
    expect(await codeOf(unprotectPublicMessage(e.pub, protectPublicMessage(e.pub, { ...wrongWf, wireFormat: WireFormat.publicMessage }), lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
    // Signed over another GroupContext.
    const otherCtx = syntheticEpoch(cs, 7n);
    const otherGc = createFramingContext(cs, { ...decode(groupContextCodec, otherCtx.ctx.groupContext), treeHash: new Uint8Array(cs.params.nh) });
    const wrongCtx = await signFramedContent(cs, (await signer(1)).privateKey, WireFormat.publicMessage, removeProposal(e.ctx, member), otherGc.groupContext);
    expect(await verifyFramedContentSignature(cs, (await signer(1)).publicKey, wrongCtx, e.ctx.groupContext)).toBe(false);
    expect(await codeOf(unprotectPublicMessage(e.pub, protectPublicMessage(e.pub, wrongCtx), lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
  });

  it("a PrivateMessage with a bad signature is MESSAGE_INVALID_SIGNATURE; an unknown sender is MESSAGE_INVALID_SENDER", async () => {
    const e = syntheticEpoch(cs);
    const stranger = await cs.signatureGenerateKeyPair();
    await signer(1);
    const ctx = e.priv();
    const ac = await signFramedContent(cs, stranger.privateKey, WireFormat.privateMessage, app(ctx, 1, data), ctx.groupContext);
    expect(await codeOf(unprotectPrivateMessage(e.priv(), await protectPrivateMessage(ctx, ac), lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
    // Leaf 3 has no key in the lookup (a blank leaf): rejected before its ratchet key is touched.
    const ac3 = await signFramedContent(cs, stranger.privateKey, WireFormat.privateMessage, app(ctx, 3, data), ctx.groupContext);
    const sealed3 = await protectPrivateMessage(ctx, ac3);
    const receiver = e.priv();
    expect(await codeOf(unprotectPrivateMessage(receiver, sealed3, () => undefined))).toBe("MESSAGE_INVALID_SENDER");
    expect(await codeOf(unprotectPrivateMessage(receiver, sealed3, () => stranger.publicKey))).toBe(undefined);
    // A sender leaf beyond the tree: the receiver's tree has 2 leaves.
    expect(await codeOf(unprotectPrivateMessage(e.priv(2), sealed3, () => stranger.publicKey))).toBe("MESSAGE_INVALID_SENDER");
    // Only members send PrivateMessages.
    const ext = await signFramedContent(cs, stranger.privateKey, WireFormat.privateMessage, removeProposal(e.ctx, { senderType: SenderType.external, senderIndex: 0 }), undefined);
    expect(await codeOf(protectPrivateMessage(ctx, ext))).toBe("MESSAGE_INVALID_SENDER");
  });

  it("sent bytes, received plaintexts and keys are carved from separate shared buffers; a rejected plaintext is wiped", async () => {
    const e = syntheticEpoch(cs);
    const sender = e.priv();
    const receiver = e.priv();
    const contains = (hay: Uint8Array, needle: Uint8Array) => toHex(hay).includes(toHex(needle));
    const dataOf = (r: UnprotectedPrivateMessage) => (r.content.contentType === ContentType.application ? r.content.applicationData : new Uint8Array(0));
    // Two messages sent and received in a row, each pair from one buffer (not across the end of one).
    let sent: Uint8Array[] = [];
    let received: UnprotectedPrivateMessage[] = [];
    for (let i = 0; i < 40 && (sent.length === 0 || sent[1]!.buffer !== sent[0]!.buffer || dataOf(received[1]!).buffer !== dataOf(received[0]!).buffer); i++) {
      sent = [await sealApp(sender, 1), await sealApp(sender, 1)];
      received = [await unprotectPrivateMessage(receiver, sent[0]!, lookup), await unprotectPrivateMessage(receiver, sent[1]!, lookup)];
    }
    const views = received.map(dataOf);
    expect(views.map(toHex)).toEqual([toHex(data), toHex(data)]);
    expect(sent[1]!.buffer).toBe(sent[0]!.buffer);
    expect(views[1]!.buffer).toBe(views[0]!.buffer);
    expect(views[0]!.buffer).not.toBe(sent[0]!.buffer);
    // The buffer behind the bytes sent holds no plaintext and no key (all are public bytes).
    const sentSlab = new Uint8Array(sent[0]!.buffer);
    const reference = e.priv().secretTree;
    const k0 = reference.keyForGeneration(leafIndex(1), "application", received[0]!.generation);
    const k1 = reference.keyForGeneration(leafIndex(1), "application", received[1]!.generation);
    for (const secret of [data.subarray(0, 64), k0.key, k0.nonce, k1.key, k1.nonce]) expect(contains(sentSlab, secret)).toBe(false);
    expect(contains(new Uint8Array(views[0]!.buffer), k1.key)).toBe(false);
    // A buffer given away to another thread is cloned, not moved: the slab stays (node provider: untransferable).
    const moved = structuredClone(sent[0]!, { transfer: [sent[0]!.buffer as ArrayBuffer] });
    expect(toHex(moved)).toBe(toHex(sent[0]!));
    expect(sent[0]!.length).toBeGreaterThan(0);

    // Make room, so that the next plaintexts are carved one after the other from the same buffer.
    let before = received[1]!;
    while (before.auth.signature.byteOffset > 8192 || before.auth.signature.byteOffset === 0) before = await unprotectPrivateMessage(receiver, await sealApp(sender, 1), lookup);
    // A member's message signed by a stranger: it decrypts, then its signature fails.
    const stranger = await cs.signatureGenerateKeyPair();
    const marked = new Uint8Array(600).fill(0xab);
    const forged = await protectPrivateMessage(sender, await signFramedContent(cs, stranger.privateKey, WireFormat.privateMessage, app(sender, 1, marked), sender.groupContext));
    expect(await codeOf(unprotectPrivateMessage(receiver, forged, lookup))).toBe("MESSAGE_INVALID_SIGNATURE");
    const after = await unprotectPrivateMessage(receiver, await sealApp(sender, 1), lookup);
    const afterData = dataOf(after);
    expect(afterData.buffer).toBe(before.auth.signature.buffer);
    // Between the last valid plaintext and the next one lay the forged one's: zero now.
    const gap = new Uint8Array(
      afterData.buffer,
      before.auth.signature.byteOffset + before.auth.signature.length,
      afterData.byteOffset - 2 - (before.auth.signature.byteOffset + before.auth.signature.length),
    );
    expect(gap.length).toBeGreaterThan(marked.length);
    expect(gap.every((b) => b === 0)).toBe(true);
  });

  it("never carries application data in a PublicMessage (RFC 9420 §6)", async () => {
    const e = syntheticEpoch(cs);
    const kp = await signer(1);
    const ac = await signFramedContent(cs, kp.privateKey, WireFormat.publicMessage, app(e.ctx, 1, data), e.ctx.groupContext);
    expect(await codeOf(() => protectPublicMessage(e.pub, ac))).toBe("MESSAGE_INVALID_CONTENT");
    // Hand-built, correctly tagged and signed: still refused on receipt.
    const tag = cs.mac(e.pub.membershipKey!, new Uint8Array([1]));
    const bytes = encode(mlsMessageCodec, { wireFormat: WireFormat.publicMessage, publicMessage: { content: ac.content, auth: ac.auth, membershipTag: tag } });
    expect(await codeOf(unprotectPublicMessage(e.pub, bytes, lookup))).toBe("MESSAGE_INVALID_CONTENT");
  });

  it("external and new-member senders: no membership tag, content restricted by sender type, key from the message for new members", async () => {
    const e = syntheticEpoch(cs);
    const ext = await cs.signatureGenerateKeyPair();
    const extLookup: SignatureKeyLookup = (s) => (s.senderType === SenderType.external && s.senderIndex === 0 ? ext.publicKey : undefined);
    const external = { senderType: SenderType.external, senderIndex: 0 } as const;
    // External senders do not sign the GroupContext, so they need none.
    const ac = await signFramedContent(cs, ext.privateKey, WireFormat.publicMessage, removeProposal(e.ctx, external), undefined);
    const bytes = protectPublicMessage({ ...e.ctx }, ac);
    expect(decodePublicMessage(bytes).message.membershipTag).toBeUndefined();
    expect((await unprotectPublicMessage({ ...e.ctx }, bytes, extLookup)).content.sender).toEqual(external);
    expect(await codeOf(unprotectPublicMessage(e.ctx, bytes, () => undefined))).toBe("MESSAGE_INVALID_SENDER");
    // An external sender may not send an Update (§17.4) nor a commit.
    const update = await signFramedContent(cs, ext.privateKey, WireFormat.publicMessage, removeProposal(e.ctx, external), undefined);
    const asCommit = { ...update.content, contentType: ContentType.commit, commit: { proposals: [] } } as FramedContent;
    expect(await codeOf(signFramedContent(cs, ext.privateKey, WireFormat.publicMessage, asCommit, undefined))).toBe("MESSAGE_INVALID_SENDER");
    const forgedBytes = encode(mlsMessageCodec, {
      wireFormat: WireFormat.publicMessage,
      publicMessage: { content: asCommit, auth: { signature: update.auth.signature, confirmationTag: new Uint8Array(32) } },
    });
    expect(await codeOf(unprotectPublicMessage(e.ctx, forgedBytes, extLookup))).toBe("MESSAGE_INVALID_SENDER");
    // A member sender needs the membership key.
    const m = await signFramedContent(
      cs,
      (await signer(1)).privateKey,
      WireFormat.publicMessage,
      removeProposal(e.ctx, { senderType: SenderType.member, leafIndex: leafIndex(1) }),
      e.ctx.groupContext,
    );
    expect(await codeOf(() => protectPublicMessage(e.ctx, m))).toBe("INVALID_ARGUMENT");
    // new_member_proposal: an Add, verified with the key in the Add's KeyPackage.
    if (haveVectors) {
      const w = loadVectors<{ cipher_suite: number; key_package: string }[]>("welcome").find((x) => x.cipher_suite === suiteId)!;
      const kpMsg = decode(mlsMessageCodec, hex(w.key_package));
      if (kpMsg.wireFormat !== WireFormat.keyPackage) throw new Error("unreachable");
      const joiner = await cs.signatureGenerateKeyPair();
      const keyPackage = { ...kpMsg.keyPackage, leafNode: { ...kpMsg.keyPackage.leafNode, signatureKey: joiner.publicKey } };
      const add: FramedContent = {
        groupId: e.ctx.groupId,
        epoch: e.ctx.epoch,
        sender: { senderType: SenderType.newMemberProposal },
        authenticatedData: new Uint8Array(0),
        contentType: ContentType.proposal,
        proposal: { proposalType: ProposalType.add, keyPackage },
      };
      const signed = await signFramedContent(cs, joiner.privateKey, WireFormat.publicMessage, add, undefined);
      const got = await unprotectPublicMessage(e.ctx, protectPublicMessage(e.ctx, signed), () => undefined);
      expect(got.content.contentType === ContentType.proposal && got.content.proposal.proposalType).toBe(ProposalType.add);
      expect(toHex(encode(keyPackageCodec, keyPackage))).toBe(toHex(encode(keyPackageCodec, (got.content as { proposal: { keyPackage: typeof keyPackage } }).proposal.keyPackage)));
      const byStranger = await signFramedContent(cs, ext.privateKey, WireFormat.publicMessage, add, undefined);
      expect(await codeOf(unprotectPublicMessage(e.ctx, protectPublicMessage(e.ctx, byStranger), () => joiner.publicKey))).toBe("MESSAGE_INVALID_SIGNATURE");
      // A new_member_proposal that is not an Add.
      expect(await codeOf(signFramedContent(cs, joiner.privateKey, WireFormat.publicMessage, removeProposal(e.ctx, { senderType: SenderType.newMemberProposal }), undefined))).toBe(
        "MESSAGE_INVALID_SENDER",
      );
    }
  });

  it("commits: the confirmation tag rides in auth; withConfirmationTag keeps the signed bytes", async () => {
    const e = syntheticEpoch(cs);
    const kp = await signer(0);
    const commit: FramedContent = {
      groupId: e.ctx.groupId,
      epoch: e.ctx.epoch,
      sender: { senderType: SenderType.member, leafIndex: leafIndex(0) },
      authenticatedData: new Uint8Array(0),
      contentType: ContentType.commit,
      commit: { proposals: [] },
    };
    const signed = await signFramedContent(cs, kp.privateKey, WireFormat.privateMessage, commit, e.ctx.groupContext);
    // Without the tag a commit cannot be framed.
    expect(await codeOf(protectPrivateMessage(e.priv(), signed))).toBe("ENCODE_INVALID");
    const tag = new Uint8Array(cs.params.nh).fill(0x77);
    const full = withConfirmationTag(signed, tag);
    expect(bytesEqual(full.contentBytes, signed.contentBytes)).toBe(true);
    const got = await unprotectPrivateMessage(e.priv(), await protectPrivateMessage(e.priv(), full, { padding: { kind: "padToMultiple", multiple: 32 } }), lookup);
    expect(toHex(got.auth.confirmationTag!)).toBe(toHex(tag));
    expect(toHex(confirmedTranscriptHashInputOf(got))).toBe(toHex(confirmedTranscriptHashInputBytes(got)));
    const proposal = await signFramedContent(
      cs,
      kp.privateKey,
      WireFormat.privateMessage,
      removeProposal(e.ctx, { senderType: SenderType.member, leafIndex: leafIndex(0) }),
      e.ctx.groupContext,
    );
    expect(await codeOf(() => withConfirmationTag(proposal, tag))).toBe("INVALID_ARGUMENT");
  });

  it("protect refuses content signed for the other wire format", async () => {
    const e = syntheticEpoch(cs);
    const kp = await signer(1);
    const pubSigned = await signFramedContent(
      cs,
      kp.privateKey,
      WireFormat.publicMessage,
      removeProposal(e.ctx, { senderType: SenderType.member, leafIndex: leafIndex(1) }),
      e.ctx.groupContext,
    );
    expect(await codeOf(protectPrivateMessage(e.priv(), pubSigned))).toBe("INVALID_ARGUMENT");
    const privSigned = await signFramedContent(
      cs,
      kp.privateKey,
      WireFormat.privateMessage,
      removeProposal(e.ctx, { senderType: SenderType.member, leafIndex: leafIndex(1) }),
      e.ctx.groupContext,
    );
    expect(await codeOf(() => protectPublicMessage(e.pub, privSigned))).toBe("INVALID_ARGUMENT");
    // Wrong decoder for the wire format, and garbage.
    const sealed = await protectPrivateMessage(e.priv(), privSigned);
    expect(await codeOf(unprotectPublicMessage(e.pub, sealed, lookup))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(unprotectPrivateMessage(e.priv(), protectPublicMessage(e.pub, pubSigned), lookup))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(unprotectPrivateMessage(e.priv(), sealed.subarray(0, sealed.length - 1), lookup))).toMatch(/^DECODE_/);
    expect(await codeOf(unprotectPublicMessage(e.pub, new Uint8Array([0, 1, 0, 1, 0xff]), lookup))).toMatch(/^DECODE_/);
  });
});
