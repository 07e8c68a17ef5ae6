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
 *
 * This file is the sending side and what both sides share; the receiving
 * side is privateMessageOpen.ts.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { returnScratch, Writer } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ContentType, contentTypeCodec, ProtocolVersion, SenderType, WireFormat, type ContentType as ContentTypeValue } from "../messages/enums.js";
import { framedContentAuthDataCodec, type FramedContent } from "../messages/framing.js";
import type { RatchetKey, RatchetType, SecretTree } from "../schedule/secretTree.js";
import { senderDataKeyAndNonce } from "../schedule/senderData.js";
import { leafIndex, type LeafIndex } from "../tree/treeMath.js";
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
 * Scratch for the SenderData sealed, which lives within one synchronous run
 * (with a synchronous AEAD) and is zeroed before it ends. Off the JS heap from
 * the start, so native code reads it without V8 moving it there first.
 */
const senderDataScratch = new Uint8Array(new ArrayBuffer(SENDER_DATA_LENGTH));
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
export function encodeContentAad(groupId: Uint8Array, epoch: bigint, contentType: ContentTypeValue, authenticatedData: Uint8Array): { aad: Uint8Array; senderDataAadLength: number } {
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
