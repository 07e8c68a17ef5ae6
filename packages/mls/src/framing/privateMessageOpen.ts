/**
 * PrivateMessage unprotection (RFC 9420 §6.3): the SenderData opened under a
 * key derived from the ciphertext, the content under the sender's ratchet key
 * at the stated generation (§9), then its signature checked over the
 * FramedContent rebuilt around the decrypted body (privateMessage.ts has the
 * sending side, and the layout reuse both sides rely on).
 */
import { ByteSlab } from "../codec/byteSlab.js";
import { zeroize } from "../codec/bytes.js";
import { asDecodeError, decode, encode, Reader, returnScratch, type Writer } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ContentType, contentTypeCodec, SenderType, WireFormat, type ContentType as ContentTypeValue } from "../messages/enums.js";
import { framedContentAuthDataCodec, framedContentCodec, readContentBody, type FramedContent, type FramedContentAuthData, type FramedContentBody, type Sender } from "../messages/framing.js";
import { senderDataCodec, type PrivateMessage, type SenderData } from "../messages/privateMessage.js";
import { readMlsMessageHead } from "../messages/mlsMessage.js";
import type { RatchetKey, RatchetType, SecretTree } from "../schedule/secretTree.js";
import { senderDataKeyAndNonce } from "../schedule/senderData.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { framedContentSignContent, type SignatureKeyLookup } from "./contentAuth.js";
import type { EncodedAuthenticatedContent } from "./context.js";
import { AEAD_TAG_LENGTH, SENDER_DATA_LENGTH } from "./privateMessageLayout.js";
import { applyReuseGuard, checkGroupAndEpoch, encodeContentAad, openAead, ratchetFor, type PrivateMessageContext } from "./privateMessage.js";

/** What a receiver learns from a PrivateMessage: the verified content, who sent it and with which ratchet generation. */
export interface UnprotectedPrivateMessage extends EncodedAuthenticatedContent {
  readonly senderLeaf: LeafIndex;
  readonly generation: number;
}

/**
 * Scratch for values that live within one synchronous run (with a
 * synchronous AEAD) and are zeroed before it ends: the SenderData opened and
 * the content nonce. Off the JS heap from the start, so native code reads
 * them without V8 moving them there first.
 */
const senderDataScratch = new Uint8Array(new ArrayBuffer(SENDER_DATA_LENGTH));
const nonceScratch = new Uint8Array(new ArrayBuffer(12));
/**
 * Decrypted PrivateMessageContent, carved from shared buffers (codec/byteSlab.ts):
 * what a receiver gets, application data, is a view of it. Only plaintexts share them.
 */
const plaintextSlab = new ByteSlab(16384, 4096);

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
    const wf = readMlsMessageHead(r);
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
  const plaintext =
    openNow !== undefined && m.ciphertext.length >= AEAD_TAG_LENGTH
      ? tree.openWith(leaf, type, generation, (k) => openContentNow(openNow, k, senderData.reuseGuard, m))
      : await openContent(suite, tree, leaf, type, generation, senderData.reuseGuard, m);

  // Application content is not kept as bytes: its SignContent is lent scratch, given back once verified.
  const lend = m.contentType === ContentType.application;
  let read: ReturnType<typeof readPrivateMessageContent>;
  let valid = false;
  try {
    read = readPrivateMessageContent(m, sender, plaintext, ctx.groupContext, lend);
    try {
      // §6.1 VerifyWithLabel, awaited here rather than through another async function: one promise hop fewer per message.
      valid = await suite.verify(key, read.signContent, read.auth.signature);
    } finally {
      if (lend) returnScratch(read.signContent);
    }
  } finally {
    // A plaintext rejected is wiped: it may share its buffer with plaintexts handed out.
    if (!valid) zeroize(plaintext);
  }
  if (!valid) throw new MlsError("MESSAGE_INVALID_SIGNATURE", "FramedContent signature does not verify");
  const { contentBytes, content, auth } = read;
  return lend ? new ReceivedApplicationContent(content, auth, leaf, generation) : { wireFormat: WireFormat.privateMessage, content, contentBytes, auth, senderLeaf: leaf, generation };
}

/**
 * §6.3.1: the content opened with a synchronous AEAD, into the plaintext
 * slab (zeroed there if authentication fails); the nonce is used and wiped
 * in scratch. The secret tree consumes the key if this returns.
 */
function openContentNow(openNow: OpenNow, k: RatchetKey, reuseGuard: Uint8Array, m: ParsedPrivateMessage): Uint8Array {
  const nonce = k.nonce.length === nonceScratch.length ? nonceScratch : new Uint8Array(k.nonce.length);
  nonce.set(k.nonce);
  applyReuseGuard(nonce, reuseGuard);
  try {
    return openNow(k.key, nonce, m.aad, m.ciphertext, plaintextSlab.take(m.ciphertext.length - AEAD_TAG_LENGTH));
  } finally {
    zeroize(nonce);
  }
}

/**
 * §6.3.1: the content opened with an asynchronous AEAD. The key is held
 * while it runs and consumed once it opens (§9.2); a concurrent decryption
 * of the same generation loses here.
 */
async function openContent(
  suite: CipherSuite,
  tree: SecretTree,
  leaf: LeafIndex,
  type: RatchetType,
  generation: number,
  reuseGuard: Uint8Array,
  m: ParsedPrivateMessage,
): Promise<Uint8Array> {
  const k = tree.keyForGeneration(leaf, type, generation, false);
  const nonce = k.nonce.slice();
  applyReuseGuard(nonce, reuseGuard);
  let plaintext: Uint8Array;
  try {
    plaintext = await openAead(suite, k.key, nonce, m.aad, m.ciphertext);
  } catch (e) {
    tree.releaseKey(leaf, type, generation);
    throw e;
  } finally {
    zeroize(nonce);
  }
  if (!tree.consumeKey(leaf, type, generation)) {
    zeroize(plaintext);
    throw new MlsError("SECRET_TREE_GENERATION_CONSUMED", `${type} key ${generation} of leaf ${leaf} was already used`);
  }
  return plaintext;
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
