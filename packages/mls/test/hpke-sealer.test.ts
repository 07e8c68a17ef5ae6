/**
 * The prepared HPKE sealer (info hashed once, RFC 9180 §5.1) and
 * EncryptWithLabel to many recipients (RFC 9420 §5.1.3, used by the Welcome):
 * byte for byte against @hpke/core given the same ephemeral key, both ways
 * against every provider's open, and against crypto-basics.json and
 * welcome.json.
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
