/**
 * Runs official mlswg test vectors inside a browser page with the web crypto
 * provider (bundled by vectors-chromium.test.ts with esbuild for the browser
 * platform). Each file's cases are checked byte for byte against what
 * packages/mls computes here; the page returns the tally and every mismatch.
 * The same checks run on Node in packages/mls/test/*.test.ts; this is the
 * proof that the browser build computes the same bytes.
 */
import { bytesEqual, fromHex as hex, toHex } from "../../../mls/src/codec/bytes.js";
import { decode, encode } from "../../../mls/src/codec/tls.js";
import type { CipherSuite, CipherSuiteId, CryptoProvider } from "../../../mls/src/crypto/cipherSuite.js";
import { createWebCryptoProvider, webCryptoProvider } from "../../../mls/src/crypto/web/index.js";
import {
  createFramingContext,
  protectPrivateMessage,
  signFramedContent,
  unprotectPrivateMessage,
  unprotectPublicMessage,
  withConfirmationTag,
  type SignatureKeyLookup,
} from "../../../mls/src/framing/index.js";
import type { FramedContentBody } from "../../../mls/src/messages/framing.js";
import { commitCodec } from "../../../mls/src/messages/commit.js";
import { ContentType, ProtocolVersion, SenderType, WireFormat } from "../../../mls/src/messages/enums.js";
import { groupContextCodec } from "../../../mls/src/messages/groupContext.js";
import { mlsMessageCodec } from "../../../mls/src/messages/mlsMessage.js";
import { proposalCodec } from "../../../mls/src/messages/proposal.js";
import { makeKeyPackageRef } from "../../../mls/src/messages/refs.js";
import { deriveEpochSecrets, deriveEpochSecretsFromJoiner, deriveExternalKeyPair, deriveWelcomeSecret, mlsExporter } from "../../../mls/src/schedule/keySchedule.js";
import { SecretTree } from "../../../mls/src/schedule/secretTree.js";
import { createWelcome, joinWelcome, welcomeRecipient } from "../../../mls/src/welcome/index.js";

export interface FileResult {
  readonly file: string;
  readonly provider: string;
  readonly cases: number;
  readonly passed: number;
  readonly suites: number[];
  readonly failures: string[];
  /** What the page's WebCrypto offered natively (the provider probes it). */
  readonly userAgent: string;
}

// biome-ignore lint/suspicious/noExplicitAny: vector JSON as published, read field by field
type Json = Record<string, any>;

/** Collects mismatches of one case instead of stopping at the first. */
class Case {
  readonly failures: string[] = [];
  constructor(readonly name: string) {}
  eq(got: Uint8Array | string, want: string, what: string): void {
    const g = typeof got === "string" ? got : toHex(got);
    if (g !== want) this.failures.push(`${this.name}: ${what}: got ${g.slice(0, 32)}…, want ${want.slice(0, 32)}…`);
  }
  ok(cond: boolean, what: string): void {
    if (!cond) this.failures.push(`${this.name}: ${what}`);
  }
}

async function cryptoBasics(p: CryptoProvider, c: Case, v: Json): Promise<void> {
  const s = p.suite(v.cipher_suite as CipherSuiteId);
  c.eq(s.refHash(v.ref_hash.label, hex(v.ref_hash.value)), v.ref_hash.out, "ref_hash");
  const e = v.expand_with_label;
  c.eq(s.expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length), e.out, "expand_with_label");
  c.eq(s.deriveSecret(hex(v.derive_secret.secret), v.derive_secret.label), v.derive_secret.out, "derive_secret");
  const t = v.derive_tree_secret;
  c.eq(s.deriveTreeSecret(hex(t.secret), t.label, t.generation, t.length), t.out, "derive_tree_secret");
  const g = v.sign_with_label;
  c.eq(await s.signaturePublicKey(hex(g.priv)), g.pub, "signature public key");
  c.ok(await s.verifyWithLabel(hex(g.pub), g.label, hex(g.content), hex(g.signature)), "vector signature verifies");
  c.ok(!(await s.verifyWithLabel(hex(g.pub), `${g.label}x`, hex(g.content), hex(g.signature))), "signature under another label must not verify");
  const ours = await s.signWithLabel(signaturePriv(s, hex(g.priv)), g.label, hex(g.content));
  c.ok(await s.verifyWithLabel(hex(g.pub), g.label, hex(g.content), ours), "our signature verifies");
  const x = v.encrypt_with_label;
  c.eq(await s.hpkePublicKey(hex(x.priv)), x.pub, "HPKE public key");
  c.eq(await s.decryptWithLabel(hex(x.priv), x.label, hex(x.context), hex(x.kem_output), hex(x.ciphertext)), x.plaintext, "decrypt_with_label");
  const sealed = await s.encryptWithLabel(hex(x.pub), x.label, hex(x.context), hex(x.plaintext));
  c.eq(await s.decryptWithLabel(hex(x.priv), x.label, hex(x.context), sealed.kemOutput, sealed.ciphertext), x.plaintext, "encrypt_with_label round trip");
}

