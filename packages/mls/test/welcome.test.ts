/**
 * welcome.json (RFC 9420 §12.4.3.1) for both providers: decrypt the group
 * secrets and the GroupInfo, verify the signature and the confirmation tag;
 * then the committer's side, whose encrypted_group_info must equal the
 * vector's byte for byte (the AEAD is deterministic given the same GroupInfo).
 * Failure codes for the ways a Welcome can be wrong.
 */
import { afterAll, describe, expect, it } from "vitest";
import { toHex } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import { PskType, ResumptionPskUsage, WireFormat } from "../src/messages/enums.js";
import { groupContextCodec } from "../src/messages/groupContext.js";
import { groupInfoCodec, type GroupInfo } from "../src/messages/groupInfo.js";
import { keyPackageCodec, type KeyPackage } from "../src/messages/keyPackage.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import type { PreSharedKeyId } from "../src/messages/psk.js";
import { makeKeyPackageRef } from "../src/messages/refs.js";
import { welcomeCodec, type Welcome } from "../src/messages/welcome.js";
import { confirmationTag, deriveEpochSecretsFromJoiner } from "../src/schedule/keySchedule.js";
import { derivePskSecret } from "../src/schedule/pskSecret.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { createWelcome, decodeGroupInfo, decryptGroupSecrets, joinWelcome, signGroupInfo, verifyGroupInfoSignature, welcomeRecipient, type JoinedWelcome } from "../src/welcome/index.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";
import { codeOf } from "./support/errors.js";

interface WelcomeVector {
  cipher_suite: number;
  init_priv: string;
  signer_pub: string;
  key_package: string;
  welcome: string;
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

/** The vector's KeyPackage (and its encoding without the MLSMessage header) and Welcome. */
function parse(v: WelcomeVector): { keyPackage: KeyPackage; keyPackageBytes: Uint8Array; welcome: Welcome } {
  const kpMsg = hex(v.key_package);
  const kp = decode(mlsMessageCodec, kpMsg);
  const w = decode(mlsMessageCodec, hex(v.welcome));
  if (kp.wireFormat !== WireFormat.keyPackage || w.wireFormat !== WireFormat.welcome) throw new Error("unexpected wire formats");
  // MLSMessage = version(2) || wire_format(2) || KeyPackage
  return { keyPackage: kp.keyPackage, keyPackageBytes: kpMsg.subarray(4), welcome: w.welcome };
}

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("welcome.json (RFC 9420 §12.4.3.1) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`welcome.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<WelcomeVector[]>("welcome") : [];

  it.each(vectors.map((v) => [v.cipher_suite, v] as const))("cipher suite %i", async (suiteId, v) => {
    const cs = provider.suite(suiteId);
    const { keyPackage, keyPackageBytes, welcome } = parse(v);
    expect(toHex(encode(welcomeCodec, welcome))).toBe(v.welcome.slice(8));
    const ref = makeKeyPackageRef(cs, keyPackageBytes);
    expect(toHex(makeKeyPackageRef(cs, keyPackage))).toBe(toHex(ref));
    const initPriv = hex(v.init_priv);
    expect(toHex(await cs.hpkePublicKey(initPriv))).toBe(toHex(keyPackage.initKey));

    const joined = await joinWelcome(cs, { welcome, keyPackageRef: ref, initPrivateKey: initPriv, signerPublicKey: hex(v.signer_pub) });
    const gi = joined.groupInfo;
    // The checks joinWelcome made, repeated from the outside.
    expect(await verifyGroupInfoSignature(cs, hex(v.signer_pub), gi)).toBe(true);
    expect(toHex(joined.groupContext)).toBe(toHex(encode(groupContextCodec, gi.groupContext)));
    const epoch = deriveEpochSecretsFromJoiner(cs, joined.groupSecrets.joinerSecret, undefined, joined.groupContext);
    expect(toHex(confirmationTag(cs, epoch.confirmationKey, gi.groupContext.confirmedTranscriptHash))).toBe(toHex(gi.confirmationTag));
    expect(toHex(joined.epochSecrets.confirmationKey)).toBe(toHex(epoch.confirmationKey));
    expect(gi.groupContext.cipherSuite).toBe(suiteId);
    expect(joined.groupSecrets.psks).toEqual([]);
    expect(toHex(joined.pskSecret)).toBe("00".repeat(cs.params.nh));

    // The signer found by lookup instead of given.
    const viaLookup = await joinWelcome(cs, {
      welcome,
      keyPackageRef: ref,
      initPrivateKey: initPriv,
      signerPublicKey: async (g) => (g.signer === gi.signer ? hex(v.signer_pub) : undefined),
    });
    expect(toHex(viaLookup.epochSecrets.epochAuthenticator)).toBe(toHex(joined.epochSecrets.epochAuthenticator));

    // Committer's side: the same GroupInfo and joiner_secret give the vector's encrypted_group_info.
    const recipient = welcomeRecipient(cs, keyPackageBytes, joined.groupSecrets.pathSecret?.pathSecret);
    const ours = await createWelcome(cs, { groupInfo: gi, joinerSecret: joined.groupSecrets.joinerSecret, recipients: [recipient] });
    expect(toHex(ours.encryptedGroupInfo)).toBe(toHex(welcome.encryptedGroupInfo));
    const rejoined = await joinWelcome(cs, { welcome: ours, keyPackageRef: ref, initPrivateKey: initPriv, signerPublicKey: hex(v.signer_pub) });
    expectSameJoin(rejoined, joined);
    tally.pass();
  });
});

