/**
 * The MLS key schedule (RFC 9420 §8): from the previous epoch's init_secret,
 * the commit_secret, the psk_secret and the new GroupContext to every secret
 * of the new epoch, plus the small MAC-based helpers keyed by those secrets
 * (confirmation tag §6.1, membership tag §6.2), the exporter (§8.5) and the
 * external-init key pair and secret (§8, §8.3).
 *
 * Everything but the HPKE parts is synchronous. The GroupContext is passed
 * encoded: the caller encodes it once and reuses the bytes for signatures.
 *
 * Deletion (§9.2): the intermediate extract outputs and epoch_secret are
 * zeroized here. The inputs (init_secret, commit_secret, psk_secret) belong to
 * the caller, who must delete them once the epoch is set up.
 */
import type { CipherSuite, KeyPair } from "../crypto/cipherSuite.js";
import { constantTimeEqual, utf8, zeroize } from "../codec/bytes.js";
import { MlsError } from "../errors.js";

/**
 * The secrets of one epoch (§8, table "Epoch-Derived Secrets"), plus the
 * joiner secret and the next init_secret. welcome_secret is not here: only a
 * Welcome's sender and its joiners need it, and they derive it from the
 * joiner secret ({@link deriveWelcomeSecret}), so an epoch change does not.
 */
export interface EpochSecrets {
  /** Goes to new members in GroupSecrets (§12.4.3.1). */
  readonly joinerSecret: Uint8Array;
  readonly senderDataSecret: Uint8Array;
  /** The root of the secret tree (§9). */
  readonly encryptionSecret: Uint8Array;
  readonly exporterSecret: Uint8Array;
  readonly externalSecret: Uint8Array;
  readonly confirmationKey: Uint8Array;
  readonly membershipKey: Uint8Array;
  readonly resumptionPsk: Uint8Array;
  readonly epochAuthenticator: Uint8Array;
  /** init_secret_[n]: feeds the key schedule of the next epoch. */
  readonly initSecret: Uint8Array;
}

export interface KeyScheduleInput {
  /** init_secret_[n-1], or the external init secret (§8.3), or a fresh random value for a new group (§11). */
  readonly initSecret: Uint8Array;
  /** commit_secret from the UpdatePath, or Nh zero bytes when there is none (§12.4). */
  readonly commitSecret: Uint8Array;
  /** §8.4 psk_secret; Nh zero bytes when omitted. */
  readonly pskSecret?: Uint8Array | undefined;
  /** The encoded GroupContext of the new epoch (GroupContext_[n]). */
  readonly groupContext: Uint8Array;
}

/** §8: joiner_secret = ExpandWithLabel(KDF.Extract(init_secret, commit_secret), "joiner", GroupContext_[n], Nh). */
export function deriveJoinerSecret(cs: CipherSuite, initSecret: Uint8Array, commitSecret: Uint8Array, groupContext: Uint8Array): Uint8Array {
  // Diagram convention of §8: salt from the top (init_secret), IKM from the left (commit_secret).
  const prk = cs.kdfExtract(initSecret, commitSecret);
  const joiner = cs.expandWithLabel(prk, "joiner", groupContext, cs.params.nh);
  zeroize(prk);
  return joiner;
}

/** The secret between joiner_secret and epoch_secret: KDF.Extract(joiner_secret, psk_secret or 0). */
function memberSecret(cs: CipherSuite, joinerSecret: Uint8Array, pskSecret: Uint8Array | undefined): Uint8Array {
  const nh = cs.params.nh;
  if (pskSecret !== undefined && pskSecret.length !== nh) {
    throw new MlsError("INVALID_ARGUMENT", `psk_secret must be ${nh} bytes, got ${pskSecret.length}`);
  }
  return cs.kdfExtract(joinerSecret, pskSecret ?? new Uint8Array(nh));
}

/** §8: welcome_secret = DeriveSecret(KDF.Extract(joiner_secret, psk_secret), "welcome"). */
export function deriveWelcomeSecret(cs: CipherSuite, joinerSecret: Uint8Array, pskSecret?: Uint8Array): Uint8Array {
  const member = memberSecret(cs, joinerSecret, pskSecret);
  const welcome = cs.deriveSecret(member, "welcome");
  zeroize(member);
  return welcome;
}

/** §12.4.3.1: the AEAD key and nonce that protect a Welcome's encrypted GroupInfo. */
export function welcomeKeyAndNonce(cs: CipherSuite, welcomeSecret: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const empty = new Uint8Array(0);
  return {
    key: cs.expandWithLabel(welcomeSecret, "key", empty, cs.params.nk),
    nonce: cs.expandWithLabel(welcomeSecret, "nonce", empty, cs.params.nn),
  };
}

/**
 * The rest of the schedule from the joiner_secret: what a new member runs after
 * decrypting GroupSecrets (§12.4.3.1), and the second half of {@link deriveEpochSecrets}.
 */