async function keySchedule(p: CryptoProvider, c: Case, v: Json): Promise<void> {
  const cs = p.suite(v.cipher_suite as CipherSuiteId);
  let initSecret = hex(v.initial_init_secret);
  for (let i = 0; i < v.epochs.length; i++) {
    const e = v.epochs[i];
    const groupContext = encode(groupContextCodec, {
      version: ProtocolVersion.mls10,
      cipherSuite: v.cipher_suite,
      groupId: hex(v.group_id),
      epoch: BigInt(i),
      treeHash: hex(e.tree_hash),
      confirmedTranscriptHash: hex(e.confirmed_transcript_hash),
      extensions: [],
    });
    c.eq(groupContext, e.group_context, `epoch ${i} group_context`);
    const s = deriveEpochSecrets(cs, { initSecret, commitSecret: hex(e.commit_secret), pskSecret: hex(e.psk_secret), groupContext });
    const fields: [Uint8Array, string][] = [
      [s.joinerSecret, "joiner_secret"],
      [deriveWelcomeSecret(cs, s.joinerSecret, hex(e.psk_secret)), "welcome_secret"],
      [s.initSecret, "init_secret"],
      [s.senderDataSecret, "sender_data_secret"],
      [s.encryptionSecret, "encryption_secret"],
      [s.exporterSecret, "exporter_secret"],
      [s.epochAuthenticator, "epoch_authenticator"],
      [s.externalSecret, "external_secret"],
      [s.confirmationKey, "confirmation_key"],
      [s.membershipKey, "membership_key"],
      [s.resumptionPsk, "resumption_psk"],
    ];
    for (const [got, name] of fields) c.eq(got, e[name], `epoch ${i} ${name}`);
    c.eq(deriveWelcomeSecret(cs, hex(e.joiner_secret), hex(e.psk_secret)), e.welcome_secret, `epoch ${i} welcome_secret from joiner`);
    c.eq(deriveEpochSecretsFromJoiner(cs, hex(e.joiner_secret), hex(e.psk_secret), groupContext).epochAuthenticator, e.epoch_authenticator, `epoch ${i} joiner path`);
    c.eq(mlsExporter(cs, s.exporterSecret, e.exporter.label, hex(e.exporter.context), e.exporter.length), e.exporter.secret, `epoch ${i} exporter`);
    c.eq((await deriveExternalKeyPair(cs, s.externalSecret)).publicKey, e.external_pub, `epoch ${i} external_pub`);
    initSecret = s.initSecret;
  }
}

/** The P-521 vector's signature_priv lost its leading zero octet; restore Nsk bytes (as the Node suite does). */
function signaturePriv(cs: CipherSuite, priv: Uint8Array): Uint8Array {
  if (!cs.params.signature.startsWith("ECDSA") || priv.length >= cs.params.nsk) return priv;
  const out = new Uint8Array(cs.params.nsk);
  out.set(priv, cs.params.nsk - priv.length);
  return out;
}

function rawOf(body: FramedContentBody): string {
  if (body.contentType === ContentType.application) return toHex(body.applicationData);
  if (body.contentType === ContentType.proposal) return toHex(encode(proposalCodec, body.proposal));
  return toHex(encode(commitCodec, body.commit));
}