function expectSameJoin(a: JoinedWelcome, b: JoinedWelcome): void {
  expect(toHex(encode(groupInfoCodec, a.groupInfo))).toBe(toHex(encode(groupInfoCodec, b.groupInfo)));
  expect(toHex(a.groupSecrets.joinerSecret)).toBe(toHex(b.groupSecrets.joinerSecret));
  expect(a.groupSecrets.pathSecret === undefined ? undefined : toHex(a.groupSecrets.pathSecret.pathSecret)).toBe(
    b.groupSecrets.pathSecret === undefined ? undefined : toHex(b.groupSecrets.pathSecret.pathSecret),
  );
  expect(toHex(a.epochSecrets.epochAuthenticator)).toBe(toHex(b.epochSecrets.epochAuthenticator));
  expect(toHex(a.epochSecrets.encryptionSecret)).toBe(toHex(b.epochSecrets.encryptionSecret));
}

// ---------------------------------------------------------------------------
// Synthetic Welcomes: our own group, our own signer, for the failure modes.

async function fixture(cs: CipherSuite, opts: { psks?: PreSharedKeyId[]; psk?: Uint8Array[]; epoch?: bigint; badTag?: boolean } = {}) {
  const signer = await cs.signatureGenerateKeyPair();
  const members = [await cs.hpkeGenerateKeyPair(), await cs.hpkeGenerateKeyPair()];
  const refs = [cs.randomBytes(cs.params.nh), cs.randomBytes(cs.params.nh)];
  const joinerSecret = cs.randomBytes(cs.params.nh);
  const psks = opts.psks ?? [];
  const pskSecret =
    psks.length === 0
      ? undefined
      : derivePskSecret(
          cs,
          psks.map((id, i) => ({ id, psk: opts.psk![i]! })),
        );
  const groupContext = {
    version: 1 as const,
    cipherSuite: cs.id,
    groupId: new Uint8Array([7, 7, 7]),
    epoch: opts.epoch ?? 5n,
    treeHash: new Uint8Array(cs.params.nh).fill(1),
    confirmedTranscriptHash: new Uint8Array(cs.params.nh).fill(2),
    extensions: [],
  };
  const epoch = deriveEpochSecretsFromJoiner(cs, joinerSecret, pskSecret, encode(groupContextCodec, groupContext));
  let tag = confirmationTag(cs, epoch.confirmationKey, groupContext.confirmedTranscriptHash);
  if (opts.badTag === true) tag = tag.map((b, i) => (i === 0 ? b ^ 1 : b));
  const groupInfo: GroupInfo = await signGroupInfo(cs, signer.privateKey, { groupContext, extensions: [], confirmationTag: tag, signer: leafIndex(0) });
  const welcome = await createWelcome(cs, {
    groupInfo,
    joinerSecret,
    psks,
    ...(pskSecret === undefined ? {} : { pskSecret }),
    recipients: [
      { keyPackageRef: refs[0]!, initKey: members[0]!.publicKey, pathSecret: new Uint8Array([1, 2, 3]) },
      { keyPackageRef: refs[1]!, initKey: members[1]!.publicKey },
    ],
  });
  return { signer, members, refs, welcome, groupInfo, epoch };
}

const externalPsk = (n: number): PreSharedKeyId => ({ pskType: PskType.external, pskId: new Uint8Array([n]), pskNonce: new Uint8Array(32).fill(n) });
const resumption = (usage: ResumptionPskUsage): PreSharedKeyId => ({
  pskType: PskType.resumption,
  usage,
  pskGroupId: new Uint8Array([1]),
  pskEpoch: 3n,
  pskNonce: new Uint8Array(32),
});

