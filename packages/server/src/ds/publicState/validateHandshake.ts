/**
 * The DS's validation of one handshake message against its stored public
 * state of the group (issue 17 items 1, 2, 6): sizes, then the MLS rules a
 * non-member can check (PublicGroup), then Conclave's membership policy
 * (decideHandshake). Pure: bytes in, bytes out, no storage; the caller
 * stores `newState` (and fans out the message) only on success, atomically.
 * Every refusal is an ApiError with a stable code; nothing else escapes.
 */
import { ApiError, decideHandshake, type PostingClient } from "@conclave/api";
import {
  bytesEqual,
  ContentType,
  decode,
  isMlsError,
  makeKeyPackageRef,
  mlsMessageCodec,
  PublicGroup,
  WireFormat,
  type Credential,
  type CredentialValidator,
  type CryptoProvider,
  type LeafIndex,
  type PublicCommitResult,
  type PublicGroupConfig,
  type PublicProcessed,
} from "@conclave/mls";
import { EpochMismatchError } from "../errors.js";
import { requireWithin, resolveLimits, type HandshakeLimits } from "./limits.js";

export interface HandshakeContext {
  readonly provider: CryptoProvider;
  /** The authenticated client that posted the message, with the signature key the AS registered for it. */
  readonly client: PostingClient;
  /** The group of the URL: a message for another group is WRONG_GROUP. */
  readonly groupId: Uint8Array;
  /** The AS check of every credential entering the tree (RFC 9420 §5.3.1). */
  readonly validateCredential?: CredentialValidator;
  /** Seconds since the Unix epoch, to check KeyPackage lifetimes. */
  readonly clock?: () => bigint;
  readonly limits?: Partial<HandshakeLimits>;
}

/** A leaf whose occupant entered, left or changed keys. */
export interface RosterLeaf {
  readonly leafIndex: LeafIndex;
  readonly signatureKey: Uint8Array;
  readonly credential: Credential;
  /** For a leaf added by an Add: the KeyPackageRef its Welcome entry must name (RFC 9420 §12.4.3.1). */
  readonly keyPackageRef?: Uint8Array;
}

/** How the roster (derived from the tree, never from a client's claim) changed. */
export interface RosterDelta {
  /** Leaves added by Add proposals and an external joiner's leaf. */
  readonly added: readonly RosterLeaf[];
  /** The leaves removed, with who was there. */
  readonly removed: readonly RosterLeaf[];
  /** Leaves whose signature key or credential changed (Update, or the committer's path leaf): the new values. */
  readonly updated: readonly RosterLeaf[];
}

export interface ValidatedHandshake {
  readonly kind: "proposal" | "commit";
  /** The serialized public state to store for the group. */
  readonly newState: Uint8Array;
  /** The group's epoch after the message (the same for a proposal). */
  readonly epoch: bigint;
  readonly rosterDelta: RosterDelta;
  /** The ProposalRef of a proposal. */
  readonly proposalRef?: Uint8Array;
  /** The live state, for a caller that caches it (skips deserializing next time). */
  readonly group: PublicGroup;
}

const EMPTY_DELTA: RosterDelta = Object.freeze({ added: [], removed: [], updated: [] });

/** The PublicGroup policy of a context: its AS check and clock. */
export function publicGroupConfigOf(ctx: Pick<HandshakeContext, "validateCredential" | "clock">): PublicGroupConfig {
  return { ...(ctx.validateCredential === undefined ? {} : { validateCredential: ctx.validateCredential }), ...(ctx.clock === undefined ? {} : { clock: ctx.clock }) };
}

/** Restores a stored state with the context's policy (GROUP_STATE_INVALID → 500: the DS's own data is broken). */
export function loadPublicGroup(stateBytes: Uint8Array, ctx: Pick<HandshakeContext, "provider" | "validateCredential" | "clock">): PublicGroup {
  try {
    return PublicGroup.deserialize(stateBytes, ctx.provider, publicGroupConfigOf(ctx));
  } catch (e) {
    throw new ApiError("INTERNAL", "the stored group state does not load", { cause: e });
  }
}

/** Maps a library refusal to the API: the wrong epoch is a 409 the client catches up from, the rest pass through (400). */
function asApiError(e: unknown, group: PublicGroup, messageEpoch: bigint | undefined): unknown {
  if (!isMlsError(e)) return e;
  if (e.code === "MESSAGE_WRONG_EPOCH") return new EpochMismatchError(Number(group.epoch), messageEpoch ?? -1n);
  if (e.code === "MESSAGE_WRONG_GROUP") return new ApiError("WRONG_GROUP", e.message, { cause: e });
  return new ApiError(e.code, e.message, { cause: e });
}

function leafOf(group: PublicGroup, leafIndex: LeafIndex): RosterLeaf | undefined {
  const m = group.member(leafIndex);
  return m === undefined ? undefined : { leafIndex, signatureKey: m.leafNode.signatureKey, credential: m.leafNode.credential };
}

function changed(before: RosterLeaf | undefined, after: RosterLeaf | undefined): boolean {
  return before !== undefined && after !== undefined && (!bytesEqual(before.signatureKey, after.signatureKey) || before.credential.credentialType !== after.credential.credentialType);
}

