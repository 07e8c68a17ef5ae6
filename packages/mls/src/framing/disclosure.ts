/**
 * Disclosing one PrivateMessage to a non-member (RFC 9750 §5.3, opaque
 * groups): a member that cannot apply an encrypted commit proves what it
 * carried to the Delivery Service by handing over the keys of that message
 * alone, the SenderData key and nonce (derived from sender_data_secret and
 * this ciphertext's sample, §6.3.2) and the ratchet key and nonce of its one
 * generation (§9.1), plus the epoch's GroupContext its signature covers. None
 * of these derives any other key: the secret tree's secrets and the
 * sender_data_secret stay with the members. The DS opens the stored
 * ciphertext with them (AEAD: only the keys it was sealed with open it) and
 * checks the content's signature against the key of the client that posted it.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { asDecodeError, decode, encode, opaque, struct, type Codec } from "../codec/tls.js";
import type { CipherSuite, CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { SenderType } from "../messages/enums.js";
import type { FramedContent } from "../messages/framing.js";
import { groupContextCodec, type GroupContext } from "../messages/groupContext.js";
import { senderDataCodec, type SenderData } from "../messages/privateMessage.js";
import { senderDataKeyAndNonce } from "../schedule/senderData.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { applyReuseGuard, checkGroupAndEpoch, openAead, ratchetFor, type PrivateMessageContext } from "./privateMessage.js";
import { parsePrivateMessage, readPrivateMessageContent, type ParsedPrivateMessage } from "./privateMessageOpen.js";

/** The key material that opens one PrivateMessage, and nothing else. */
interface MessageDisclosure {
  /** The encoded GroupContext of the message's epoch (what a member's signature covers, §6.1). */
  groupContext: Uint8Array;
  senderDataKey: Uint8Array;
  senderDataNonce: Uint8Array;
  /** The sender's ratchet key and nonce for this generation, before the reuse guard (§6.3.1). */
  contentKey: Uint8Array;
  contentNonce: Uint8Array;
}

const messageDisclosureCodec: Codec<MessageDisclosure> = struct<MessageDisclosure>({
  groupContext: opaque,
  senderDataKey: opaque,
  senderDataNonce: opaque,
  contentKey: opaque,
  contentNonce: opaque,
});

async function opened(p: Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
  return p instanceof Uint8Array ? p : await p;
}

/**
 * Member side: the disclosure of `message` (an MLSMessage(PrivateMessage) of
 * this epoch), checked to open it. The message's ratchet key is left in place,
 * so the member can still process the message afterwards.
 */
export async function disclosePrivateMessage(ctx: PrivateMessageContext, message: Uint8Array): Promise<Uint8Array> {
  const m = parsePrivateMessage(message);
  checkGroupAndEpoch(ctx, m.groupId, m.epoch);
  const suite = ctx.suite;
  const sd = senderDataKeyAndNonce(suite, ctx.senderDataSecret, m.ciphertext);
  try {
    const senderData = decode(senderDataCodec, await opened(openAead(suite, sd.key, sd.nonce, m.aad.subarray(0, m.senderDataAadLength), m.encryptedSenderData)));
    if (senderData.leafIndex >= ctx.secretTree.leafCount) throw new MlsError("MESSAGE_INVALID_SENDER", `sender leaf ${senderData.leafIndex} is outside the tree`);
    const leaf = senderData.leafIndex as LeafIndex;
    const type = ratchetFor(m.contentType);
    const k = ctx.secretTree.keyForGeneration(leaf, type, senderData.generation, false);
    try {
      const disclosure = { groupContext: ctx.groupContext, senderDataKey: sd.key, senderDataNonce: sd.nonce, contentKey: k.key.slice(), contentNonce: k.nonce.slice() };
      // Only a disclosure that opens the message is worth sending (CRYPTO_DECRYPT_FAILED otherwise).
      await openContent(suite, m, disclosure, senderData);
      return encode(messageDisclosureCodec, disclosure);
    } finally {
      // Not consumed: the key stays for processing the message itself (§9.2).
      ctx.secretTree.releaseKey(leaf, type, senderData.generation);
    }
  } finally {
    // The disclosure holds copies; these share a buffer with other messages' keys (codec/byteSlab.ts).
    zeroize(sd.key);
    zeroize(sd.nonce);
  }
}

