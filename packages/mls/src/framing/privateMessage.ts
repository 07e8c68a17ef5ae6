/**
 * PrivateMessage protection (RFC 9420 §6.3): signed content encrypted with
 * the sender's ratchet key from the secret tree (§9), and the sender's
 * position (SenderData) encrypted under a key derived from the ciphertext.
 *
 * Layout reuse, so nothing is encoded twice:
 * - PrivateContentAAD (§6.3.1) is byte for byte the head of PrivateMessage
 *   (group_id, epoch, content_type, authenticated_data), and SenderDataAAD
 *   (§6.3.2) is its first three fields: one buffer serves all three.
 * - PrivateMessageContent starts with the same body bytes as FramedContent, so
 *   the sender copies them from the signed content and the receiver rebuilds
 *   FramedContent by prefixing the plaintext's body with the header.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { asDecodeError, decode, encode, Reader, returnScratch, Writer } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ContentType, contentTypeCodec, ProtocolVersion, SenderType, WireFormat, type ContentType as ContentTypeValue } from "../messages/enums.js";
import { framedContentAuthDataCodec, framedContentCodec, readContentBody, type FramedContent, type FramedContentAuthData, type FramedContentBody, type Sender } from "../messages/framing.js";
import { senderDataCodec, type PrivateMessage, type SenderData } from "../messages/privateMessage.js";
import type { RatchetKey, RatchetType, SecretTree } from "../schedule/secretTree.js";
import { senderDataKeyAndNonce } from "../schedule/senderData.js";
import { leafIndex, type LeafIndex } from "../tree/treeMath.js";
import { framedContentSignContent, type SignatureKeyLookup } from "./contentAuth.js";
import { framedContentBodyOffset, type EncodedAuthenticatedContent, type FramingContext } from "./context.js";
import { AEAD_TAG_LENGTH, layoutPrivateMessage, SENDER_DATA_LENGTH, type PrivateMessageLayout } from "./privateMessageLayout.js";

/** The epoch's FramingContext plus the secrets a PrivateMessage is keyed by (§6.3, §9). */
export interface PrivateMessageContext extends FramingContext {
  readonly senderDataSecret: Uint8Array;
  readonly secretTree: SecretTree;
}

/**
 * How many zero bytes to append to PrivateMessageContent (§6.3.1), to hide
 * the content's exact length: none, or up to the next multiple of `multiple`
 * bytes of plaintext.
 */
export type PaddingPolicy = { readonly kind: "none" } | { readonly kind: "padToMultiple"; readonly multiple: number };

export const NO_PADDING: PaddingPolicy = { kind: "none" };

export interface ProtectPrivateOptions {
  /** Default: no padding. */
  readonly padding?: PaddingPolicy;
  /**
   * The ratchet key to use, taken earlier with {@link reservePrivateMessageKey}
   * (default: the next one now). It is zeroized once used.
   */
  readonly key?: RatchetKey;
}

/**
 * Takes the sender's next ratchet key (§6.3.1) before the content is signed:
 * messages signed concurrently, whose signatures finish in any order, then
 * keep the generation order they were started in, the order a receiver's
 * out-of-order window expects.
 */
export function reservePrivateMessageKey(ctx: PrivateMessageContext, leaf: LeafIndex, contentType: ContentTypeValue): RatchetKey {
  return ctx.secretTree.nextKey(leaf, ratchetFor(contentType));
}

/** What a receiver learns from a PrivateMessage: the verified content, who sent it and with which ratchet generation. */
export interface UnprotectedPrivateMessage extends EncodedAuthenticatedContent {
  readonly senderLeaf: LeafIndex;
  readonly generation: number;
}

/**
 * The AEAD computed in this synchronous run where the provider can
 * (CryptoPrimitives.aeadSealNow/aeadOpenNow), a promise otherwise. Callers
 * await only a promise: of many messages processed together, each then gets
 * to its signature in one run, and the signature worker starts on the first.
 */
