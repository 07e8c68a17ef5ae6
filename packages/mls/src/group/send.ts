/**
 * Sending in the current epoch (RFC 9420 §6, §12.1, §15): signing and
 * protecting content, standalone proposals (cached so our own later commit
 * can reference them and so their echo is recognised), and application
 * messages.
 */
import { zeroize } from "../codec/bytes.js";
import { returnScratch } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { signFramedContent, startSigningFramedContent } from "../framing/contentAuth.js";
import { authenticatedContentBytes, type EncodedAuthenticatedContent, type FramingWireFormat } from "../framing/context.js";
import { protectPrivateMessageNow, reservePrivateMessageKey } from "../framing/privateMessage.js";
import { protectPublicMessage } from "../framing/publicMessage.js";
import { ContentType, LeafNodeSource, ProposalType, SenderType, WireFormat } from "../messages/enums.js";
import type { Extension } from "../messages/extension.js";
import type { FramedContent, FramedContentBody } from "../messages/framing.js";
import type { Capabilities } from "../messages/capabilities.js";
import type { Proposal } from "../messages/proposal.js";
import { makeProposalRef } from "../messages/refs.js";
import { signLeafNode } from "../tree/leafNodeValidation.js";
import type { HandshakeWireFormat, GroupConfig } from "./groupConfig.js";
import { ownLeaf, privateMessageContext, publicMessageContext, refKey, requireCanSend, type CachedProposal, type GroupState } from "./groupState.js";
import { checkProposalOnReceipt } from "./receive.js";

const EMPTY = new Uint8Array(0);

/** Signs `body` as our member content of the current epoch (§6.1) and protects it as `wireFormat` (§6.2, §6.3). */
export async function signAndProtect(
  state: GroupState,
  config: GroupConfig,
  body: FramedContentBody,
  authenticatedData: Uint8Array,
  wireFormat: HandshakeWireFormat,
): Promise<{ message: Uint8Array; content: EncodedAuthenticatedContent }> {
  if (wireFormat === "public") {
    const content = await signOwn(state, WireFormat.publicMessage, body, authenticatedData);
    return { message: protectPublicMessage(publicMessageContext(state), content), content };
  }
  let content: EncodedAuthenticatedContent | undefined;
  const message = await signAndEncrypt(state, config, body, authenticatedData, (c) => (content = c));
  return { message, content: content! };
}

function signOwn(state: GroupState, wireFormat: FramingWireFormat, body: FramedContentBody, authenticatedData: Uint8Array): Promise<EncodedAuthenticatedContent> {
  const content = { groupId: state.groupContext.groupId, epoch: state.groupContext.epoch, sender: { senderType: SenderType.member, leafIndex: ownLeaf(state) }, authenticatedData, ...body };
  return signFramedContent(state.suite, state.signaturePrivateKey, wireFormat, content, state.groupContextBytes);
}

/**
 * §6.3 for our own content: the PrivateMessage. The ratchet key is reserved
 * before signing, so messages sent concurrently take generations in call
 * order; `signed` sees the content once signed.
 */
async function signAndEncrypt(
  state: GroupState,
  config: GroupConfig,
  body: FramedContentBody,
  authenticatedData: Uint8Array,
  signed: (content: EncodedAuthenticatedContent) => void,
): Promise<Uint8Array> {
  const ctx = privateMessageContext(state);
  const key = reservePrivateMessageKey(ctx, ownLeaf(state), body.contentType);
  let content: EncodedAuthenticatedContent;
  try {
    content = await signOwn(state, WireFormat.privateMessage, body, authenticatedData);
  } catch (e) {
    zeroize(key.key);
    zeroize(key.nonce);
    throw e;
  }
  signed(content);
  return protectPrivateMessageNow(ctx, content, { padding: config.padding, key });
}

/** Options of the `propose*` methods of {@link Group}. */
export interface ProposalOptions {
  readonly authenticatedData?: Uint8Array;
  /** Overrides the configured handshake wire format for this message. */
  readonly wireFormat?: HandshakeWireFormat;
}

/** What proposing returns: the message to send and the ProposalRef a commit will use. */
export interface SentProposal {
  readonly message: Uint8Array;
  readonly ref: Uint8Array;
}

/**
 * Sends a standalone proposal (§12.1): checked as a receiver would check it,
 * then signed, protected and cached as our own.
 */