async function messageProtection(p: CryptoProvider, c: Case, v: Json): Promise<void> {
  const cs = p.suite(v.cipher_suite as CipherSuiteId);
  const ctx = createFramingContext(cs, {
    version: ProtocolVersion.mls10,
    cipherSuite: v.cipher_suite,
    groupId: hex(v.group_id),
    epoch: BigInt(v.epoch),
    treeHash: hex(v.tree_hash),
    confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
    extensions: [],
  });
  const sigPub = hex(v.signature_pub);
  const lookup: SignatureKeyLookup = (s) => (s.senderType === SenderType.member && s.leafIndex === 1 ? sigPub : undefined);
  const pub = { ...ctx, membershipKey: hex(v.membership_key) };
  const priv = () => ({ ...ctx, senderDataSecret: hex(v.sender_data_secret), secretTree: new SecretTree(cs, hex(v.encryption_secret), 2) });
  for (const kind of ["proposal", "commit", "application"] as const) {
    if (kind !== "application") {
      const got = await unprotectPublicMessage(pub, hex(v[`${kind}_pub`]), lookup);
      c.eq(rawOf(got.content), v[kind], `${kind} PublicMessage content`);
    }
    const received = await unprotectPrivateMessage(priv(), hex(v[`${kind}_priv`]), lookup);
    c.eq(rawOf(received.content), v[kind], `${kind} PrivateMessage content`);
    c.ok(received.senderLeaf === 1, `${kind} PrivateMessage sender leaf 1`);
    // Protect it again here and open it with a fresh receiver tree.
    const signed = await signFramedContent(cs, signaturePriv(cs, hex(v.signature_priv)), WireFormat.privateMessage, received.content, ctx.groupContext);
    const tag = received.auth.confirmationTag;
    const tagged = kind === "commit" && tag !== undefined ? withConfirmationTag(signed, tag) : signed;
    const opened = await unprotectPrivateMessage(priv(), await protectPrivateMessage(priv(), tagged), lookup);
    c.eq(rawOf(opened.content), v[kind], `${kind} re-protected PrivateMessage`);
  }
}

async function welcome(p: CryptoProvider, c: Case, v: Json): Promise<void> {
  const cs = p.suite(v.cipher_suite as CipherSuiteId);
  const kpMsg = hex(v.key_package);
  const kp = decode(mlsMessageCodec, kpMsg);
  const w = decode(mlsMessageCodec, hex(v.welcome));
  if (kp.wireFormat !== WireFormat.keyPackage || w.wireFormat !== WireFormat.welcome) {
    c.ok(false, "wire formats");
    return;
  }
  const keyPackageBytes = kpMsg.subarray(4); // MLSMessage header: version(2) || wire_format(2)
  const ref = makeKeyPackageRef(cs, keyPackageBytes);
  const initPriv = hex(v.init_priv);
  c.eq(await cs.hpkePublicKey(initPriv), toHex(kp.keyPackage.initKey), "init key");
  const joined = await joinWelcome(cs, { welcome: w.welcome, keyPackageRef: ref, initPrivateKey: initPriv, signerPublicKey: hex(v.signer_pub) });
  c.ok(joined.groupInfo.groupContext.cipherSuite === v.cipher_suite, "GroupInfo cipher suite");
  // The committer's side: the same GroupInfo and joiner_secret give the vector's encrypted_group_info.
  const recipient = welcomeRecipient(cs, keyPackageBytes, joined.groupSecrets.pathSecret?.pathSecret);
  const ours = await createWelcome(cs, { groupInfo: joined.groupInfo, joinerSecret: joined.groupSecrets.joinerSecret, recipients: [recipient] });
  c.ok(bytesEqual(ours.encryptedGroupInfo, w.welcome.encryptedGroupInfo), "re-encrypted GroupInfo equals the vector's");
  const again = await joinWelcome(cs, { welcome: ours, keyPackageRef: ref, initPrivateKey: initPriv, signerPublicKey: hex(v.signer_pub) });
  c.eq(again.epochSecrets.epochAuthenticator, toHex(joined.epochSecrets.epochAuthenticator), "rejoin epoch authenticator");
}

const CHECKS: Record<string, (p: CryptoProvider, c: Case, v: Json) => Promise<void>> = {
  "crypto-basics": cryptoBasics,
  "key-schedule": keySchedule,
  "message-protection": messageProtection,
  welcome,
};
export const VECTOR_FILES = Object.keys(CHECKS);

const PROVIDERS: Record<string, CryptoProvider> = {
  web: webCryptoProvider,
  // The pure-JS paths a browser without WebCrypto Ed25519/X25519 takes.
  "web-js": createWebCryptoProvider({ name: "web-js", native: false }),
};

async function runVectorFile(file: string, providerName: string, cases: Json[]): Promise<FileResult> {
  const check = CHECKS[file];
  const provider = PROVIDERS[providerName];
  if (check === undefined || provider === undefined) throw new Error(`no harness for ${file} / ${providerName}`);
  const failures: string[] = [];
  let passed = 0;
  for (const v of cases) {
    const c = new Case(`${file} suite ${v.cipher_suite}`);
    try {
      await check(provider, c, v);
    } catch (e) {
      c.failures.push(`${c.name}: threw ${(e as Error).stack ?? String(e)}`);
    }
    if (c.failures.length === 0) passed++;
    failures.push(...c.failures);
  }
  return { file, provider: providerName, cases: cases.length, passed, suites: cases.map((v) => v.cipher_suite as number), failures, userAgent: navigator.userAgent };
}

Object.assign(globalThis, { runVectorFile });
