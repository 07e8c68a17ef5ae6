import { afterAll, describe, expect, it } from "vitest";
import {
  confirmationTag,
  deriveEpochSecrets,
  deriveEpochSecretsFromJoiner,
  deriveExternalKeyPair,
  deriveJoinerSecret,
  deriveWelcomeSecret,
  membershipTag,
  mlsExporter,
  verifyConfirmationTag,
  verifyMembershipTag,
  welcomeKeyAndNonce,
  zeroizeEpochSecrets,
} from "../src/schedule/keySchedule.js";
import { encode } from "../src/codec/tls.js";
import { toHex } from "../src/codec/bytes.js";
import { groupContextCodec } from "../src/messages/groupContext.js";
import { MlsError } from "../src/errors.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

interface KeyScheduleEpoch {
  commit_secret: string;
  confirmation_key: string;
  confirmed_transcript_hash: string;
  encryption_secret: string;
  epoch_authenticator: string;
  exporter: { context: string; label: string; length: number; secret: string };
  exporter_secret: string;
  external_pub: string;
  external_secret: string;
  group_context: string;
  init_secret: string;
  joiner_secret: string;
  membership_key: string;
  psk_secret: string;
  resumption_psk: string;
  sender_data_secret: string;
  tree_hash: string;
  welcome_secret: string;
}

interface KeyScheduleVector {
  cipher_suite: number;
  group_id: string;
  initial_init_secret: string;
  epochs: KeyScheduleEpoch[];
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("key-schedule.json (RFC 9420 §8) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`key-schedule.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<KeyScheduleVector[]>("key-schedule") : [];

  it.each(vectors.map((v) => [v.cipher_suite, v] as const))("cipher suite %i: every epoch, chained", async (_id, v) => {
    const cs = provider.suite(v.cipher_suite);
    let initSecret = hex(v.initial_init_secret);
    for (let i = 0; i < v.epochs.length; i++) {
      const e = v.epochs[i]!;
      // The vector's GroupContext must be what our codec builds from its fields.
      const groupContext = encode(groupContextCodec, {
        version: 1,
        cipherSuite: v.cipher_suite,
        groupId: hex(v.group_id),
        epoch: BigInt(i),
        treeHash: hex(e.tree_hash),
        confirmedTranscriptHash: hex(e.confirmed_transcript_hash),
        extensions: [],
      });
      expect(toHex(groupContext), `epoch ${i} group_context`).toBe(e.group_context);

      const s = deriveEpochSecrets(cs, {
        initSecret,
        commitSecret: hex(e.commit_secret),
        pskSecret: hex(e.psk_secret),
        groupContext,
      });
      const got = {
        joiner_secret: toHex(s.joinerSecret),
        welcome_secret: toHex(deriveWelcomeSecret(cs, s.joinerSecret, hex(e.psk_secret))),
        init_secret: toHex(s.initSecret),
        sender_data_secret: toHex(s.senderDataSecret),
        encryption_secret: toHex(s.encryptionSecret),
        exporter_secret: toHex(s.exporterSecret),
        epoch_authenticator: toHex(s.epochAuthenticator),
        external_secret: toHex(s.externalSecret),
        confirmation_key: toHex(s.confirmationKey),
        membership_key: toHex(s.membershipKey),
        resumption_psk: toHex(s.resumptionPsk),
      };
      const want = Object.fromEntries(Object.keys(got).map((k) => [k, e[k as keyof KeyScheduleEpoch]]));
      expect(got, `epoch ${i}`).toEqual(want);

      // The joiner's path (§12.4.3.1) gives the same epoch from joiner_secret alone.
      expect(toHex(deriveWelcomeSecret(cs, hex(e.joiner_secret), hex(e.psk_secret)))).toBe(e.welcome_secret);
      const joined = deriveEpochSecretsFromJoiner(cs, hex(e.joiner_secret), hex(e.psk_secret), groupContext);
      expect(toHex(joined.initSecret)).toBe(e.init_secret);
      expect(toHex(joined.epochAuthenticator)).toBe(e.epoch_authenticator);

      // §8.5 MLS-Exporter: the vector's label is the string as written in the JSON.
      const x = e.exporter;
      expect(toHex(mlsExporter(cs, s.exporterSecret, x.label, hex(x.context), x.length)), `epoch ${i} exporter`).toBe(x.secret);

      // §8: external_pub = KEM.DeriveKeyPair(external_secret).public
      const kp = await deriveExternalKeyPair(cs, s.externalSecret);
      expect(toHex(kp.publicKey), `epoch ${i} external_pub`).toBe(e.external_pub);

      initSecret = s.initSecret;
    }
    tally.pass();
  });
});

