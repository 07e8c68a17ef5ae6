/**
 * crypto-basics.json (mlswg test vectors) against both providers: the RFC 9420
 * labelled functions byte for byte, signatures and HPKE both ways.
 */
import { afterAll, describe, expect, it } from "vitest";
import { toHex } from "../src/codec/bytes.js";
import { CIPHER_SUITE_IDS, createWebCryptoProvider, nodeCryptoProvider, webCryptoProvider } from "../src/crypto/index.js";
import type { CryptoProvider } from "../src/crypto/index.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

interface CryptoBasicsCase {
  cipher_suite: number;
  ref_hash: { label: string; value: string; out: string };
  expand_with_label: { secret: string; label: string; context: string; length: number; out: string };
  derive_secret: { secret: string; label: string; out: string };
  derive_tree_secret: { secret: string; label: string; generation: number; length: number; out: string };
  sign_with_label: { priv: string; pub: string; content: string; label: string; signature: string };
  encrypt_with_label: { priv: string; pub: string; label: string; context: string; plaintext: string; kem_output: string; ciphertext: string };
}

const cases = haveVectors ? loadVectors<CryptoBasicsCase[]>("crypto-basics") : [];

// "web-js": the web provider forced onto its pure-JS paths (what browsers lacking Ed25519/X25519... in WebCrypto run).
const webJs = createWebCryptoProvider({ name: "web-js", native: false });

for (const provider of [nodeCryptoProvider, webCryptoProvider, webJs] as CryptoProvider[]) {
  describe.skipIf(!haveVectors)(`crypto-basics.json [${provider.name} provider]`, () => {
    const tally = new VectorTally(`crypto-basics.json [${provider.name}]`);
    afterAll(() => tally.report());

    it("covers every cipher suite 1..7", () => {
      expect(cases.map((c) => c.cipher_suite).sort()).toEqual([...CIPHER_SUITE_IDS]);
    });

    for (const c of cases) {
      const suite = provider.suite(c.cipher_suite);

      it(`suite ${c.cipher_suite}: ref_hash, expand_with_label, derive_secret, derive_tree_secret`, () => {
        const r = c.ref_hash;
        expect(toHex(suite.refHash(r.label, hex(r.value)))).toBe(r.out);
        tally.pass();
        const e = c.expand_with_label;
        expect(toHex(suite.expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length))).toBe(e.out);
        tally.pass();
        const d = c.derive_secret;
        expect(toHex(suite.deriveSecret(hex(d.secret), d.label))).toBe(d.out);
        tally.pass();
        const t = c.derive_tree_secret;
        expect(toHex(suite.deriveTreeSecret(hex(t.secret), t.label, t.generation, t.length))).toBe(t.out);
        tally.pass();
      });

      it(`suite ${c.cipher_suite}: sign_with_label`, async () => {
        const s = c.sign_with_label;
        const [priv, pub, content] = [hex(s.priv), hex(s.pub), hex(s.content)];
        expect(toHex(await suite.signaturePublicKey(priv))).toBe(s.pub);
        expect(await suite.verifyWithLabel(pub, s.label, content, hex(s.signature))).toBe(true);
        // The signature binds the label: the same bytes under another label must not verify.
        expect(await suite.verifyWithLabel(pub, s.label + "x", content, hex(s.signature))).toBe(false);
        const ours = await suite.signWithLabel(priv, s.label, content);
        expect(await suite.verifyWithLabel(pub, s.label, content, ours)).toBe(true);
        tally.pass();
      });

      it(`suite ${c.cipher_suite}: encrypt_with_label`, async () => {
        const e = c.encrypt_with_label;
        const [priv, pub, context] = [hex(e.priv), hex(e.pub), hex(e.context)];
        expect(toHex(await suite.hpkePublicKey(priv))).toBe(e.pub);
        expect(toHex(await suite.decryptWithLabel(priv, e.label, context, hex(e.kem_output), hex(e.ciphertext)))).toBe(e.plaintext);
        const ours = await suite.encryptWithLabel(pub, e.label, context, hex(e.plaintext));
        expect(ours.kemOutput.length).toBe(suite.params.nenc);
        expect(toHex(await suite.decryptWithLabel(priv, e.label, context, ours.kemOutput, ours.ciphertext))).toBe(e.plaintext);
        await expect(suite.decryptWithLabel(priv, e.label + "x", context, ours.kemOutput, ours.ciphertext)).rejects.toMatchObject({
          code: "CRYPTO_DECRYPT_FAILED",
        });
        tally.pass();
      });
    }
  });
}
