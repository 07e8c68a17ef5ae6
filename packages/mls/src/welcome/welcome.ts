/**
 * The Welcome message (RFC 9420 §12.4.3.1), both sides, as far as the
 * cryptography goes:
 *
 *   welcome_secret          = DeriveSecret(KDF.Extract(joiner_secret, psk_secret), "welcome")
 *   encrypted_group_info    = AEAD.Seal(welcome_key, welcome_nonce, "", GroupInfo)
 *   encrypted_group_secrets = EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets)
 *
 * Joining checks what can be checked without the ratchet tree: the entry for
 * our KeyPackage, the PSKs, the GroupInfo signature (the caller supplies the
 * signer's key, or looks it up in the tree it has), the cipher suite, and the
 * confirmation tag against the epoch secrets derived from the joiner_secret.
 * Tree validation and building the group state belong to the group layer.
 */
import { bytesEqual, zeroize } from "../codec/bytes.js";
import { decode, encode } from "../codec/tls.js";
import type { CipherSuite, HpkeCiphertext } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { PskType, ResumptionPskUsage } from "../messages/enums.js";
import { groupInfoCodec, type GroupInfo } from "../messages/groupInfo.js";
import { keyPackageCodec, type KeyPackage } from "../messages/keyPackage.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import { makeKeyPackageRef } from "../messages/refs.js";
import { groupSecretsCodec, type EncryptedGroupSecrets, type GroupSecrets, type Welcome } from "../messages/welcome.js";
import { deriveEpochSecretsFromJoiner, deriveWelcomeSecret, verifyConfirmationTag, welcomeKeyAndNonce, type EpochSecrets } from "../schedule/keySchedule.js";
import { derivePskSecret } from "../schedule/pskSecret.js";
import { decodeGroupInfo, requireGroupInfoSignature, type DecodedGroupInfo } from "./groupInfoSignature.js";

export const WELCOME_LABEL = "Welcome";

/** Finds the secret a PreSharedKeyID names; undefined when we do not hold it. */
export type PskLookup = (id: PreSharedKeyId) => Uint8Array | undefined;

/** The signature key of the GroupInfo's signer: the LeafNode at `groupInfo.signer` in the ratchet tree; undefined for a blank leaf. */
export type GroupInfoSignerLookup = (groupInfo: GroupInfo) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface JoinWelcomeInput {
  readonly welcome: Welcome;
  /** KeyPackageRef (§5.2) of the KeyPackage the Welcome answers; see `makeKeyPackageRef`. */
  readonly keyPackageRef: Uint8Array;
  /** The HPKE private key of that KeyPackage's init_key. */
  readonly initPrivateKey: Uint8Array;
  /** The signer's signature public key, or a lookup in the ratchet tree. */
  readonly signerPublicKey: Uint8Array | GroupInfoSignerLookup;
  /** Needed only when the GroupSecrets list PSKs. */
  readonly psks?: PskLookup;
}

/** What a joiner has once the Welcome checks out. The secrets are the caller's to keep and later zeroize. */
export interface JoinedWelcome {
  readonly groupSecrets: GroupSecrets;
  readonly groupInfo: GroupInfo;
  /** The encoded GroupContext from the GroupInfo, ready for framing and the key schedule. */
  readonly groupContext: Uint8Array;
  readonly pskSecret: Uint8Array;
  /** The epoch's secrets, derived from the joiner_secret (§8). */
  readonly epochSecrets: EpochSecrets;
}

/** §12.4.3.1: the entry of `secrets` for our KeyPackage, in a Welcome of our suite. */
export function findEncryptedGroupSecrets(suite: CipherSuite, welcome: Welcome, keyPackageRef: Uint8Array): EncryptedGroupSecrets {
  if (welcome.cipherSuite !== suite.id) {
    throw new MlsError("WELCOME_INVALID", `Welcome is for cipher suite ${welcome.cipherSuite}, the KeyPackage for ${suite.id}`);
  }
  const entry = welcome.secrets.find((s) => bytesEqual(s.newMember, keyPackageRef));
  if (entry === undefined) throw new MlsError("WELCOME_NO_MATCHING_KEY_PACKAGE", "the Welcome has no entry for this KeyPackage");
  return entry;
}

/** §12.4.3.1: GroupSecrets = DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info, kem_output, ciphertext). */
export async function decryptGroupSecrets(suite: CipherSuite, welcome: Welcome, keyPackageRef: Uint8Array, initPrivateKey: Uint8Array): Promise<GroupSecrets> {
  const entry = findEncryptedGroupSecrets(suite, welcome, keyPackageRef);
  const { kemOutput, ciphertext } = entry.encryptedGroupSecrets;
  const plaintext = await suite.decryptWithLabel(initPrivateKey, WELCOME_LABEL, welcome.encryptedGroupInfo, kemOutput, ciphertext);
  try {
    return decode(groupSecretsCodec, plaintext);
  } finally {
    zeroize(plaintext);
  }
}