describe("key schedule helpers", () => {
  const cs = nodeCryptoProvider.suite(1);
  const nh = cs.params.nh;
  const gc = new Uint8Array([1, 2, 3]);

  it("defaults psk_secret to Nh zero bytes and rejects a wrong-length one", () => {
    const input = { initSecret: new Uint8Array(nh).fill(1), commitSecret: new Uint8Array(nh).fill(2), groupContext: gc };
    const a = deriveEpochSecrets(cs, input);
    const b = deriveEpochSecrets(cs, { ...input, pskSecret: new Uint8Array(nh) });
    expect(toHex(a.initSecret)).toBe(toHex(b.initSecret));
    const c = deriveEpochSecrets(cs, { ...input, pskSecret: new Uint8Array(nh).fill(9) });
    expect(toHex(c.initSecret)).not.toBe(toHex(a.initSecret));
    try {
      deriveEpochSecrets(cs, { ...input, pskSecret: new Uint8Array(nh - 1) });
      expect.unreachable();
    } catch (e) {
      expect((e as MlsError).code).toBe("INVALID_ARGUMENT");
    }
  });

  it("binds the epoch to the GroupContext and the joiner secret to the commit secret", () => {
    const base = { initSecret: new Uint8Array(nh), commitSecret: new Uint8Array(nh), groupContext: gc };
    const ref = toHex(deriveJoinerSecret(cs, base.initSecret, base.commitSecret, gc));
    expect(toHex(deriveJoinerSecret(cs, base.initSecret, new Uint8Array(nh).fill(1), gc))).not.toBe(ref);
    expect(toHex(deriveJoinerSecret(cs, base.initSecret, base.commitSecret, new Uint8Array([1, 2, 4])))).not.toBe(ref);
  });

  it("derives the Welcome key and nonce with the AEAD's sizes (§12.4.3.1)", () => {
    for (const id of [1, 3, 5] as const) {
      const s = nodeCryptoProvider.suite(id);
      const w = welcomeKeyAndNonce(s, new Uint8Array(s.params.nh).fill(7));
      expect(w.key.length).toBe(s.params.nk);
      expect(w.nonce.length).toBe(s.params.nn);
      expect(toHex(w.key)).toBe(toHex(s.expandWithLabel(new Uint8Array(s.params.nh).fill(7), "key", new Uint8Array(0), s.params.nk)));
    }
  });

  it("confirmation and membership tags are MACs that verify and reject a flipped bit", () => {
    const key = new Uint8Array(nh).fill(3);
    const data = new Uint8Array([9, 9, 9]);
    const tag = confirmationTag(cs, key, data);
    expect(toHex(tag)).toBe(toHex(cs.mac(key, data)));
    expect(verifyConfirmationTag(cs, key, data, tag)).toBe(true);
    const bad = tag.slice();
    bad[0]! ^= 1;
    expect(verifyConfirmationTag(cs, key, data, bad)).toBe(false);
    const mt = membershipTag(cs, key, data);
    expect(verifyMembershipTag(cs, key, data, mt)).toBe(true);
    expect(verifyMembershipTag(cs, key, data, mt.subarray(1))).toBe(false);
  });

  it("zeroizeEpochSecrets wipes every secret", () => {
    const s = deriveEpochSecrets(cs, { initSecret: new Uint8Array(nh).fill(1), commitSecret: new Uint8Array(nh), groupContext: gc });
    zeroizeEpochSecrets(s);
    for (const v of Object.values(s) as Uint8Array[]) expect(v.every((b) => b === 0)).toBe(true);
  });
});