describe.each([1, 2, 5])("Welcome behaviour, cipher suite %i", (suiteId) => {
  const cs = nodeCryptoProvider.suite(suiteId);

  it("each recipient finds its own entry; path secrets go only where given", async () => {
    const f = await fixture(cs);
    const a = await joinWelcome(cs, { welcome: f.welcome, keyPackageRef: f.refs[0]!, initPrivateKey: f.members[0]!.privateKey, signerPublicKey: f.signer.publicKey });
    const b = await joinWelcome(cs, { welcome: f.welcome, keyPackageRef: f.refs[1]!, initPrivateKey: f.members[1]!.privateKey, signerPublicKey: f.signer.publicKey });
    expect(toHex(a.groupSecrets.pathSecret!.pathSecret)).toBe("010203");
    expect(b.groupSecrets.pathSecret).toBeUndefined();
    expect(toHex(a.epochSecrets.exporterSecret)).toBe(toHex(f.epoch.exporterSecret));
    expect(toHex(b.epochSecrets.exporterSecret)).toBe(toHex(f.epoch.exporterSecret));
    // The Welcome survives the wire.
    const wire = decode(welcomeCodec, encode(welcomeCodec, f.welcome));
    await joinWelcome(cs, { welcome: wire, keyPackageRef: f.refs[1]!, initPrivateKey: f.members[1]!.privateKey, signerPublicKey: f.signer.publicKey });
  });

  it("a Welcome for someone else is WELCOME_NO_MATCHING_KEY_PACKAGE; another suite is WELCOME_INVALID", async () => {
    const f = await fixture(cs);
    const base = { welcome: f.welcome, initPrivateKey: f.members[0]!.privateKey, signerPublicKey: f.signer.publicKey };
    expect(await codeOf(joinWelcome(cs, { ...base, keyPackageRef: cs.randomBytes(cs.params.nh) }))).toBe("WELCOME_NO_MATCHING_KEY_PACKAGE");
    expect(await codeOf(decryptGroupSecrets(cs, f.welcome, new Uint8Array(0), base.initPrivateKey))).toBe("WELCOME_NO_MATCHING_KEY_PACKAGE");
    expect(await codeOf(joinWelcome(cs, { ...base, keyPackageRef: f.refs[0]!, welcome: { ...f.welcome, cipherSuite: suiteId === 1 ? 3 : 1 } }))).toBe("WELCOME_INVALID");
  });

  it("the wrong init key or a tampered Welcome fails to decrypt (CRYPTO_DECRYPT_FAILED)", async () => {
    const f = await fixture(cs);
    const base = { welcome: f.welcome, keyPackageRef: f.refs[0]!, initPrivateKey: f.members[0]!.privateKey, signerPublicKey: f.signer.publicKey };
    expect(await codeOf(joinWelcome(cs, { ...base, initPrivateKey: f.members[1]!.privateKey }))).toBe("CRYPTO_DECRYPT_FAILED");
    // encrypted_group_info is the HPKE context of the group secrets, so its tampering already breaks them.
    const egi = f.welcome.encryptedGroupInfo.slice();
    egi[0]! ^= 1;
    expect(await codeOf(joinWelcome(cs, { ...base, welcome: { ...f.welcome, encryptedGroupInfo: egi } }))).toBe("CRYPTO_DECRYPT_FAILED");
    const entry = f.welcome.secrets[0]!;
    const ct = entry.encryptedGroupSecrets.ciphertext.slice();
    ct[ct.length - 1]! ^= 1;
    const tampered = { ...f.welcome, secrets: [{ newMember: entry.newMember, encryptedGroupSecrets: { kemOutput: entry.encryptedGroupSecrets.kemOutput, ciphertext: ct } }] };
    expect(await codeOf(joinWelcome(cs, { ...base, welcome: tampered }))).toBe("CRYPTO_DECRYPT_FAILED");
  });

  it("verifies the GroupInfo signature (GROUP_INFO_INVALID_SIGNATURE) and the confirmation tag (MESSAGE_INVALID_CONFIRMATION_TAG)", async () => {
    const f = await fixture(cs);
    const base = { welcome: f.welcome, keyPackageRef: f.refs[0]!, initPrivateKey: f.members[0]!.privateKey };
    const stranger = await cs.signatureGenerateKeyPair();
    expect(await codeOf(joinWelcome(cs, { ...base, signerPublicKey: stranger.publicKey }))).toBe("GROUP_INFO_INVALID_SIGNATURE");
    expect(await codeOf(joinWelcome(cs, { ...base, signerPublicKey: () => undefined }))).toBe("GROUP_INFO_INVALID_SIGNATURE");
    // A GroupInfo re-signed after a change no longer matches the old signature.
    const changed = { ...f.groupInfo, signer: leafIndex(1) };
    expect(await verifyGroupInfoSignature(cs, f.signer.publicKey, changed)).toBe(false);
    const decoded = decodeGroupInfo(encode(groupInfoCodec, f.groupInfo));
    expect(await verifyGroupInfoSignature(cs, f.signer.publicKey, decoded)).toBe(true);

    const bad = await fixture(cs, { badTag: true });
    expect(await codeOf(joinWelcome(cs, { welcome: bad.welcome, keyPackageRef: bad.refs[0]!, initPrivateKey: bad.members[0]!.privateKey, signerPublicKey: bad.signer.publicKey }))).toBe(
      "MESSAGE_INVALID_CONFIRMATION_TAG",
    );
  });

  it("PSKs: the joiner needs every listed PSK (PSK_INVALID) with the right value, and at most one reinit/branch PSK", async () => {
    const ids = [externalPsk(1), externalPsk(2)];
    const values = [new Uint8Array(32).fill(0xa1), new Uint8Array(32).fill(0xa2)];
    const f = await fixture(cs, { psks: ids, psk: values });
    const base = { welcome: f.welcome, keyPackageRef: f.refs[1]!, initPrivateKey: f.members[1]!.privateKey, signerPublicKey: f.signer.publicKey };
    const lookup = (id: PreSharedKeyId) => (id.pskType === PskType.external ? values[id.pskId[0]! - 1] : undefined);
    const joined = await joinWelcome(cs, { ...base, psks: lookup });
    expect(joined.groupSecrets.psks).toEqual(ids);
    expect(toHex(joined.epochSecrets.epochAuthenticator)).toBe(toHex(f.epoch.epochAuthenticator));
    expect(await codeOf(joinWelcome(cs, base))).toBe("PSK_INVALID");
    expect(await codeOf(joinWelcome(cs, { ...base, psks: (id) => (id.pskType === PskType.external && id.pskId[0] === 1 ? values[0] : undefined) }))).toBe("PSK_INVALID");
    // A wrong PSK value gives another welcome_secret: the GroupInfo does not decrypt.
    expect(await codeOf(joinWelcome(cs, { ...base, psks: () => new Uint8Array(32) }))).toBe("CRYPTO_DECRYPT_FAILED");
    // The committer must hand over the psk_secret with the list.
    expect(await codeOf(createWelcome(cs, { groupInfo: f.groupInfo, joinerSecret: new Uint8Array(cs.params.nh), psks: ids, recipients: [] }))).toBe("INVALID_ARGUMENT");

    const twoSpecial = [resumption(ResumptionPskUsage.reinit), resumption(ResumptionPskUsage.branch)];
    const g = await fixture(cs, { psks: twoSpecial, psk: values, epoch: 1n });
    expect(
      await codeOf(joinWelcome(cs, { welcome: g.welcome, keyPackageRef: g.refs[0]!, initPrivateKey: g.members[0]!.privateKey, signerPublicKey: g.signer.publicKey, psks: () => values[0] })),
    ).toBe("WELCOME_INVALID");
    // One branch PSK is fine at epoch 1, not at another epoch.
    const branchOk = await fixture(cs, { psks: [resumption(ResumptionPskUsage.branch)], psk: [values[0]!], epoch: 1n });
    await joinWelcome(cs, {
      welcome: branchOk.welcome,
      keyPackageRef: branchOk.refs[0]!,
      initPrivateKey: branchOk.members[0]!.privateKey,
      signerPublicKey: branchOk.signer.publicKey,
      psks: () => values[0],
    });
    const branchLate = await fixture(cs, { psks: [resumption(ResumptionPskUsage.branch)], psk: [values[0]!], epoch: 4n });
    expect(
      await codeOf(
        joinWelcome(cs, {
          welcome: branchLate.welcome,
          keyPackageRef: branchLate.refs[0]!,
          initPrivateKey: branchLate.members[0]!.privateKey,
          signerPublicKey: branchLate.signer.publicKey,
          psks: () => values[0],
        }),
      ),
    ).toBe("WELCOME_INVALID");
  });

  it("welcomeRecipient computes the KeyPackageRef and refuses a KeyPackage of another suite", async () => {
    if (!haveVectors) return;
    const v = loadVectors<WelcomeVector[]>("welcome").find((x) => x.cipher_suite === suiteId)!;
    const { keyPackage, keyPackageBytes } = parse(v);
    const r = welcomeRecipient(cs, keyPackage);
    expect(toHex(r.keyPackageRef)).toBe(toHex(makeKeyPackageRef(cs, keyPackageBytes)));
    expect(toHex(r.initKey)).toBe(toHex(keyPackage.initKey));
    expect(() => welcomeRecipient(nodeCryptoProvider.suite(suiteId === 1 ? 3 : 1), keyPackage)).toThrow(MlsError);
    expect(toHex(encode(keyPackageCodec, keyPackage))).toBe(toHex(keyPackageBytes));
  });
});