/**
 * §12.4.3.1 / §8.4: psk_secret for the PSKs a Welcome lists. Fails with
 * PSK_INVALID when one is not held, WELCOME_INVALID when more than one
 * resumption PSK has usage reinit or branch.
 */
export function welcomePskSecret(suite: CipherSuite, ids: readonly PreSharedKeyId[], lookup: PskLookup | undefined): Uint8Array {
  if (ids.length === 0) return new Uint8Array(suite.params.nh);
  const special = ids.filter(isReinitOrBranch).length;
  if (special > 1) throw new MlsError("WELCOME_INVALID", "more than one reinit/branch resumption PSK");
  const entries = ids.map((id) => {
    const psk = lookup?.(id);
    if (psk === undefined) throw new MlsError("PSK_INVALID", "the Welcome names a PSK we do not hold");
    return { id, psk };
  });
  return derivePskSecret(suite, entries);
}

function isReinitOrBranch(id: PreSharedKeyId): boolean {
  return id.pskType === PskType.resumption && (id.usage === ResumptionPskUsage.reinit || id.usage === ResumptionPskUsage.branch);
}

/** §12.4.3.1: decrypts encrypted_group_info with welcome_key / welcome_nonce (AAD empty). */
export async function decryptGroupInfo(suite: CipherSuite, welcome: Welcome, welcomeSecret: Uint8Array): Promise<DecodedGroupInfo> {
  const { key, nonce } = welcomeKeyAndNonce(suite, welcomeSecret);
  try {
    return decodeGroupInfo(await suite.aeadOpen(key, nonce, new Uint8Array(0), welcome.encryptedGroupInfo));
  } finally {
    zeroize(key);
    zeroize(nonce);
  }
}

/**
 * §12.4.3.1, the joiner: decrypt our GroupSecrets, derive welcome_secret
 * (with the PSKs), decrypt the GroupInfo, verify its signature and suite,
 * derive the epoch secrets and check the confirmation tag.
 *
 * Errors: WELCOME_INVALID (suite mismatch, PSK rules), WELCOME_NO_MATCHING_KEY_PACKAGE,
 * CRYPTO_DECRYPT_FAILED (wrong init key, tampered Welcome, wrong PSK),
 * PSK_INVALID (a PSK we lack), GROUP_INFO_INVALID_SIGNATURE (bad signature or
 * no key for the signer), MESSAGE_INVALID_CONFIRMATION_TAG, DECODE_*.
 */
export async function joinWelcome(suite: CipherSuite, input: JoinWelcomeInput): Promise<JoinedWelcome> {
  const { welcome } = input;
  const groupSecrets = await decryptGroupSecrets(suite, welcome, input.keyPackageRef, input.initPrivateKey);
  const pskSecret = welcomePskSecret(suite, groupSecrets.psks, input.psks);

  const welcomeSecret = deriveWelcomeSecret(suite, groupSecrets.joinerSecret, pskSecret);
  let decoded: DecodedGroupInfo;
  try {
    decoded = await decryptGroupInfo(suite, welcome, welcomeSecret);
  } finally {
    zeroize(welcomeSecret);
  }
  const { groupInfo } = decoded;

  const signerKey = typeof input.signerPublicKey === "function" ? await input.signerPublicKey(groupInfo) : input.signerPublicKey;
  if (signerKey === undefined) throw new MlsError("GROUP_INFO_INVALID_SIGNATURE", `no signature key for GroupInfo signer ${groupInfo.signer}`);
  await requireGroupInfoSignature(suite, signerKey, decoded);

  if (groupInfo.groupContext.cipherSuite !== suite.id) {
    throw new MlsError("WELCOME_INVALID", `GroupInfo is for cipher suite ${groupInfo.groupContext.cipherSuite}, the KeyPackage for ${suite.id}`);
  }
  // §12.4.3.1: a reinit or branch PSK only starts a new group, at epoch 1.
  if (groupSecrets.psks.some(isReinitOrBranch) && groupInfo.groupContext.epoch !== 1n) {
    throw new MlsError("WELCOME_INVALID", "a Welcome with a reinit/branch PSK must start epoch 1");
  }

  const epochSecrets = deriveEpochSecretsFromJoiner(suite, groupSecrets.joinerSecret, pskSecret, decoded.groupContext);
  if (!verifyConfirmationTag(suite, epochSecrets.confirmationKey, groupInfo.groupContext.confirmedTranscriptHash, groupInfo.confirmationTag)) {
    throw new MlsError("MESSAGE_INVALID_CONFIRMATION_TAG", "GroupInfo confirmation_tag does not match the epoch derived from the Welcome");
  }
  return { groupSecrets, groupInfo, groupContext: decoded.groupContext, pskSecret, epochSecrets };
}

// ---------------------------------------------------------------------------
// The committer's side