function seal(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array | Promise<Uint8Array> {
  return suite.aeadSealNow !== undefined ? suite.aeadSealNow(key, nonce, aad, plaintext) : suite.aeadSeal(key, nonce, aad, plaintext);
}

export function openAead(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | Promise<Uint8Array> {
  return suite.aeadOpenNow !== undefined ? suite.aeadOpenNow(key, nonce, aad, ciphertext) : suite.aeadOpen(key, nonce, aad, ciphertext);
}

const REUSE_GUARD_LENGTH = 4;

/**
 * Scratch for values that live within one synchronous run (with a
 * synchronous AEAD) and are zeroed before it ends: the SenderData sealed or
 * opened, and the receiver's content nonce. Off the JS heap from the start, so
 * native code reads them without V8 moving them there first.
 */
const senderDataScratch = new Uint8Array(new ArrayBuffer(SENDER_DATA_LENGTH));
const nonceScratch = new Uint8Array(new ArrayBuffer(12));
/** A 1 MiB block is already far beyond any sensible padding scheme. */
const MAX_PADDING_MULTIPLE = 1 << 20;

function paddingLength(policy: PaddingPolicy, unpadded: number): number {
  if (policy.kind === "none") return 0;
  const m = policy.multiple;
  if (!Number.isInteger(m) || m < 1 || m > MAX_PADDING_MULTIPLE) throw new MlsError("INVALID_ARGUMENT", `invalid padding multiple ${m}`);
  return (m - (unpadded % m)) % m;
}

/** §6.3.1: handshake messages use the handshake ratchet, application messages the application ratchet. */
export function ratchetFor(contentType: ContentTypeValue): RatchetType {
  return contentType === ContentType.application ? "application" : "handshake";
}

/** §6.3.1: the nonce actually used is the ratchet nonce with the reuse guard XORed into its first four bytes (in place). */
export function applyReuseGuard(nonce: Uint8Array, guard: Uint8Array): void {
  for (let i = 0; i < REUSE_GUARD_LENGTH; i++) nonce[i] = nonce[i]! ^ guard[i]!;
}

/** PrivateContentAAD, and the length of its SenderDataAAD prefix. */
function encodeContentAad(groupId: Uint8Array, epoch: bigint, contentType: ContentTypeValue, authenticatedData: Uint8Array): { aad: Uint8Array; senderDataAadLength: number } {
  const w = new Writer(groupId.length + authenticatedData.length + 24);
  w.opaque(groupId);
  w.u64(epoch);
  contentTypeCodec.encode(w, contentType);
  const senderDataAadLength = w.length;
  w.opaque(authenticatedData);
  return { aad: w.finish(), senderDataAadLength };
}

export function checkGroupAndEpoch(ctx: FramingContext, groupId: Uint8Array, epoch: bigint): void {
  if (!bytesEqual(groupId, ctx.groupId)) throw new MlsError("MESSAGE_WRONG_GROUP", "message is for another group");
  if (epoch !== ctx.epoch) throw new MlsError("MESSAGE_WRONG_EPOCH", `message is for epoch ${epoch}, not ${ctx.epoch}`);
}

/**
 * §6.3: encrypts signed content (from `signFramedContent` with wire format
 * private_message and a member sender) into an encoded
 * MLSMessage(PrivateMessage). Takes the next generation of the sender's
 * ratchet; the key and nonce are zeroized once used.
 */
export function protectPrivateMessage(ctx: PrivateMessageContext, ac: EncodedAuthenticatedContent, options: ProtectPrivateOptions = {}): Promise<Uint8Array> {
  try {
    const out = protectPrivateMessageNow(ctx, ac, options);
    return out instanceof Uint8Array ? Promise.resolve(out) : out;
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * {@link protectPrivateMessage}, computed in this synchronous run where the
 * provider's AEAD is synchronous (a promise otherwise): a message sent alone
 * then takes no promise hop between its signature and its bytes. Throws
 * (rather than rejects) what protectPrivateMessage rejects with.
 */
export function protectPrivateMessageNow(ctx: PrivateMessageContext, ac: EncodedAuthenticatedContent, options: ProtectPrivateOptions = {}): Uint8Array | Promise<Uint8Array> {
  const { content } = ac;
  if (ac.wireFormat !== WireFormat.privateMessage) throw new MlsError("INVALID_ARGUMENT", "content was signed for another wire format");
  // §6.3.2: only a member has a SenderData.
  if (content.sender.senderType !== SenderType.member) throw new MlsError("MESSAGE_INVALID_SENDER", "only members send PrivateMessages");
  checkGroupAndEpoch(ctx, content.groupId, content.epoch);
  const suite = ctx.suite;
  const leaf = leafIndex(content.sender.leafIndex);

  // PrivateMessageContent = body || FramedContentAuthData || zero padding (§6.3.1)
  const body = ac.contentBytes.subarray(framedContentBodyOffset(ac.contentBytes));
  const pw = new Writer(body.length + ac.auth.signature.length + 80);
  pw.raw(body);
  framedContentAuthDataCodec(content.contentType).encode(pw, ac.auth);
  const padding = paddingLength(options.padding ?? NO_PADDING, pw.length);
  if (padding > 0) pw.raw(new Uint8Array(padding));
  // Lent scratch: the plaintext lives only until sealed, and is zeroed then.
  const plaintext = pw.lend();

  const reuseGuard = suite.randomBytes(REUSE_GUARD_LENGTH);
  const k = options.key ?? reservePrivateMessageKey(ctx, leaf, content.contentType);
  if (suite.aeadSealNow !== undefined) return sealInPlace(ctx, suite.aeadSealNow, content, leaf, k, plaintext, reuseGuard);
  let head: { aad: Uint8Array; senderDataAadLength: number };
  try {
    head = encodeContentAad(content.groupId, content.epoch, content.contentType, content.authenticatedData);
  } catch (e) {
    zeroize(k.key);
    zeroize(k.nonce);
    returnScratch(plaintext);
    throw e;
  }
  const sealed = sealThenWipe(suite, k.key, k.nonce, head.aad, plaintext, reuseGuard);
  const generation = k.generation;
  return sealed instanceof Uint8Array
    ? sealSenderData(ctx, head, leaf, generation, reuseGuard, sealed)
    : sealed.then((ciphertext) => sealSenderData(ctx, head, leaf, generation, reuseGuard, ciphertext));
}

type SealNow = NonNullable<CipherSuite["aeadSealNow"]>;

/**
 * §6.3 with a synchronous AEAD that seals into a given array: the
 * MLSMessage is allocated once, its AADs are views of its head, and the
 * content and then the SenderData are sealed into their places. The ratchet
 * key and nonce, the lent plaintext and the sender-data key and nonce are
 * wiped whether sealing succeeds or throws.
 */
function sealInPlace(ctx: PrivateMessageContext, seal: SealNow, content: FramedContent, leaf: LeafIndex, k: RatchetKey, plaintext: Uint8Array, reuseGuard: Uint8Array): Uint8Array {
  let m: PrivateMessageLayout;
  try {
    m = layoutPrivateMessage(content.groupId, content.epoch, content.contentType, content.authenticatedData, plaintext.length + AEAD_TAG_LENGTH);
    applyReuseGuard(k.nonce, reuseGuard);
    seal(k.key, k.nonce, m.bytes.subarray(4, m.contentAadEnd), plaintext, m.bytes.subarray(m.ciphertextAt));
  } finally {
    zeroize(k.key);
    zeroize(k.nonce);
    returnScratch(plaintext);
  }
  // §6.3.2: SenderData = uint32 leaf_index, uint32 generation, opaque reuse_guard[4], in scratch for this run.
  const senderData = senderDataScratch;
  writeU32(senderData, 0, leaf);
  writeU32(senderData, 4, k.generation);
  senderData.set(reuseGuard, 8);
  const sd = senderDataKeyAndNonce(ctx.suite, ctx.senderDataSecret, m.bytes.subarray(m.ciphertextAt));
  try {
    seal(sd.key, sd.nonce, m.bytes.subarray(4, m.senderDataAadEnd), senderData, m.bytes.subarray(m.encryptedSenderDataAt, m.encryptedSenderDataAt + SENDER_DATA_LENGTH + AEAD_TAG_LENGTH));
  } finally {
    zeroize(sd.key);
    zeroize(sd.nonce);
    senderData.fill(0);
  }
  return m.bytes;
}

/**
 * Seals with the ratchet key and nonce (the reuse guard XORed in), then
 * zeroizes both and gives the lent plaintext back, whether sealing succeeds,
 * throws or rejects.
 */
function sealThenWipe(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, reuseGuard: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const wipe = (): void => {
    zeroize(key);
    zeroize(nonce);
    returnScratch(plaintext);
  };
  let sealed: Uint8Array | Promise<Uint8Array>;
  try {
    applyReuseGuard(nonce, reuseGuard);
    sealed = seal(suite, key, nonce, aad, plaintext);
  } catch (e) {
    wipe();
    throw e;
  }
  if (sealed instanceof Uint8Array) {
    wipe();
    return sealed;
  }
  return sealed.finally(wipe);
}

/** §6.3.2: SenderData under a key and nonce from the ciphertext sample, then the whole PrivateMessage. */
function sealSenderData(
  ctx: PrivateMessageContext,
  head: { aad: Uint8Array; senderDataAadLength: number },
  leaf: LeafIndex,
  generation: number,
  reuseGuard: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | Promise<Uint8Array> {
  // SenderData = uint32 leaf_index, uint32 generation, opaque reuse_guard[4]
  const senderData = new Uint8Array(12);
  writeU32(senderData, 0, leaf);
  writeU32(senderData, 4, generation);
  senderData.set(reuseGuard, 8);
  const suite = ctx.suite;
  const sd = senderDataKeyAndNonce(suite, ctx.senderDataSecret, ciphertext);
  const wipe = (): void => {
    zeroize(sd.key);
    zeroize(sd.nonce);
  };
  let sealed: Uint8Array | Promise<Uint8Array>;
  try {
    sealed = seal(suite, sd.key, sd.nonce, head.aad.subarray(0, head.senderDataAadLength), senderData);
  } catch (e) {
    wipe();
    throw e;
  }
  if (sealed instanceof Uint8Array) {
    wipe();
    return encodePrivateMessage(head.aad, sealed, ciphertext);
  }
  return sealed.finally(wipe).then((encryptedSenderData) => encodePrivateMessage(head.aad, encryptedSenderData, ciphertext));
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function encodePrivateMessage(aad: Uint8Array, encryptedSenderData: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const w = new Writer(4 + aad.length + encryptedSenderData.length + ciphertext.length + 8);
  w.u16(ProtocolVersion.mls10);
  w.u16(WireFormat.privateMessage);
  w.raw(aad); // group_id, epoch, content_type, authenticated_data: the PrivateMessage head
  w.opaque(encryptedSenderData);
  w.opaque(ciphertext);
  return w.finish();
}

export interface ParsedPrivateMessage {
  groupId: Uint8Array;
  epoch: bigint;
  contentType: ContentTypeValue;
  authenticatedData: Uint8Array;
  encryptedSenderData: Uint8Array;
  ciphertext: Uint8Array;
  aad: Uint8Array;
  senderDataAadLength: number;
}

/** Decodes an MLSMessage(PrivateMessage), keeping the AAD bytes as they arrived. */
export function parsePrivateMessage(bytes: Uint8Array): ParsedPrivateMessage {
  const r = new Reader(bytes);
  try {
    if (r.u16() !== ProtocolVersion.mls10) throw new MlsError("DECODE_UNKNOWN_VALUE", "unknown protocol version");
    const wf = r.u16();
    if (wf !== WireFormat.privateMessage) throw new MlsError("INVALID_ARGUMENT", `expected a PrivateMessage, got wire format ${wf}`);
    const groupId = r.opaque();
    const epoch = r.u64();
    const contentType = contentTypeCodec.decode(r);
    const senderDataAadLength = r.offset - 4;
    const authenticatedData = r.opaque();
    const aadEnd = r.offset;
    // Views, not copies: both are decrypted now and dropped.
    const encryptedSenderData = r.opaqueView();
    const ciphertext = r.opaqueView();
    r.expectEnd();
    return { groupId, epoch, contentType, authenticatedData, encryptedSenderData, ciphertext, aad: bytes.subarray(4, aadEnd), senderDataAadLength };
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** {@link parsePrivateMessage}, or undefined for bytes it would reject (for a caller that reports that later, in its own order). */
export function tryParsePrivateMessage(bytes: Uint8Array): ParsedPrivateMessage | undefined {
  try {
    return parsePrivateMessage(bytes);
  } catch {
    return undefined;
  }
}

function fromStruct(m: PrivateMessage): ParsedPrivateMessage {
  const { aad, senderDataAadLength } = encodeContentAad(m.groupId, m.epoch, m.contentType, m.authenticatedData);
  return { ...m, aad, senderDataAadLength };
}

/**
 * §6.3: decrypts and verifies a PrivateMessage of this epoch. `message` is
 * the encoded MLSMessage (preferred), the same already parsed
 * ({@link parsePrivateMessage}: its AAD views are used as they are), or a
 * decoded PrivateMessage.
 *
 * Order and errors: group/epoch (MESSAGE_WRONG_GROUP / MESSAGE_WRONG_EPOCH);
 * SenderData decryption (CRYPTO_DECRYPT_FAILED); the sender must be a
 * non-blank leaf (MESSAGE_INVALID_SENDER, §6.3.2); the generation's key
 * (SECRET_TREE_GENERATION_CONSUMED for a replay, SECRET_TREE_TOO_FAR_AHEAD);
 * content decryption (CRYPTO_DECRYPT_FAILED); padding (MESSAGE_INVALID_PADDING);
 * signature (MESSAGE_INVALID_SIGNATURE). The ratchet key is deleted once the
 * content decrypts (§9.2), not before, so a forged message cannot burn it.
 */
export async function unprotectPrivateMessage(
  ctx: PrivateMessageContext,
  message: Uint8Array | PrivateMessage | ParsedPrivateMessage,
  signatureKey: SignatureKeyLookup,
): Promise<UnprotectedPrivateMessage> {
  const m = message instanceof Uint8Array ? parsePrivateMessage(message) : "aad" in message ? message : fromStruct(message);
  checkGroupAndEpoch(ctx, m.groupId, m.epoch);
  const suite = ctx.suite;

  // §6.3.2: SenderData
  const openNow = suite.aeadOpenNow;
  const sd = senderDataKeyAndNonce(suite, ctx.senderDataSecret, m.ciphertext);
  const sdAad = m.aad.subarray(0, m.senderDataAadLength);
  let senderData: SenderData;
  if (openNow !== undefined && m.encryptedSenderData.length === SENDER_DATA_LENGTH + AEAD_TAG_LENGTH) {
    try {
      senderData = openSenderDataNow(openNow, sd.key, sd.nonce, sdAad, m.encryptedSenderData);
    } finally {
      zeroize(sd.key);
      zeroize(sd.nonce);
    }
  } else {
    let senderDataBytes: Uint8Array;
    try {
      const opened = openAead(suite, sd.key, sd.nonce, sdAad, m.encryptedSenderData);
      senderDataBytes = opened instanceof Uint8Array ? opened : await opened;
    } finally {
      zeroize(sd.key);
      zeroize(sd.nonce);
    }
    senderData = decode(senderDataCodec, senderDataBytes);
  }
  const tree = ctx.secretTree;
  if (senderData.leafIndex >= tree.leafCount) throw new MlsError("MESSAGE_INVALID_SENDER", `sender leaf ${senderData.leafIndex} is outside the tree`);
  const leaf = senderData.leafIndex as LeafIndex;
  const sender = { senderType: SenderType.member, leafIndex: leaf } as const;
  const key = signatureKey(sender);
  if (key === undefined) throw new MlsError("MESSAGE_INVALID_SENDER", `sender leaf ${leaf} is blank`);

  // §6.3.1: content, keyed by the sender's ratchet at the stated generation.
  const type = ratchetFor(m.contentType);
  const generation = senderData.generation;
  const k = tree.keyForGeneration(leaf, type, generation, false);
  // With a synchronous AEAD the nonce is used and wiped within this run: scratch will do.
  const nonce = openNow !== undefined && k.nonce.length === nonceScratch.length ? nonceScratch : new Uint8Array(k.nonce.length);
  nonce.set(k.nonce);
  applyReuseGuard(nonce, senderData.reuseGuard);
  let plaintext: Uint8Array;
  try {
    const opened = openAead(suite, k.key, nonce, m.aad, m.ciphertext);
    plaintext = opened instanceof Uint8Array ? opened : await opened;
  } catch (e) {
    tree.releaseKey(leaf, type, generation);
    throw e;
  } finally {
    zeroize(nonce);
  }
  // §9.2: consumed by the successful decryption. A concurrent decryption of the same generation loses here.
  if (!tree.consumeKey(leaf, type, generation)) {
    throw new MlsError("SECRET_TREE_GENERATION_CONSUMED", `${type} key ${generation} of leaf ${leaf} was already used`);
  }

  // Application content is not kept as bytes: its SignContent is lent scratch, given back once verified.
  const lend = m.contentType === ContentType.application;
  const { signContent, contentBytes, content, auth } = readPrivateMessageContent(m, sender, plaintext, ctx.groupContext, lend);
  let valid: boolean;
  try {
    // §6.1 VerifyWithLabel, awaited here rather than through another async function: one promise hop fewer per message.
    valid = await suite.verify(key, signContent, auth.signature);
  } finally {
    if (lend) returnScratch(signContent);
  }
  if (!valid) throw new MlsError("MESSAGE_INVALID_SIGNATURE", "FramedContent signature does not verify");
  return lend ? new ReceivedApplicationContent(content, auth, leaf, generation) : { wireFormat: WireFormat.privateMessage, content, contentBytes, auth, senderLeaf: leaf, generation };
}

/** §6.3.2: SenderData opened into scratch and read at once (the scratch zeroed, whether it opens or not). */
function openSenderDataNow(openNow: OpenNow, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, encrypted: Uint8Array): SenderData {
  const s = senderDataScratch;
  try {
    openNow(key, nonce, aad, encrypted, s);
    // SenderData = uint32 leaf_index, uint32 generation, opaque reuse_guard[4]
    const leafIndex = ((s[0]! << 24) | (s[1]! << 16) | (s[2]! << 8) | s[3]!) >>> 0;
    const generation = ((s[4]! << 24) | (s[5]! << 16) | (s[6]! << 8) | s[7]!) >>> 0;
    return { leafIndex: leafIndex as LeafIndex, generation, reuseGuard: s.slice(8, 12) };
  } finally {
    s.fill(0);
  }
}

type OpenNow = NonNullable<CipherSuite["aeadOpenNow"]>;

/** An application message received: its FramedContent's bytes are encoded again only if asked for (nothing in this library asks). */
class ReceivedApplicationContent implements UnprotectedPrivateMessage {
  readonly wireFormat = WireFormat.privateMessage;
  #bytes: Uint8Array | undefined;

  constructor(
    readonly content: FramedContent,
    readonly auth: FramedContentAuthData,
    readonly senderLeaf: LeafIndex,
    readonly generation: number,
  ) {}

  get contentBytes(): Uint8Array {
    // The encoding is canonical: these are the bytes the signature was checked over.
    return (this.#bytes ??= encode(framedContentCodec, this.content));
  }
}

/**
 * Splits the plaintext into body, auth and zero padding (§6.3.1) and rebuilds
 * the FramedContent, encoded inside the SignContent its signature covers
 * (§6.1: a member's FramedContentTBS includes the GroupContext).
 */
export function readPrivateMessageContent(
  m: ParsedPrivateMessage,
  sender: Sender & { leafIndex: number },
  plaintext: Uint8Array,
  groupContext: Uint8Array,
  lend: boolean,
): { signContent: Uint8Array; contentBytes: Uint8Array; content: FramedContent; auth: FramedContentAuthData } {
  const r = new Reader(plaintext);
  let body: FramedContentBody;
  let bodyEnd: number;
  let auth: FramedContentAuthData;
  try {
    if (m.contentType === ContentType.application) {
      // Application data and its signature are handed over as views of the decrypted plaintext (ours alone), not copied again.
      body = { contentType: m.contentType, applicationData: r.opaqueView() };
      bodyEnd = r.offset;
      auth = { signature: r.opaqueView() };
    } else {
      body = readContentBody(r, m.contentType);
      bodyEnd = r.offset;
      auth = framedContentAuthDataCodec(m.contentType).decode(r);
    }
  } catch (e) {
    throw asDecodeError(e);
  }
  let acc = 0;
  for (let i = r.offset; i < plaintext.length; i++) acc |= plaintext[i]!;
  if (acc !== 0) throw new MlsError("MESSAGE_INVALID_PADDING", "PrivateMessageContent padding has a non-zero byte");

  // FramedContent = group_id, epoch, sender, authenticated_data, content_type, body
  const writeContent = (w: Writer): void => {
    w.opaque(m.groupId);
    w.u64(m.epoch);
    w.u8(SenderType.member);
    w.u32(sender.leafIndex);
    w.opaque(m.authenticatedData);
    w.u8(m.contentType);
    w.raw(plaintext.subarray(0, bodyEnd));
  };
  const sizeHint = m.groupId.length + m.authenticatedData.length + bodyEnd + 32;
  const { signContent, contentBytes } = framedContentSignContent(WireFormat.privateMessage, sender, writeContent, groupContext, sizeHint, lend);
  const content: FramedContent = { groupId: m.groupId, epoch: m.epoch, sender, authenticatedData: m.authenticatedData, ...body };
  return { signContent, contentBytes, content, auth };
}