/** The roster change of a validated commit, read from the trees before and after. */
export function rosterDeltaOf(before: PublicGroup, r: PublicCommitResult): RosterDelta {
  const after = r.state;
  // The Welcome goes only to these refs: a Welcome naming any other KeyPackage reaches nobody (issue 17's phantom).
  const added: RosterLeaf[] = r.added.map((a) => ({ ...leafOf(after, a.leafIndex)!, keyPackageRef: makeKeyPackageRef(after.suite, a.keyPackage) }));
  if (r.externalJoiner !== undefined) added.push(leafOf(after, r.externalJoiner.leafIndex)!);
  const removed: RosterLeaf[] = r.removed.map((x) => ({ leafIndex: x.leafIndex, signatureKey: x.leafNode.signatureKey, credential: x.leafNode.credential }));
  const touched = new Set<number>(r.updated.map((u) => u.leafIndex));
  if (r.pathIncluded && r.externalJoiner === undefined) touched.add(r.committer);
  const updated: RosterLeaf[] = [];
  for (const l of touched) {
    const now = leafOf(after, l as LeafIndex);
    if (changed(leafOf(before, l as LeafIndex), now)) updated.push(now!);
  }
  return { added, removed, updated };
}

/**
 * Validates `message` (MLSMessage(PublicMessage) carrying a proposal or a
 * commit) against the live group state `group`. A commit must come with the
 * GroupInfo its committer signed for the new epoch (`groupInfo`), which the
 * DS then serves. Throws ApiError: HANDSHAKE_TOO_LARGE, TOO_MANY_PROPOSALS,
 * UNEXPECTED_WIRE_FORMAT, WRONG_GROUP, EPOCH_MISMATCH (409, with the current
 * epoch), BAD_REQUEST (commit without GroupInfo), GROUP_CLOSED,
 * RESYNC_REFUSED, SENDER_MISMATCH, POLICY_CHANGE_REFUSED, or an MLS code
 * (400: MESSAGE_*, PROPOSAL_*, EXTERNAL_COMMIT_*, COMMIT_*, TREE_*,
 * LEAF_NODE_*, UPDATE_PATH_*, GROUP_INFO_*, DECODE_*).
 */
export async function validateHandshakeWith(group: PublicGroup, message: Uint8Array, groupInfo: Uint8Array | undefined, ctx: HandshakeContext): Promise<ValidatedHandshake> {
  const limits = resolveLimits(ctx.limits);
  requireWithin("a handshake message", message, Math.max(limits.maxCommitBytes, limits.maxProposalBytes));
  if (groupInfo !== undefined) requireWithin("a GroupInfo", groupInfo, limits.maxGroupInfoBytes);
  let epoch: bigint | undefined;
  let result: PublicProcessed;
  try {
    const m = decode(mlsMessageCodec, message);
    if (m.wireFormat !== WireFormat.publicMessage) {
      throw new ApiError("UNEXPECTED_WIRE_FORMAT", `the DS validates handshakes sent as PublicMessage, got wire format ${m.wireFormat}`);
    }
    const content = m.publicMessage.content;
    epoch = content.epoch;
    if (!bytesEqual(content.groupId, ctx.groupId)) throw new ApiError("WRONG_GROUP", "the message is for another group than the URL's");
    if (content.contentType === ContentType.proposal) {
      requireWithin("a proposal", message, limits.maxProposalBytes);
      if (groupInfo !== undefined) throw new ApiError("BAD_REQUEST", "a GroupInfo goes with a commit, not a proposal");
      if (group.proposalCount >= limits.maxPendingProposals) throw new ApiError("TOO_MANY_PROPOSALS", `epoch ${group.epoch} already holds ${group.proposalCount} proposals`);
    } else if (content.contentType === ContentType.commit) {
      requireWithin("a commit", message, limits.maxCommitBytes);
      if (groupInfo === undefined) throw new ApiError("BAD_REQUEST", "a commit must come with the GroupInfo of the epoch it starts");
    }
    result = await group.processMessage(message, groupInfo === undefined ? {} : { groupInfo });
  } catch (e) {
    throw asApiError(e, group, epoch);
  }
  const decision = decideHandshake(group, result, ctx.client);
  if (!decision.allow) throw new ApiError(decision.code, decision.message);
  const next = result.state;
  return {
    kind: result.kind,
    newState: next.serialize(),
    epoch: next.epoch,
    rosterDelta: result.kind === "commit" ? rosterDeltaOf(group, result) : EMPTY_DELTA,
    ...(result.kind === "proposal" ? { proposalRef: result.ref } : {}),
    group: next,
  };
}

/** {@link validateHandshakeWith} over the stored state bytes. */
export function validateHandshake(stateBytes: Uint8Array, message: Uint8Array, groupInfo: Uint8Array | undefined, ctx: HandshakeContext): Promise<ValidatedHandshake> {
  return validateHandshakeWith(loadPublicGroup(stateBytes, ctx), message, groupInfo, ctx);
}
