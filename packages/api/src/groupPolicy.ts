/**
 * Conclave's membership policy (issue 17): who may join a group without a
 * member adding them. It lives in the GroupContext as a private-use extension
 * (RFC 9420 §13.3; private use range 0xF000-0xFFFF, §17.3), so every member
 * agreed to it through the key schedule and only a commit can change it.
 * The DS reads it from its validated public state and enforces it.
 *
 *   struct {
 *     uint8 version = 1;
 *     ExternalJoin external_join;   // 0 closed, 1 open
 *   } ConclaveGroupPolicy;
 *
 * Absent means the default: closed. Members must list the extension type in
 * their LeafNode capabilities (RFC 9420 §11.1) for it to be set.
 */
import {
  bytesEqual,
  decode,
  makeExtension,
  MlsError,
  ProposalType,
  SenderType,
  type Codec,
  type Extension,
  type PublicCommitResult,
  type PublicGroup,
  type PublicProcessed,
} from "@conclave/mls";
import type { ApiErrorCode } from "./errors.js";

/** The GroupContext extension type of the policy (private use). */
export const GROUP_POLICY_EXTENSION_TYPE = 0xf0c1;

/** Whether clients outside the group may join it by external commit or new-member proposal. */
export type ExternalJoinPolicy = "closed" | "open";

/**
 * How the group's handshakes travel: "public" (PublicMessage, validated by the
 * DS; the default) or "private" (PrivateMessage: an opaque group, RFC 9750 §5.3,
 * whose commits the DS keeps in arrival order without validating them).
 */
export type HandshakePolicy = "public" | "private";

/** A group's membership policy, carried in its GroupContext (extension {@link GROUP_POLICY_EXTENSION_TYPE}). */
export interface GroupPolicy {
  /** "open": anyone the AS vouches for may join by external commit or new-member proposal. Default "closed". */
  readonly externalJoin: ExternalJoinPolicy;
  /** Policy version 2: "private" makes the group opaque. Absent: "public" (and the policy encodes as version 1). */
  readonly handshakes?: HandshakePolicy;
}

/** The policy of a group without the extension: closed. */
export const DEFAULT_GROUP_POLICY: GroupPolicy = Object.freeze({ externalJoin: "closed" });

const POLICY_VERSION = 1;
/** Version 2 adds the handshake wire format (opaque groups). */
const POLICY_VERSION_HANDSHAKES = 2;
const EXTERNAL_JOIN: readonly ExternalJoinPolicy[] = ["closed", "open"];
const HANDSHAKES: readonly HandshakePolicy[] = ["public", "private"];

