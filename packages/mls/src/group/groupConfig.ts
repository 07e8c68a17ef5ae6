/**
 * Group policy as configuration (DESIGN: "policy is configuration, not code
 * edits"). Nothing here is state: a Group restored from bytes is given its
 * configuration again.
 */
import { bytesEqual } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import type { PaddingPolicy } from "../framing/privateMessage.js";
import type { Credential } from "../messages/credential.js";
import type { Sender } from "../messages/framing.js";
import type { Proposal } from "../messages/proposal.js";
import { DEFAULT_MAX_FORWARD_DISTANCE, DEFAULT_OUT_OF_ORDER_WINDOW } from "../schedule/secretTree.js";
import type { LeafIndex } from "../tree/treeMath.js";

/** Where a credential is being checked, so the application can apply different rules. */
export type CredentialContext =
  | { readonly kind: "keyPackage" }
  | { readonly kind: "add"; readonly groupId: Uint8Array }
  | { readonly kind: "update"; readonly groupId: Uint8Array; readonly leafIndex: LeafIndex }
  | { readonly kind: "commit"; readonly groupId: Uint8Array; readonly leafIndex: LeafIndex }
  | { readonly kind: "tree"; readonly groupId: Uint8Array; readonly leafIndex: LeafIndex };

/**
 * RFC 9420 §5.3.1: the application's Authentication Service check. Return
 * false (or reject) to refuse the credential; the library then throws
 * LEAF_NODE_INVALID_CREDENTIAL.
 */
export type CredentialValidator = (credential: Credential, signatureKey: Uint8Array, context: CredentialContext) => boolean | Promise<boolean>;

/** A proposal as the acceptance callback sees it. */
export interface ProposalPolicyInput {
  readonly proposal: Proposal;
  readonly sender: Sender;
  readonly epoch: bigint;
  /** "received": a standalone proposal message; "committed": inline in a commit. */
  readonly via: "received" | "committed";
}

/** A commit as the acceptance callback sees it (before its epoch is entered). */
export interface CommitPolicyInput {
  readonly sender: Sender;
  readonly fromEpoch: bigint;
  readonly proposals: readonly { readonly proposal: Proposal; readonly sender: Sender }[];
  readonly authenticatedData: Uint8Array;
}

/** RFC 9420 §12.2 "an application may extend the above procedure by additional rules". Return false (or reject) to refuse. */
export type ProposalAcceptor = (input: ProposalPolicyInput) => boolean | Promise<boolean>;
/** Like {@link ProposalAcceptor}, for a whole commit (RFC 9420 §12.4.2): return false (or reject) to refuse it. */
export type CommitAcceptor = (input: CommitPolicyInput) => boolean | Promise<boolean>;

/**
 * RFC 9420 §12.2: whether two credentials are the same client "according to
 * the application". Default: identical signature keys.
 */
export type SameClient = (a: { credential: Credential; signatureKey: Uint8Array }, b: { credential: Credential; signatureKey: Uint8Array }) => boolean;

/**
 * RFC 9420 §11.2, §11.3: whether two credentials (possibly of different
 * signature schemes) identify the same client, to check a reinitialized or
 * branched group's membership. Default: identical credentials.
 */
export type SameIdentity = (a: Credential, b: Credential) => boolean;

/** External PSKs the group may inject (RFC 9420 §8.4); resumption PSKs of this group come from its own retained epochs. */
export type ExternalPskLookup = (pskId: Uint8Array) => Uint8Array | undefined;

/** "private" sends Proposals and Commits as PrivateMessage, "public" as PublicMessage (RFC 9420 §6). */
export type HandshakeWireFormat = "private" | "public";

/**
 * How a Group behaves: retention of past epochs, the secret tree's receiver
 * policy, padding, wire formats, and the application's validation hooks
 * (RFC 9420 §7.2, §12.2). Start from {@link DEFAULT_GROUP_CONFIG}; to check
 * KeyPackage lifetimes (§7.3) give a `clock` (§7.2: applications MUST).
 */
