import { describe, expect, it } from "vitest";
import { CIPHER_SUITE_IDS, utf8 } from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";
import { AUTH_LABEL, AuthPurpose, encodeAuthContent, signAuthChallenge, verifyAuthChallenge, type AuthContext } from "../src/auth.js";
import { isApiError } from "../src/errors.js";

describe("challenge signatures (auth.ts)", () => {
  it.each(CIPHER_SUITE_IDS)("suite %i: verify accepts exactly the signed nonce and context", async (cs) => {
    const suite = nodeCryptoProvider.suite(cs);
    const keys = await suite.signatureGenerateKeyPair();
    const nonce = suite.randomBytes(32);
    const ctx: AuthContext = { domain: "example.com", purpose: AuthPurpose.login, user: "alice", device: "phone", cipherSuite: cs, signatureKey: keys.publicKey };
    const sig = await signAuthChallenge(suite, keys.privateKey, nonce, ctx);
    expect(await verifyAuthChallenge(suite, nonce, ctx, sig)).toBe(true);
    // Labelled per RFC 9420 §5.1.2 with our label
    expect(await suite.verifyWithLabel(keys.publicKey, AUTH_LABEL, encodeAuthContent(nonce, ctx), sig)).toBe(true);
    const other = nonce.slice();
    other[0]! ^= 1;
    expect(await verifyAuthChallenge(suite, other, ctx, sig)).toBe(false);
    for (const patch of [{ domain: "example.org" }, { purpose: AuthPurpose.register }, { user: "alicf" }, { device: "phonf" }]) {
      expect(await verifyAuthChallenge(suite, nonce, { ...ctx, ...patch }, sig), JSON.stringify(patch)).toBe(false);
    }
  });

  it("separates fields unambiguously and insists on 32-byte nonces", () => {
    const key = new Uint8Array([9, 9]);
    const a = encodeAuthContent(new Uint8Array(32), { domain: "ab", purpose: 1, user: "c", device: "d", cipherSuite: 1, signatureKey: key });
    const b = encodeAuthContent(new Uint8Array(32), { domain: "a", purpose: 1, user: "bc", device: "d", cipherSuite: 1, signatureKey: key });
    expect(a).not.toEqual(b);
    expect([...a.subarray(32)]).toEqual([2, ...utf8("ab"), 1, 1, ...utf8("c"), 1, ...utf8("d"), 0, 1, 2, 9, 9]);
    for (const n of [0, 31, 33]) {
      try {
        encodeAuthContent(new Uint8Array(n), { domain: "a", purpose: 1, user: "c", device: "d", cipherSuite: 1, signatureKey: key });
        expect.unreachable();
      } catch (e) {
        expect(isApiError(e, "AUTH_CHALLENGE_INVALID")).toBe(true);
      }
    }
  });
});