export async function sendProposal(
  state: GroupState,
  config: GroupConfig,
  proposal: Proposal,
  options: ProposalOptions = {},
  updateKeyPair?: CachedProposal["updateKeyPair"],
): Promise<SentProposal> {
  requireCanSend(state);
  const sender = { senderType: SenderType.member, leafIndex: ownLeaf(state) } as const;
  await checkProposalOnReceipt(state, config, proposal, sender);
  const { message, content } = await signAndProtect(
    state,
    config,
    { contentType: ContentType.proposal, proposal },
    options.authenticatedData ?? EMPTY,
    options.wireFormat ?? config.handshakeWireFormat,
  );
  const ref = makeProposalRef(state.suite, authenticatedContentBytes(content));
  state.proposals.set(refKey(ref), { ref, proposal, sender, own: true, message, ...(updateKeyPair === undefined ? {} : { updateKeyPair }) });
  return { message, ref };
}

/** New contents for our leaf in an Update or a commit's path (defaults: unchanged). */
export interface LeafNodeChanges {
  readonly capabilities?: Capabilities;
  readonly extensions?: Extension[];
}

/** §12.1.2: an Update with a fresh encryption key for our leaf; the new key pair waits in the proposal cache. */
export async function sendUpdate(state: GroupState, config: GroupConfig, changes: LeafNodeChanges = {}, options: ProposalOptions = {}): Promise<SentProposal> {
  requireCanSend(state);
  const me = ownLeaf(state);
  const current = state.tree.requireLeafNode(me);
  const keyPair = await state.suite.hpkeGenerateKeyPair();
  const leafNode = await signLeafNode(
    state.suite,
    state.signaturePrivateKey,
    {
      encryptionKey: keyPair.publicKey,
      signatureKey: current.signatureKey,
      credential: current.credential,
      capabilities: changes.capabilities ?? current.capabilities,
      leafNodeSource: LeafNodeSource.update,
      extensions: changes.extensions ?? current.extensions,
    },
    { groupId: state.groupContext.groupId, leafIndex: me },
  );
  try {
    return await sendProposal(state, config, { proposalType: ProposalType.update, leafNode }, options, keyPair);
  } catch (e) {
    zeroize(keyPair.privateKey);
    throw e;
  }
}

/**
 * §15: application data, always as a PrivateMessage. RFC 9420 §12.4: a
 * member that has seen proposals in this epoch must commit before sending
 * application data (GROUP_UNCOMMITTED_PROPOSALS), unless its commit is pending.
 */
export function encryptApplication(state: GroupState, config: GroupConfig, data: Uint8Array, authenticatedData: Uint8Array, commitPending: boolean): Promise<Uint8Array> {
  // Not an async function: returning signAndEncrypt's promise from one would cost three more microtask hops per message.
  try {
    requireCanSend(state);
    if (state.proposals.size > 0 && !commitPending) {
      throw new MlsError("GROUP_UNCOMMITTED_PROPOSALS", "proposals were received in this epoch: commit them before sending application data");
    }
  } catch (e) {
    return Promise.reject(e);
  }
  return signAndEncryptApplication(state, config, data, authenticatedData);
}

/**
 * {@link signAndEncrypt} for application data, as one promise chain: the
 * message is sealed in the run its signature resolves in, with no async
 * function in between (one promise hop instead of three per message). The
 * SignContent is lent scratch, given back once the signature has settled;
 * the reserved ratchet key is wiped on every path.
 */
function signAndEncryptApplication(state: GroupState, config: GroupConfig, data: Uint8Array, authenticatedData: Uint8Array): Promise<Uint8Array> {
  const ctx = privateMessageContext(state);
  const leaf = ownLeaf(state);
  const key = reservePrivateMessageKey(ctx, leaf, ContentType.application);
  const content: FramedContent = {
    groupId: state.groupContext.groupId,
    epoch: state.groupContext.epoch,
    sender: { senderType: SenderType.member, leafIndex: leaf },
    authenticatedData,
    contentType: ContentType.application,
    applicationData: data,
  };
  let started: { contentBytes: Uint8Array; signature: Promise<Uint8Array> };
  try {
    started = startSigningFramedContent(state.suite, state.signaturePrivateKey, WireFormat.privateMessage, content, state.groupContextBytes, true);
  } catch (e) {
    zeroize(key.key);
    zeroize(key.nonce);
    return Promise.reject(e);
  }
  const { contentBytes } = started;
  return started.signature.then(
    (signature) => {
      let out: Uint8Array | Promise<Uint8Array>;
      try {
        out = protectPrivateMessageNow(ctx, { wireFormat: WireFormat.privateMessage, content, contentBytes, auth: { signature } }, { padding: config.padding, key });
      } catch (e) {
        zeroize(key.key);
        zeroize(key.nonce);
        returnScratch(contentBytes);
        throw e;
      }
      if (out instanceof Uint8Array) {
        returnScratch(contentBytes);
        return out;
      }
      return out.finally(() => returnScratch(contentBytes));
    },
    (e: unknown) => {
      zeroize(key.key);
      zeroize(key.nonce);
      returnScratch(contentBytes);
      throw e;
    },
  );
}