function openContent(suite: CipherSuite, m: ParsedPrivateMessage, d: MessageDisclosure, senderData: SenderData): Promise<Uint8Array> {
  const nonce = d.contentNonce.slice();
  applyReuseGuard(nonce, senderData.reuseGuard);
  return opened(openAead(suite, d.contentKey, nonce, m.aad, m.ciphertext));
}

/** Why a disclosed message is provably not a valid handshake of its sender. */
export type DisclosedMessageFault =
  /** The plaintext is not a PrivateMessageContent of its content type (§6.3.1), or its padding is not zero. */
  | "malformed-content"
  /** The content's signature does not verify under the given key (§6.1). */
  | "invalid-signature";

/** What a non-member learns from a disclosed PrivateMessage ({@link openDisclosedMessage}). */
export interface DisclosedMessage {
  readonly groupContext: GroupContext;
  readonly senderLeaf: LeafIndex;
  readonly generation: number;
  /** The content, when it decodes. */
  readonly content?: FramedContent;
  /** Set when the message is provably invalid; absent when its content is well formed and correctly signed. */
  readonly fault?: DisclosedMessageFault;
}

function invalid(why: string, cause?: unknown): MlsError {
  return new MlsError("DISCLOSURE_INVALID", `the disclosure does not open this message: ${why}`, cause === undefined ? undefined : { cause });
}

function decodeDisclosure(provider: CryptoProvider, disclosure: Uint8Array, m: ParsedPrivateMessage): { d: MessageDisclosure; ctx: GroupContext; suite: CipherSuite } {
  let d: MessageDisclosure;
  let ctx: GroupContext;
  try {
    d = decode(messageDisclosureCodec, disclosure);
    ctx = decode(groupContextCodec, d.groupContext);
  } catch (e) {
    throw invalid("malformed", asDecodeError(e));
  }
  if (!bytesEqual(ctx.groupId, m.groupId) || ctx.epoch !== m.epoch) throw invalid("its GroupContext is of another group or epoch");
  let suite: CipherSuite;
  try {
    suite = provider.suite(ctx.cipherSuite);
  } catch (e) {
    throw invalid("unknown cipher suite", e);
  }
  const { nk, nn } = suite.params;
  if (d.senderDataKey.length !== nk || d.contentKey.length !== nk || d.senderDataNonce.length !== nn || d.contentNonce.length !== nn) throw invalid("key or nonce of the wrong length");
  return { d, ctx, suite };
}

/**
 * Non-member side (the DS): opens `message` (MLSMessage(PrivateMessage)) with
 * a member's `disclosure` and checks its content against `signatureKey`, the
 * key of the client the DS received the message from. A disclosure whose keys
 * do not open this very message, or whose GroupContext is not of the
 * message's group and epoch, proves nothing.
 * @throws MlsError `DISCLOSURE_INVALID` (the disclosure does not open the message), `DECODE_*` or
 * `INVALID_ARGUMENT` (the message is not a PrivateMessage).
 */
export async function openDisclosedMessage(provider: CryptoProvider, message: Uint8Array, disclosure: Uint8Array, signatureKey: Uint8Array): Promise<DisclosedMessage> {
  const m = parsePrivateMessage(message);
  const { d, ctx, suite } = decodeDisclosure(provider, disclosure, m);
  let senderData: SenderData;
  let plaintext: Uint8Array;
  try {
    senderData = decode(senderDataCodec, await opened(openAead(suite, d.senderDataKey, d.senderDataNonce, m.aad.subarray(0, m.senderDataAadLength), m.encryptedSenderData)));
    plaintext = await openContent(suite, m, d, senderData);
  } catch (e) {
    throw invalid("the keys do not open its ciphertext", e);
  }
  const senderLeaf = senderData.leafIndex as LeafIndex;
  const base = { groupContext: ctx, senderLeaf, generation: senderData.generation };
  let read;
  try {
    read = readPrivateMessageContent(m, { senderType: SenderType.member, leafIndex: senderLeaf }, plaintext, d.groupContext, false);
  } catch {
    return { ...base, fault: "malformed-content" };
  }
  // A key the suite cannot even parse verifies nothing.
  const valid = await suite.verify(signatureKey, read.signContent, read.auth.signature).catch(() => false);
  return valid ? { ...base, content: read.content } : { ...base, content: read.content, fault: "invalid-signature" };
}
