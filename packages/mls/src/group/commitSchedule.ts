/**
 * The part of creating and processing a Commit that is the same on both
 * sides (RFC 9420 §12.4.1, §12.4.2, §8, §8.2): transcript hashes, the new
 * GroupContext, the key schedule step and the confirmation tag.
 */
import { encode } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { ContentType } from "../messages/enums.js";
import type { EncodedAuthenticatedContent } from "../framing/context.js";
import { groupContextCodec, type GroupContext } from "../messages/groupContext.js";
import { confirmationTag, deriveEpochSecrets, type EpochSecrets } from "../schedule/keySchedule.js";
import { confirmedTranscriptHashOf, interimTranscriptHash } from "../schedule/transcriptHash.js";
import type { GroupConfig } from "./groupConfig.js";
import { newEpochState, type GroupState, type NewEpochInput } from "./groupState.js";

export interface CommitScheduleInput {
  readonly suite: CipherSuite;
  /** interim_transcript_hash of the epoch the commit leaves. */
  readonly interimTranscriptHash: Uint8Array;
  /** init_secret of the epoch the commit leaves (or the external init secret, §8.3). */
  readonly initSecret: Uint8Array;
  /** The provisional GroupContext: new epoch, tree hash and extensions, old confirmed transcript hash. */
  readonly provisional: GroupContext;
  /** The signed commit (its confirmation tag is not part of the transcript input). */
  readonly content: EncodedAuthenticatedContent;
  readonly commitSecret: Uint8Array;
  readonly pskSecret: Uint8Array;
}

export interface CommitScheduleOutput {
  readonly groupContext: GroupContext;
  readonly groupContextBytes: Uint8Array;
  readonly secrets: EpochSecrets;
  /** MAC(confirmation_key, confirmed_transcript_hash) of the new epoch (§6.1). */
  readonly confirmationTag: Uint8Array;
}

/** §8.2 then §8: the new confirmed transcript hash and GroupContext, the new epoch's secrets, its confirmation tag. */
export function runCommitSchedule(input: CommitScheduleInput): CommitScheduleOutput {
  const { suite } = input;
  const groupContext = confirmedGroupContext(suite, input.interimTranscriptHash, input.provisional, input.content);
  const confirmed = groupContext.confirmedTranscriptHash;
  const groupContextBytes = encode(groupContextCodec, groupContext);
  const secrets = deriveEpochSecrets(suite, {
    initSecret: input.initSecret,
    commitSecret: input.commitSecret,
    pskSecret: input.pskSecret,
    groupContext: groupContextBytes,
  });
  return { groupContext, groupContextBytes, secrets, confirmationTag: confirmationTag(suite, secrets.confirmationKey, confirmed) };
}

/**
 * §8.2: the new epoch's GroupContext from the provisional one (tree hash
 * set) and the commit: public data only, so a non-member (the DS) computes it too.
 */
export function confirmedGroupContext(suite: CipherSuite, interimBefore: Uint8Array, provisional: GroupContext, content: EncodedAuthenticatedContent): GroupContext {
  if (content.content.contentType !== ContentType.commit) throw new MlsError("INVALID_ARGUMENT", "ConfirmedTranscriptHashInput is defined for commits only");
  // §8.2: ConfirmedTranscriptHashInput = wire_format, the FramedContent, the signature.
  const confirmed = confirmedTranscriptHashOf(suite, interimBefore, content.wireFormat, content.contentBytes, content.auth.signature);
  return { ...provisional, confirmedTranscriptHash: confirmed };
}

/** interim_transcript_hash_[n] from the new epoch's confirmed transcript hash and confirmation tag (§8.2). */
export function nextInterimTranscriptHash(suite: CipherSuite, out: CommitScheduleOutput): Uint8Array {
  return interimTranscriptHash(suite, out.groupContext.confirmedTranscriptHash, out.confirmationTag);
}

/** The state of the epoch a commit starts, from the schedule's output: the same on the committer's and the receiver's side. */
export function epochStateAfterCommit(
  suite: CipherSuite,
  out: CommitScheduleOutput,
  member: Pick<NewEpochInput, "tree" | "privateKeys" | "signaturePrivateKey" | "previous" | "reinit">,
  config: GroupConfig,
): GroupState {
  // Fields spelled out rather than spread: this runs on every commit on both sides.
  const input: NewEpochInput = {
    suite,
    groupContext: out.groupContext,
    groupContextBytes: out.groupContextBytes,
    tree: member.tree,
    privateKeys: member.privateKeys,
    signaturePrivateKey: member.signaturePrivateKey,
    secrets: out.secrets,
    interimTranscriptHash: nextInterimTranscriptHash(suite, out),
    confirmationTag: out.confirmationTag,
    ...(member.previous === undefined ? {} : { previous: member.previous }),
    ...(member.reinit === undefined ? {} : { reinit: member.reinit }),
  };
  return newEpochState(input, config);
}
