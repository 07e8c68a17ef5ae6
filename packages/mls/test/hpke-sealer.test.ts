/**
 * The prepared HPKE sealer (info hashed once, RFC 9180 §5.1) and
 * EncryptWithLabel to many recipients (RFC 9420 §5.1.3, used by the Welcome):
 * byte for byte against @hpke/core given the same ephemeral key, both ways
 * against every provider's open, and against crypto-basics.json and
 * welcome.json; the key schedule and sealer against RFC 9180 Appendix A.1.1.
 */
import { describe, expect, it } from "vitest";
import { Aes128Gcm, Aes256Gcm, CipherSuite as HpkeSuite, DhkemP256HkdfSha256, DhkemP384HkdfSha384, DhkemP521HkdfSha512, HkdfSha256, HkdfSha384, HkdfSha512 } from "@hpke/core";
import type { AeadInterface, KdfInterface, KemInterface } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { DhkemX448HkdfSha512 } from "@hpke/dhkem-x448";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { toHex } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import { CIPHER_SUITE_IDS, CIPHER_SUITES, createWebCryptoProvider, nodeCryptoProvider, webCryptoProvider } from "../src/crypto/index.js";
import type { CipherSuiteParams, CryptoProvider } from "../src/crypto/index.js";
import { nodeAead } from "../src/crypto/node/aead.js";
import { nodeHpke } from "../src/crypto/node/hpke.js";
import { labeledKdf } from "../src/crypto/node/labeledKdf.js";
import { hpkeBaseSchedule, hpkeSuiteId } from "../src/crypto/hpkeKeySchedule.js";
import { webAead } from "../src/crypto/web/aead.js";
import { sealWithSharedSecret, webHpkeSchedule } from "../src/crypto/web/hpke.js";
import { webKdf } from "../src/crypto/web/kdf.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { makeKeyPackageRef } from "../src/messages/refs.js";
import { groupSecretsCodec } from "../src/messages/welcome.js";
import { decryptGroupSecrets, WELCOME_LABEL } from "../src/welcome/welcome.js";
import { codeOf } from "./support/errors.js";
import { hex, loadVectors } from "./support/vectors.js";

const webJs = createWebCryptoProvider({ name: "web-js", native: false });
const providers: readonly CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider, webJs];

/** @hpke/core's own suite (pure-JS KEMs) for a cipher suite: the reference. */
function reference(p: CipherSuiteParams): HpkeSuite {
  const kem: KemInterface = {
    "DHKEM-P256": () => new DhkemP256HkdfSha256(),
    "DHKEM-P384": () => new DhkemP384HkdfSha384(),
    "DHKEM-P521": () => new DhkemP521HkdfSha512(),
    "DHKEM-X25519": () => new DhkemX25519HkdfSha256(),
    "DHKEM-X448": () => new DhkemX448HkdfSha512(),
  }[p.kem]();
  const kdf: KdfInterface = { "SHA-256": () => new HkdfSha256(), "SHA-384": () => new HkdfSha384(), "SHA-512": () => new HkdfSha512() }[p.hash]();
  const aead: AeadInterface = { "AES-128-GCM": () => new Aes128Gcm(), "AES-256-GCM": () => new Aes256Gcm(), "ChaCha20-Poly1305": () => new Chacha20Poly1305() }[p.aead]();
  return new HpkeSuite({ kem, kdf, aead });
}