/** TLS codec of {@link GroupPolicy}; decoding throws a `DECODE_*` MlsError for bytes of an unknown version or value. */
export const groupPolicyCodec: Codec<GroupPolicy> = {
  encode(w, p) {
    // Version 1 bytes for every policy version 1 can say, so existing groups keep their exact extension.
    w.u8(p.handshakes === undefined ? POLICY_VERSION : POLICY_VERSION_HANDSHAKES);
    w.u8(EXTERNAL_JOIN.indexOf(p.externalJoin));
    if (p.handshakes !== undefined) w.u8(HANDSHAKES.indexOf(p.handshakes));
  },
  decode(r) {
    const version = r.u8();
    if (version !== POLICY_VERSION && version !== POLICY_VERSION_HANDSHAKES) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown group policy version ${version}`);
    const j = r.u8();
    const externalJoin = EXTERNAL_JOIN[j];
    if (externalJoin === undefined) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown external_join value ${j}`);
    if (version === POLICY_VERSION) return { externalJoin };
    const h = r.u8();
    const handshakes = HANDSHAKES[h];
    if (handshakes === undefined) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown handshakes value ${h}`);
    return { externalJoin, handshakes };
  },
};

/** The GroupContext extension carrying `policy` (for group creation or a GroupContextExtensions proposal). */
export function groupPolicyExtension(policy: GroupPolicy): Extension {
  return makeExtension(GROUP_POLICY_EXTENSION_TYPE, groupPolicyCodec, policy);
}

/** The policy in a GroupContext's extensions; the default when absent. @throws MlsError a `DECODE_*` code when malformed. */
export function readGroupPolicy(extensions: readonly Extension[]): GroupPolicy {
  const ext = extensions.find((e) => e.extensionType === GROUP_POLICY_EXTENSION_TYPE);
  return ext === undefined ? DEFAULT_GROUP_POLICY : decode(groupPolicyCodec, ext.extensionData);
}

/** The client that posted a handshake, as the DS authenticated it. */
export interface PostingClient {
  readonly clientId: string;
  /** The signature key the AS registered for this client. */
  readonly signatureKey: Uint8Array;
}

/** The ApiError codes a policy refusal carries (the DS answers them as 403). */
export type PolicyRefusalCode = Extract<ApiErrorCode, "GROUP_CLOSED" | "RESYNC_REFUSED" | "SENDER_MISMATCH" | "POLICY_CHANGE_REFUSED">;

/** The outcome of {@link decideHandshake} and {@link decideStateRead}: allowed, or refused with a code and a message. */
export type PolicyDecision = { readonly allow: true } | { readonly allow: false; readonly code: PolicyRefusalCode; readonly message: string };

const ALLOW: PolicyDecision = Object.freeze({ allow: true });

function refuse(code: PolicyRefusalCode, message: string): PolicyDecision {
  return { allow: false, code, message };
}

function policyOf(extensions: readonly Extension[]): GroupPolicy | undefined {
  try {
    return readGroupPolicy(extensions);
  } catch {
    return undefined;
  }
}

/** The policy extension's bytes, or undefined when absent: a change is any difference in them. */
function policyBytes(extensions: readonly Extension[]): Uint8Array | undefined {
  return extensions.find((e) => e.extensionType === GROUP_POLICY_EXTENSION_TYPE)?.extensionData;
}

function samePolicyBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : bytesEqual(a, b);
}

/**
 * Whether a handshake the PublicGroup validated (`result`, from `before`) is
 * acceptable under the group's policy, for the client that posted it:
 * - a member's message must be signed by the posting client's own leaf;
 * - an external join (new_member_commit without Remove, or a new_member_proposal
 *   Add) needs an open group, and the joiner's key is the poster's registered key;
 * - a resync external commit is accepted in any group, only from a client on the
 *   roster, removing exactly its own leaf (the one with its registered key) and
 *   keeping that key;
 * - proposals from external_senders come from the DS itself, never from a client;
 * - the policy extension changes only by a member's commit whose
 *   GroupContextExtensions proposal a member sent, and must stay decodable.
 * Pure: no I/O; the DS stores nothing unless this allows. Never throws: a refusal is the returned decision.
 */
export function decideHandshake(before: PublicGroup, result: PublicProcessed, client: PostingClient): PolicyDecision {
  const policy = policyOf(before.groupContext.extensions) ?? DEFAULT_GROUP_POLICY;
  const sender = result.sender;
  switch (sender.senderType) {
    case SenderType.member: {
      const leaf = before.member(sender.leafIndex);
      if (leaf === undefined || !bytesEqual(leaf.leafNode.signatureKey, client.signatureKey)) {
        return refuse("SENDER_MISMATCH", `the message is signed as leaf ${sender.leafIndex}, which is not client ${client.clientId}`);
      }
      break;
    }
    case SenderType.external:
      return refuse("SENDER_MISMATCH", "proposals from external_senders come from the DS, not from a client");
    case SenderType.newMemberProposal: {
      if (result.kind !== "proposal" || result.proposal.proposalType !== ProposalType.add) return refuse("SENDER_MISMATCH", "a new member only proposes its own Add");
      if (!bytesEqual(result.proposal.keyPackage.leafNode.signatureKey, client.signatureKey)) {
        return refuse("SENDER_MISMATCH", "a new-member proposal must add the posting client itself");
      }
      if (policy.externalJoin !== "open") return refuse("GROUP_CLOSED", "the group is closed to joins by new-member proposal");
      break;
    }
    case SenderType.newMemberCommit: {
      if (result.kind !== "commit") return refuse("SENDER_MISMATCH", "a new member only sends an external commit");
      const decided = decideExternalCommit(before, result, client, policy);
      if (!decided.allow) return decided;
      break;
    }
  }
  return decidePolicyChange(before, result);
}

function decideExternalCommit(before: PublicGroup, result: PublicCommitResult, client: PostingClient, policy: GroupPolicy): PolicyDecision {
  const joiner = result.externalJoiner;
  if (joiner === undefined || !bytesEqual(joiner.leafNode.signatureKey, client.signatureKey)) {
    return refuse("SENDER_MISMATCH", "the external commit's new leaf does not carry the posting client's registered key");
  }
  const own = before.findLeafBySignatureKey(client.signatureKey);
  if (result.removed.length === 0) {
    if (own !== undefined) return refuse("RESYNC_REFUSED", `client ${client.clientId} is already at leaf ${own}: a resync must remove that leaf`);
    if (policy.externalJoin !== "open") return refuse("GROUP_CLOSED", "the group is closed to external joins");
    return ALLOW;
  }
  // RFC 9420 §12.4.3.2 allows at most one Remove, validated by the PublicGroup; it must be the poster's own leaf.
  const removed = result.removed[0]!;
  if (own === undefined) return refuse(policy.externalJoin === "open" ? "RESYNC_REFUSED" : "GROUP_CLOSED", `client ${client.clientId} is not on the roster: it cannot resync`);
  if (result.removed.length !== 1 || removed.leafIndex !== own) {
    return refuse("RESYNC_REFUSED", `a resync by client ${client.clientId} must remove its own leaf ${own}, not leaf ${removed.leafIndex}`);
  }
  return ALLOW;
}

function decidePolicyChange(before: PublicGroup, result: PublicProcessed): PolicyDecision {
  const old = policyBytes(before.groupContext.extensions);
  let next: readonly Extension[] | undefined;
  let gceSenders: readonly number[];
  if (result.kind === "proposal") {
    if (result.proposal.proposalType !== ProposalType.groupContextExtensions) return ALLOW;
    next = result.proposal.extensions;
    gceSenders = [result.sender.senderType];
  } else {
    next = result.newExtensions;
    gceSenders = result.proposals.filter((p) => p.proposal.proposalType === ProposalType.groupContextExtensions).map((p) => p.sender.senderType);
  }
  if (next === undefined || samePolicyBytes(old, policyBytes(next))) return ALLOW;
  if (policyOf(next) === undefined) return refuse("POLICY_CHANGE_REFUSED", "the new group policy extension is malformed");
  if (result.sender.senderType !== SenderType.member || gceSenders.some((t) => t !== SenderType.member)) {
    return refuse("POLICY_CHANGE_REFUSED", "only a member's commit of a member's GroupContextExtensions changes the group policy");
  }
  return ALLOW;
}

/**
 * Issue 17 item 2: the GroupInfo and the ratchet tree go to members (a leaf
 * with the client's registered key), and to outsiders only where the policy
 * opens the group to external joins. GROUP_CLOSED otherwise.
 */
export function decideStateRead(group: PublicGroup, client: PostingClient): PolicyDecision {
  if (group.findLeafBySignatureKey(client.signatureKey) !== undefined) return ALLOW;
  const policy = policyOf(group.groupContext.extensions) ?? DEFAULT_GROUP_POLICY;
  return policy.externalJoin === "open" ? ALLOW : refuse("GROUP_CLOSED", `client ${client.clientId} is not a member and the group is closed`);
}