/** One new member of a Welcome: where its GroupSecrets go. */
export interface WelcomeRecipient {
  readonly keyPackageRef: Uint8Array;
  /** The KeyPackage's init_key (HPKE public key). */
  readonly initKey: Uint8Array;
  /** The path secret of the lowest node shared by the committer's and this member's direct paths, when the commit had a path. */
  readonly pathSecret?: Uint8Array;
}

/** A recipient from its KeyPackage (decoded, or its encoding, which saves a re-encode for the ref). */
export function welcomeRecipient(suite: CipherSuite, keyPackage: KeyPackage | Uint8Array, pathSecret?: Uint8Array): WelcomeRecipient {
  const kp = keyPackage instanceof Uint8Array ? decode(keyPackageCodec, keyPackage) : keyPackage;
  if (kp.cipherSuite !== suite.id) throw new MlsError("INVALID_ARGUMENT", `KeyPackage is for cipher suite ${kp.cipherSuite}, the group uses ${suite.id}`);
  const ref = makeKeyPackageRef(suite, keyPackage);
  return pathSecret === undefined ? { keyPackageRef: ref, initKey: kp.initKey } : { keyPackageRef: ref, initKey: kp.initKey, pathSecret };
}

export interface CreateWelcomeInput {
  /** The signed GroupInfo of the new epoch, or its encoding. */
  readonly groupInfo: GroupInfo | Uint8Array;
  readonly joinerSecret: Uint8Array;
  /** The PSKs of the commit, in order, and their psk_secret (§8.4). Omit both when there are none. */
  readonly psks?: readonly PreSharedKeyId[];
  readonly pskSecret?: Uint8Array;
  readonly recipients: readonly WelcomeRecipient[];
}

/** §12.4.3.1: encrypts the GroupInfo once and the GroupSecrets to each new member (EncryptWithLabel(init_key, "Welcome", encrypted_group_info, GroupSecrets)). */
export async function createWelcome(suite: CipherSuite, input: CreateWelcomeInput): Promise<Welcome> {
  const psks = input.psks ?? [];
  if (psks.length > 0 && input.pskSecret === undefined) throw new MlsError("INVALID_ARGUMENT", "PSKs listed without their psk_secret");
  if (psks.length === 0 && input.pskSecret !== undefined && input.pskSecret.some((b) => b !== 0)) {
    throw new MlsError("INVALID_ARGUMENT", "a psk_secret without the PSKs it came from");
  }
  const groupInfoBytes = input.groupInfo instanceof Uint8Array ? input.groupInfo : encode(groupInfoCodec, input.groupInfo);
  const suiteOfGroup = input.groupInfo instanceof Uint8Array ? decodeGroupInfo(input.groupInfo).groupInfo.groupContext.cipherSuite : input.groupInfo.groupContext.cipherSuite;
  if (suiteOfGroup !== suite.id) throw new MlsError("INVALID_ARGUMENT", `GroupInfo is for cipher suite ${suiteOfGroup}, not ${suite.id}`);

  const welcomeSecret = deriveWelcomeSecret(suite, input.joinerSecret, input.pskSecret);
  const { key, nonce } = welcomeKeyAndNonce(suite, welcomeSecret);
  let encryptedGroupInfo: Uint8Array;
  try {
    encryptedGroupInfo = await suite.aeadSeal(key, nonce, new Uint8Array(0), groupInfoBytes);
  } finally {
    zeroize(welcomeSecret);
    zeroize(key);
    zeroize(nonce);
  }

  // The EncryptContext (with the whole encrypted GroupInfo) is the same for every new member:
  // encoded and hashed once, not once per member, so an add stays linear in the group size.
  const seal = suite.encryptorWithLabel(WELCOME_LABEL, encryptedGroupInfo);
  // One list for every member's GroupSecrets: each is only encoded, never kept.
  const pskList = [...psks];
  const joinerSecret = input.joinerSecret;
  // A plain function, not an async one: it runs once per new member, mostly before it is optimized.
  const sealFor = (r: WelcomeRecipient): Promise<EncryptedGroupSecrets> => {
    const gs: GroupSecrets = r.pathSecret === undefined ? { joinerSecret, psks: pskList } : { joinerSecret, psks: pskList, pathSecret: { pathSecret: r.pathSecret } };
    const plaintext = encode(groupSecretsCodec, gs);
    let sealed: Promise<HpkeCiphertext>;
    try {
      sealed = seal(r.initKey, plaintext);
    } catch (e) {
      zeroize(plaintext);
      return Promise.reject(e);
    }
    return sealed.then(
      (encryptedGroupSecrets) => {
        zeroize(plaintext);
        return { newMember: r.keyPackageRef, encryptedGroupSecrets };
      },
      (e: unknown) => {
        zeroize(plaintext);
        throw e;
      },
    );
  };
  const secrets = await Promise.all(input.recipients.map(sealFor));
  return { cipherSuite: suite.id, secrets, encryptedGroupInfo };
}