export interface GroupConfig {
  /** Past epochs whose secret trees are kept to decrypt late application messages (§9.2, §14). Default 2; 0 keeps none. */
  readonly maxPastEpochs: number;
  /** Epochs whose resumption_psk is kept for resumption PSK proposals (§8.6), the current one included. Default 4. */
  readonly resumptionPskEpochs: number;
  /** Secret tree receiver policy: skipped keys kept for out-of-order messages. */
  readonly outOfOrderWindow: number;
  /** Secret tree receiver policy: how far ahead a generation may jump. */
  readonly maxForwardDistance: number;
  /** Padding of PrivateMessage content (§6.3.1). */
  readonly padding: PaddingPolicy;
  /** How our handshake messages travel. */
  readonly handshakeWireFormat: HandshakeWireFormat;
  /** Which incoming handshake wire formats are accepted. */
  readonly acceptHandshake: "any" | HandshakeWireFormat;
  /**
   * Whether our commits' GroupInfo (and so their Welcome) carries the ratchet_tree
   * extension (§12.4.3.3; default true). False when the joiners take the tree from
   * the Delivery Service instead (they check it against the GroupInfo's tree hash).
   */
  readonly ratchetTreeExtension?: boolean;
  /** Longest KeyPackage lifetime accepted, in seconds (§7.2: applications MUST set one; default 90 days). */
  readonly maxLifetime?: bigint;
  /** Current time in seconds since the Unix epoch; when given, KeyPackage lifetimes are checked against it (§7.3). */
  readonly clock?: () => bigint;
  /** RFC 9420 §5.3.1: the application's check of every credential the group meets (default: accept). */
  readonly validateCredential?: CredentialValidator;
  /** Extra rules for incoming proposals (RFC 9420 §12.2). */
  readonly acceptProposal?: ProposalAcceptor;
  /** Extra rules for incoming commits (RFC 9420 §12.4.2). */
  readonly acceptCommit?: CommitAcceptor;
  /** See {@link SameClient}. */
  readonly sameClient?: SameClient;
  /** See {@link SameIdentity}. */
  readonly sameIdentity?: SameIdentity;
  /** See {@link ExternalPskLookup}. */
  readonly externalPsks?: ExternalPskLookup;
}

/** The longest KeyPackage lifetime a group accepts by default, in seconds: 90 days (RFC 9420 §7.2). */
export const DEFAULT_MAX_LIFETIME = 90n * 24n * 3600n;

/** The config a Group uses when given none: keep 2 past epochs, no padding, PrivateMessage handshakes, no clock. */
export const DEFAULT_GROUP_CONFIG: GroupConfig = Object.freeze<GroupConfig>({
  maxPastEpochs: 2,
  resumptionPskEpochs: 4,
  outOfOrderWindow: DEFAULT_OUT_OF_ORDER_WINDOW,
  maxForwardDistance: DEFAULT_MAX_FORWARD_DISTANCE,
  padding: { kind: "none" },
  handshakeWireFormat: "private",
  acceptHandshake: "any",
  maxLifetime: DEFAULT_MAX_LIFETIME,
});

/** Fills defaults and rejects nonsense values (INVALID_ARGUMENT). */
export function resolveConfig(partial: Partial<GroupConfig> | undefined): GroupConfig {
  const c: GroupConfig = { ...DEFAULT_GROUP_CONFIG, ...partial };
  for (const [k, v] of [
    ["maxPastEpochs", c.maxPastEpochs],
    ["resumptionPskEpochs", c.resumptionPskEpochs],
    ["outOfOrderWindow", c.outOfOrderWindow],
    ["maxForwardDistance", c.maxForwardDistance],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new MlsError("INVALID_ARGUMENT", `invalid ${k}: ${v}`);
  }
  if (c.resumptionPskEpochs < 1) throw new MlsError("INVALID_ARGUMENT", "resumptionPskEpochs must keep at least the current epoch");
  return c;
}

/** The current time from the configured clock, if any. */
export function nowOf(config: GroupConfig): bigint | undefined {
  return config.clock?.();
}

/** Default SameClient: identical signature keys (RFC 9420 §12.2's example). */
export function sameSignatureKey(a: { signatureKey: Uint8Array }, b: { signatureKey: Uint8Array }): boolean {
  return bytesEqual(a.signatureKey, b.signatureKey);
}
