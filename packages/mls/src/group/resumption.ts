/**
 * Resumption (RFC 9420 §11.2 reinitialization, §11.3 subgroup branching): a
 * new group linked to an old one by a resumption PSK (§8.6) that only its
 * first commit's Welcome carries, and the joiner's checks that the new group
 * is what the old one agreed to.
 */
import { bytesEqual } from "../codec/bytes.js";
import { encode } from "../codec/tls.js";
import type { CryptoProvider } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import type { Capabilities } from "../messages/capabilities.js";
import { credentialCodec } from "../messages/credential.js";
import { PskType, ResumptionPskUsage } from "../messages/enums.js";
import { extensionsCodec, type Extension } from "../messages/extension.js";
import type { KeyPackage } from "../messages/keyPackage.js";
import type { Lifetime } from "../messages/leafNode.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import type { PskLookup } from "../welcome/welcome.js";
import { createCommit, type CommitOptions, type PendingCommitState } from "./commit.js";
import { createGroupState } from "./create.js";
import type { GroupConfig, SameIdentity } from "./groupConfig.js";
import type { GroupState } from "./groupState.js";
import type { SigningIdentity } from "./keyPackage.js";

/** Options of {@link Group.reinitialize} (RFC 9420 §11.2). */
export interface ResumeOptions {
  readonly provider: CryptoProvider;
  /** Our identity in the new group (a ReInit to another suite needs a signature key of that suite). */
  readonly identity: SigningIdentity;
  /** KeyPackages of the other members of the new group. */
  readonly keyPackages: readonly (KeyPackage | Uint8Array)[];
  readonly lifetime?: Lifetime;
  readonly capabilities?: Partial<Capabilities>;
  readonly leafNodeExtensions?: readonly Extension[];
  readonly commit?: Pick<CommitOptions, "ratchetTreeExtension" | "externalPub" | "authenticatedData" | "wireFormat">;
}

/** Options of {@link Group.branch} (RFC 9420 §11.3). */
export interface BranchOptions extends ResumeOptions {
  /** Default: Nh random bytes. */
  readonly groupId?: Uint8Array;
  /** GroupContext extensions of the subgroup; default: the old group's. */
  readonly extensions?: readonly Extension[];
}

/** The default `sameIdentity`: two credentials are the same identity when their encodings are equal. */
export const identicalCredentials: SameIdentity = (a, b) => bytesEqual(encode(credentialCodec, a), encode(credentialCodec, b));

function resumptionPskOf(old: GroupState): Uint8Array {
  const psk = old.resumptionPsks.find((r) => r.epoch === old.groupContext.epoch)?.psk;
  if (psk === undefined) throw new MlsError("INVALID_ARGUMENT", "the old group's resumption PSK is gone");
  return psk;
}

async function resume(
  old: GroupState,
  usage: typeof ResumptionPskUsage.reinit | typeof ResumptionPskUsage.branch,
  params: { cipherSuite: number; groupId: Uint8Array; extensions: readonly Extension[] },
  opts: ResumeOptions,
  config: GroupConfig,
): Promise<{ state: GroupState; pending: PendingCommitState }> {
  const suite = opts.provider.suite(params.cipherSuite);
  const state = await createGroupState(
    {
      provider: opts.provider,
      cipherSuite: suite.id,
      identity: opts.identity,
      groupId: params.groupId,
      extensions: params.extensions,
      ...(opts.lifetime === undefined ? {} : { lifetime: opts.lifetime }),
      ...(opts.capabilities === undefined ? {} : { capabilities: opts.capabilities }),
      ...(opts.leafNodeExtensions === undefined ? {} : { leafNodeExtensions: opts.leafNodeExtensions }),
    },
    config,
  );
  const id: PreSharedKeyId = {
    pskType: PskType.resumption,
    usage,
    pskGroupId: old.groupContext.groupId,
    pskEpoch: old.groupContext.epoch,
    pskNonce: suite.randomBytes(suite.params.nh),
  };
  const pending = await createCommit(state, config, { ...opts.commit, add: opts.keyPackages, includePendingProposals: false }, [{ id, psk: resumptionPskOf(old) }]);
  return { state, pending };
}