export function deriveEpochSecretsFromJoiner(cs: CipherSuite, joinerSecret: Uint8Array, pskSecret: Uint8Array | undefined, groupContext: Uint8Array): EpochSecrets {
  const member = memberSecret(cs, joinerSecret, pskSecret);
  const epochSecret = cs.expandWithLabel(member, "epoch", groupContext, cs.params.nh);
  zeroize(member);
  // §8 table "Epoch-Derived Secrets"
  const secrets: EpochSecrets = {
    joinerSecret,
    senderDataSecret: cs.deriveSecret(epochSecret, "sender data"),
    encryptionSecret: cs.deriveSecret(epochSecret, "encryption"),
    exporterSecret: cs.deriveSecret(epochSecret, "exporter"),
    externalSecret: cs.deriveSecret(epochSecret, "external"),
    confirmationKey: cs.deriveSecret(epochSecret, "confirm"),
    membershipKey: cs.deriveSecret(epochSecret, "membership"),
    resumptionPsk: cs.deriveSecret(epochSecret, "resumption"),
    epochAuthenticator: cs.deriveSecret(epochSecret, "authentication"),
    initSecret: cs.deriveSecret(epochSecret, "init"),
  };
  // §9.2: epoch_secret is consumed once everything is derived from it.
  zeroize(epochSecret);
  return secrets;
}

/** §8: one full step of the key schedule, init_secret_[n-1] to the secrets of epoch n. */
export function deriveEpochSecrets(cs: CipherSuite, input: KeyScheduleInput): EpochSecrets {
  const joiner = deriveJoinerSecret(cs, input.initSecret, input.commitSecret, input.groupContext);
  return deriveEpochSecretsFromJoiner(cs, joiner, input.pskSecret, input.groupContext);
}

/** Overwrites every secret of an epoch (when the epoch falls out of the retention window). */
export function zeroizeEpochSecrets(s: EpochSecrets): void {
  for (const v of Object.values(s) as Uint8Array[]) zeroize(v);
}

/** §8.5: MLS-Exporter(Label, Context, Length) = ExpandWithLabel(DeriveSecret(exporter_secret, Label), "exported", Hash(Context), Length). */
export function mlsExporter(cs: CipherSuite, exporterSecret: Uint8Array, label: string, context: Uint8Array, length: number): Uint8Array {
  const derived = cs.deriveSecret(exporterSecret, label);
  const out = cs.expandWithLabel(derived, "exported", cs.hash(context), length);
  zeroize(derived);
  return out;
}

/** §8: external_priv, external_pub = KEM.DeriveKeyPair(external_secret). */
export function deriveExternalKeyPair(cs: CipherSuite, externalSecret: Uint8Array): Promise<KeyPair> {
  return cs.hpkeDeriveKeyPair(externalSecret);
}

/** The HPKE exporter context of §8.3. */
const EXTERNAL_INIT_CONTEXT = utf8("MLS 1.0 external init secret");

/** §8.3, joiner side: kem_output, context = SetupBaseS(external_pub, ""); init_secret = context.export("MLS 1.0 external init secret", Nh). */
export async function externalInitSecretSend(cs: CipherSuite, externalPub: Uint8Array): Promise<{ kemOutput: Uint8Array; initSecret: Uint8Array }> {
  const { kemOutput, secret } = await cs.hpkeExportSender(externalPub, new Uint8Array(0), EXTERNAL_INIT_CONTEXT, cs.params.nh);
  return { kemOutput, initSecret: secret };
}

/** §8.3, member side: the same init_secret from the ExternalInit proposal's kem_output. */
export function externalInitSecretReceive(cs: CipherSuite, externalPriv: Uint8Array, kemOutput: Uint8Array): Promise<Uint8Array> {
  return cs.hpkeExportReceiver(externalPriv, kemOutput, new Uint8Array(0), EXTERNAL_INIT_CONTEXT, cs.params.nh);
}

/** §6.1: confirmation_tag = MAC(confirmation_key, GroupContext.confirmed_transcript_hash). */
export function confirmationTag(cs: CipherSuite, confirmationKey: Uint8Array, confirmedTranscriptHash: Uint8Array): Uint8Array {
  return cs.mac(confirmationKey, confirmedTranscriptHash);
}

/** Constant-time check of a received confirmation tag (§6.1). */
export function verifyConfirmationTag(cs: CipherSuite, confirmationKey: Uint8Array, confirmedTranscriptHash: Uint8Array, tag: Uint8Array): boolean {
  return constantTimeEqual(cs.mac(confirmationKey, confirmedTranscriptHash), tag);
}

/** §6.2: membership_tag = MAC(membership_key, AuthenticatedContentTBM), the TBM given encoded. */
export function membershipTag(cs: CipherSuite, membershipKey: Uint8Array, authenticatedContentTbm: Uint8Array): Uint8Array {
  return cs.mac(membershipKey, authenticatedContentTbm);
}

/** Constant-time check of a PublicMessage's membership tag (§6.2). */
export function verifyMembershipTag(cs: CipherSuite, membershipKey: Uint8Array, authenticatedContentTbm: Uint8Array, tag: Uint8Array): boolean {
  return constantTimeEqual(cs.mac(membershipKey, authenticatedContentTbm), tag);
}