const fill = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe.each(CIPHER_SUITE_IDS.map((id) => [id, CIPHER_SUITES[id]] as const))("suite %i: prepared HPKE sealer", (_id, params) => {
  const ref = reference(params);
  // Several recipients, one info: a long one, as a Welcome's encrypted GroupInfo with the tree.
  const info = fill(70_000, 3);
  const aad = fill(20, 5);

  it("gives @hpke/core's bytes for the same ephemeral key (node and web key schedules)", async () => {
    const web = webHpkeSchedule(params, webKdf(params.hash, params.nh));
    const webContext = web.context(info);
    for (let r = 0; r < 3; r++) {
      const recipient = await ref.kem.deriveKeyPair(fill(32, 100 + r));
      const pkR = new Uint8Array(await ref.kem.serializePublicKey(recipient.publicKey));
      const plaintext = fill(40 + r, r);
      const ekm = fill(params.nsk, 200 + r);
      const expected = await ref.seal({ recipientPublicKey: recipient.publicKey, info, ekm }, plaintext, aad);
      const encapsulated = async () => {
        const e = await ref.kem.encap({ recipientPublicKey: recipient.publicKey, ekm });
        return { sharedSecret: new Uint8Array(e.sharedSecret), enc: new Uint8Array(e.enc) };
      };

      const viaWeb = await sealWithSharedSecret(web, webAead(params.aead, params.nk, params.nn), webContext, await encapsulated(), aad, plaintext);
      expect(toHex(viaWeb.kemOutput)).toBe(toHex(new Uint8Array(expected.enc)));
      expect(toHex(viaWeb.ciphertext)).toBe(toHex(new Uint8Array(expected.ct)));

      // The node provider's HPKE with its KEM replaced by @hpke/core's encapsulation under that ephemeral key.
      const kemResult = await encapsulated();
      const node = nodeHpke(
        params,
        {
          encap: () => kemResult,
          decap: () => {
            throw new Error("unused");
          },
        },
        nodeAead(params.aead, params.nk, params.nn),
      );
      const viaNode = node.sealer(info)(pkR, aad, plaintext);
      expect(toHex(viaNode.kemOutput)).toBe(toHex(new Uint8Array(expected.enc)));
      expect(toHex(viaNode.ciphertext)).toBe(toHex(new Uint8Array(expected.ct)));
    }
  });

  for (const from of providers) {
    it(`${from.name}: one sealer, several recipients; every provider and @hpke/core open each, only under that info`, async () => {
      const s = from.suite(params.id);
      const seal = s.hpkeSealer(info);
      for (let r = 0; r < 3; r++) {
        const kp = await s.hpkeGenerateKeyPair();
        const plaintext = fill(33, r);
        const ct = await seal(kp.publicKey, aad, plaintext);
        for (const to of providers) {
          expect(toHex(await to.suite(params.id).hpkeOpen(kp.privateKey, ct.kemOutput, info, aad, ct.ciphertext))).toBe(toHex(plaintext));
        }
        const opened = await ref.open({ recipientKey: await ref.kem.deserializePrivateKey(kp.privateKey), enc: ct.kemOutput, info }, ct.ciphertext, aad);
        expect(toHex(new Uint8Array(opened))).toBe(toHex(plaintext));
        const otherInfo = info.slice();
        otherInfo[69_999]! ^= 1;
        expect(await codeOf(s.hpkeOpen(kp.privateKey, ct.kemOutput, otherInfo, aad, ct.ciphertext))).toBe("CRYPTO_DECRYPT_FAILED");
      }
      // A bad recipient key fails per call with the same code as hpkeSeal.
      expect(await codeOf(seal(new Uint8Array(params.npk - 1), aad, fill(4, 0)))).toBe("CRYPTO_INVALID_KEY");
    });
  }
});

interface CryptoBasicsCase {
  cipher_suite: number;
  encrypt_with_label: { priv: string; pub: string; label: string; context: string; plaintext: string; kem_output: string; ciphertext: string };
}

interface WelcomeCase {
  cipher_suite: number;
  init_priv: string;
  key_package: string;
  welcome: string;
}

describe("EncryptWithLabel to many recipients (crypto-basics.json, welcome.json)", () => {
  const basics = loadVectors<CryptoBasicsCase[]>("crypto-basics");
  const welcomes = loadVectors<WelcomeCase[]>("welcome");

  for (const provider of providers) {
    it(`${provider.name}: encryptorWithLabel output decrypts with the vectors' keys; the vectors' ciphertexts decrypt`, async () => {
      expect(basics.map((c) => c.cipher_suite).sort()).toEqual([...CIPHER_SUITE_IDS]);
      for (const c of basics) {
        const suite = provider.suite(c.cipher_suite);
        const e = c.encrypt_with_label;
        const [priv, pub, context] = [hex(e.priv), hex(e.pub), hex(e.context)];
        expect(toHex(await suite.decryptWithLabel(priv, e.label, context, hex(e.kem_output), hex(e.ciphertext)))).toBe(e.plaintext);
        const seal = suite.encryptorWithLabel(e.label, context);
        for (let i = 0; i < 2; i++) {
          const ours = await seal(pub, hex(e.plaintext));
          expect(toHex(await suite.decryptWithLabel(priv, e.label, context, ours.kemOutput, ours.ciphertext))).toBe(e.plaintext);
          expect(await codeOf(suite.decryptWithLabel(priv, e.label + "x", context, ours.kemOutput, ours.ciphertext))).toBe("CRYPTO_DECRYPT_FAILED");
        }
      }
    });

    it(`${provider.name}: a Welcome re-made from welcome.json's GroupSecrets opens with the vector's init key`, async () => {
      expect(welcomes.length).toBeGreaterThan(0);
      for (const c of welcomes) {
        const suite = provider.suite(c.cipher_suite);
        const vector = decode(mlsMessageCodec, hex(c.welcome));
        if (!("welcome" in vector)) throw new Error("welcome.json: not a Welcome");
        const w = vector.welcome;
        const kpMessage = decode(mlsMessageCodec, hex(c.key_package));
        if (!("keyPackage" in kpMessage)) throw new Error("welcome.json: not a KeyPackage");
        const ref = makeKeyPackageRef(suite, kpMessage.keyPackage);
        const secrets = await decryptGroupSecrets(suite, w, ref, hex(c.init_priv));
        // Re-seal those GroupSecrets to the vector's init key under the vector's encrypted GroupInfo, as createWelcome does.
        const ours = await suite.encryptorWithLabel(WELCOME_LABEL, w.encryptedGroupInfo)(kpMessage.keyPackage.initKey, encode(groupSecretsCodec, secrets));
        const remade = { ...w, secrets: [{ newMember: ref, encryptedGroupSecrets: ours }] };
        const again = await decryptGroupSecrets(suite, remade, ref, hex(c.init_priv));
        expect(toHex(again.joinerSecret)).toBe(toHex(secrets.joinerSecret));
        // The context binds the encrypted GroupInfo: the same entry under another one does not open.
        const tampered = { ...remade, encryptedGroupInfo: Uint8Array.of(...w.encryptedGroupInfo.subarray(1), 0) };
        expect(await codeOf(decryptGroupSecrets(suite, tampered, ref, hex(c.init_priv)))).toBe("CRYPTO_DECRYPT_FAILED");
      }
    });
  }
});

/** RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode (MLS suite 1). */
const A11 = {
  info: "4f6465206f6e2061204772656369616e2055726e",
  ikmE: "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
  skEm: "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
  pkEm: "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
  ikmR: "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
  skRm: "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
  pkRm: "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
  sharedSecret: "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc",
  keyScheduleContext: "00725611c9d98c07c03f60095cd32d400d8347d45ed67097bbad50fc56da742d07cb6cffde367bb0565ba28bb02c90744a20f5ef37f30523526106f637abb05449",
  key: "4531685d41d65f03dc48f6b8302c05b0",
  baseNonce: "56d890e5accaaf011cff4b7d",
  exporterSecret: "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8",
  // Encryption sequence number 0.
  aad: "436f756e742d30",
  pt: "4265617574792069732074727574682c20747275746820626561757479",
  ct: "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
} as const;

describe("RFC 9180 A.1.1: the hand-written base-mode key schedule and prepared sealer", () => {
  const params = CIPHER_SUITES[1];
  const node = nodeCryptoProvider.suite(1);
  const schedules = [
    ["node labelled KDF", hpkeBaseSchedule(labeledKdf(params.hash, params.nh, hpkeSuiteId(params)), params)],
    ["plain HKDF (web)", webHpkeSchedule(params, webKdf(params.hash, params.nh))],
  ] as const;

  for (const [name, schedule] of schedules) {
    it(`${name}: key_schedule_context, key, base_nonce, exporter_secret`, () => {
      const context = schedule.context(hex(A11.info));
      expect(toHex(context)).toBe(A11.keyScheduleContext);
      const { key, nonce } = schedule.keyAndNonce(hex(A11.sharedSecret), context);
      expect(toHex(key)).toBe(A11.key);
      expect(toHex(nonce)).toBe(A11.baseNonce);
      expect(toHex(schedule.exporterSecret(hex(A11.sharedSecret), context))).toBe(A11.exporterSecret);
    });
  }

  it("DeriveKeyPair gives the vector's keys; the prepared sealers give its ciphertext; every provider opens it", async () => {
    const recipient = await node.hpkeDeriveKeyPair(hex(A11.ikmR));
    expect([toHex(recipient.privateKey), toHex(recipient.publicKey)]).toEqual([A11.skRm, A11.pkRm]);
    const ephemeral = await node.hpkeDeriveKeyPair(hex(A11.ikmE));
    expect([toHex(ephemeral.privateKey), toHex(ephemeral.publicKey)]).toEqual([A11.skEm, A11.pkEm]);

    // The vector's encapsulation, given to the node sealer in place of a fresh one.
    const viaNode = nodeHpke(
      params,
      {
        encap: () => ({ sharedSecret: hex(A11.sharedSecret), enc: hex(A11.pkEm) }),
        decap: () => {
          throw new Error("unused");
        },
      },
      nodeAead(params.aead, params.nk, params.nn),
    ).sealer(hex(A11.info))(hex(A11.pkRm), hex(A11.aad), hex(A11.pt));
    expect([toHex(viaNode.kemOutput), toHex(viaNode.ciphertext)]).toEqual([A11.pkEm, A11.ct]);

    const web = webHpkeSchedule(params, webKdf(params.hash, params.nh));
    const encapsulation = { sharedSecret: hex(A11.sharedSecret), enc: hex(A11.pkEm) };
    const viaWeb = await sealWithSharedSecret(web, webAead(params.aead, params.nk, params.nn), web.context(hex(A11.info)), encapsulation, hex(A11.aad), hex(A11.pt));
    expect(toHex(viaWeb.ciphertext)).toBe(A11.ct);

    for (const p of providers) {
      expect(toHex(await p.suite(1).hpkeOpen(hex(A11.skRm), hex(A11.pkEm), hex(A11.info), hex(A11.aad), hex(A11.ct)))).toBe(A11.pt);
    }
  });
});