/**
 * §11.2 step 3: the group a committed ReInit asks for, at epoch 0, and its
 * first commit adding `keyPackages` with the reinit PSK of the old group's
 * last epoch. Merge the pending commit once the DS accepts it.
 */
export function reinitGroup(old: GroupState, opts: ResumeOptions, config: GroupConfig): Promise<{ state: GroupState; pending: PendingCommitState }> {
  const r = old.reinit;
  if (r === undefined) throw new MlsError("INVALID_ARGUMENT", "no ReInit has been committed in this group");
  return resume(old, ResumptionPskUsage.reinit, { cipherSuite: r.cipherSuite, groupId: r.groupId, extensions: r.extensions }, opts, config);
}

/** §11.3: a subgroup with the old group's version and suite, linked by a branch PSK of its current epoch. */
export function branchGroup(old: GroupState, opts: BranchOptions, config: GroupConfig): Promise<{ state: GroupState; pending: PendingCommitState }> {
  const suite = old.suite;
  return resume(
    old,
    ResumptionPskUsage.branch,
    { cipherSuite: suite.id, groupId: opts.groupId ?? suite.randomBytes(suite.params.nh), extensions: opts.extensions ?? old.groupContext.extensions },
    opts,
    config,
  );
}

/** A PSK lookup for a joiner: resumption PSKs of the groups it was in (any usage), external PSKs from `external`. */
export function resumptionLookup(groups: readonly GroupState[], external: PskLookup): PskLookup {
  return (id) => {
    if (id.pskType === PskType.external) return external(id);
    const g = groups.find((s) => bytesEqual(s.groupContext.groupId, id.pskGroupId));
    return g?.resumptionPsks.find((r) => r.epoch === id.pskEpoch)?.psk;
  };
}

/**
 * §12.4.3.1, after joining: when the Welcome used a reinit PSK, the new
 * group must match the old group's ReInit and hold all its members; with a
 * branch PSK, it must keep the old version and suite and hold only old members.
 */
export function checkResumedGroup(joined: GroupState, psks: readonly PreSharedKeyId[], groups: readonly GroupState[], sameIdentity: SameIdentity): void {
  for (const id of psks) {
    if (id.pskType !== PskType.resumption || id.usage === ResumptionPskUsage.application) continue;
    const old = groups.find((s) => bytesEqual(s.groupContext.groupId, id.pskGroupId));
    if (old === undefined) continue; // the lookup would have failed first
    const gc = joined.groupContext;
    const newMembers = joined.tree.members().map((m) => m.leafNode.credential);
    const oldMembers = old.tree.members().map((m) => m.leafNode.credential);
    if (id.usage === ResumptionPskUsage.reinit) {
      const r = old.reinit;
      const fail = (why: string): never => {
        throw new MlsError("WELCOME_REINIT_MISMATCH", why);
      };
      if (r === undefined || id.pskEpoch !== old.groupContext.epoch) fail("the old group did not end with a ReInit at that epoch");
      if (!bytesEqual(gc.groupId, r!.groupId) || gc.version !== r!.version || gc.cipherSuite !== r!.cipherSuite) fail("the new group's id, version or suite differ from the ReInit");
      if (!bytesEqual(encode(extensionsCodec, gc.extensions), encode(extensionsCodec, r!.extensions))) fail("the new group's extensions differ from the ReInit");
      if (!oldMembers.every((o) => newMembers.some((n) => sameIdentity(o, n)))) fail("a member of the old group is missing from the new one");
    } else {
      if (gc.version !== old.groupContext.version || gc.cipherSuite !== old.groupContext.cipherSuite) {
        throw new MlsError("WELCOME_BRANCH_MISMATCH", "a branch keeps the old group's version and suite");
      }
      if (!newMembers.every((n) => oldMembers.some((o) => sameIdentity(o, n)))) throw new MlsError("WELCOME_BRANCH_MISMATCH", "a member of the branch is not in the old group");
    }
  }
}
