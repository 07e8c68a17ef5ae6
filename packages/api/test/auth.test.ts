import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CIPHER_SUITE_IDS, utf8 } from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";
import {
  AUTH_HASH_SUITE,
  AUTH_LABEL,
  AuthPurpose,
  answerChallenge,
  encodeAuthContent,
  encodeHandshakeTranscript,
  forgeTranscript,
  signAuthChallenge,
  verifyAuthChallenge,
  verifyHandshake,
  type AuthContext,
} from "../src/auth.js";
import { isApiError } from "../src/errors.js";
import { x25519, x25519GenerateKeyPair, x25519PublicKey } from "../src/x25519.js";

const authKey = new Uint8Array(32).fill(5);

describe("registration signatures (auth.ts)", () => {
  it.each(CIPHER_SUITE_IDS)("suite %i: verify accepts exactly the signed nonce and context", async (cs) => {
    const suite = nodeCryptoProvider.suite(cs);
    const keys = await suite.signatureGenerateKeyPair();
    const nonce = suite.randomBytes(32);
    const ctx: AuthContext = { domain: "example.com", purpose: AuthPurpose.register, user: "alice", device: "phone", cipherSuite: cs, signatureKey: keys.publicKey, authKey };
    const sig = await signAuthChallenge(suite, keys.privateKey, nonce, ctx);
    expect(await verifyAuthChallenge(suite, nonce, ctx, sig)).toBe(true);
    // Labelled per RFC 9420 §5.1.2 with our label
    expect(await suite.verifyWithLabel(keys.publicKey, AUTH_LABEL, encodeAuthContent(nonce, ctx), sig)).toBe(true);
    const other = nonce.slice();
    other[0]! ^= 1;
    expect(await verifyAuthChallenge(suite, other, ctx, sig)).toBe(false);
    for (const patch of [{ domain: "example.org" }, { purpose: AuthPurpose.login }, { user: "alicf" }, { device: "phonf" }, { authKey: new Uint8Array(32).fill(6) }]) {
      expect(await verifyAuthChallenge(suite, nonce, { ...ctx, ...patch }, sig), JSON.stringify(patch)).toBe(false);
    }
  });

  it("separates fields unambiguously and insists on 32-byte nonces", () => {
    const key = new Uint8Array([9, 9]);
    const a = encodeAuthContent(new Uint8Array(32), { domain: "ab", purpose: 1, user: "c", device: "d", cipherSuite: 1, signatureKey: key, authKey: new Uint8Array([7]) });
    const b = encodeAuthContent(new Uint8Array(32), { domain: "a", purpose: 1, user: "bc", device: "d", cipherSuite: 1, signatureKey: key, authKey: new Uint8Array([7]) });
    expect(a).not.toEqual(b);
    expect([...a.subarray(32)]).toEqual([2, ...utf8("ab"), 1, 1, ...utf8("c"), 1, ...utf8("d"), 0, 1, 2, 9, 9, 1, 7]);
    for (const n of [0, 31, 33]) {
      try {
        encodeAuthContent(new Uint8Array(n), { domain: "a", purpose: 1, user: "c", device: "d", cipherSuite: 1, signatureKey: key, authKey });
        expect.unreachable();
      } catch (e) {
        expect(isApiError(e, "AUTH_CHALLENGE_INVALID")).toBe(true);
      }
    }
  });
});

describe("X25519 over WebCrypto (x25519.ts)", () => {
  it("agrees with RFC 7748 §6.1's test vector", async () => {
    const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
    const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    expect(Buffer.from(await x25519PublicKey(alice)).toString("hex")).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    const shared = await x25519(alice, await x25519PublicKey(bob));
    expect(Buffer.from(shared).toString("hex")).toBe("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  });

  it("refuses low-order and malformed peer keys with INVALID_AUTH_KEY", async () => {
    const k = await x25519GenerateKeyPair();
    for (const bad of [new Uint8Array(32), new Uint8Array(31), Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))]) {
      await expect(x25519(k.privateKey, bad)).rejects.toSatisfy((e) => isApiError(e, "INVALID_AUTH_KEY"));
    }
  });
});

describe("the deniable handshake (auth.ts)", () => {
  const suite = nodeCryptoProvider.suite(AUTH_HASH_SUITE);
  async function setup() {
    const serverKey = await x25519GenerateKeyPair();
    const serverEphemeral = await x25519GenerateKeyPair();
    const client = await x25519GenerateKeyPair();
    const nonce = suite.randomBytes(32);
    const who = { purpose: AuthPurpose.login, user: "alice", device: "phone" } as const;
    return {
      keys: { serverKey, serverEphemeral },
      client,
      nonce,
      who,
      challenge: { domain: "example.com", nonce, serverKey: serverKey.publicKey, serverEphemeral: serverEphemeral.publicKey },
    };
  }

  it("verifies a real answer and refuses any change of the transcript or a wrong auth key", async () => {
    const { keys, client, nonce, who, challenge } = await setup();
    const answer = await answerChallenge(suite, challenge, { ...who, authKey: client });
    const t = { domain: "example.com", ...who, nonce, clientEphemeral: answer.clientEphemeral, clientAuthKey: client.publicKey };
    expect(await verifyHandshake(suite, keys, t, answer.mac)).toBe(true);
    for (const patch of [
      { domain: "evil.example" },
      { purpose: AuthPurpose.register },
      { user: "alicf" },
      { device: "phonf" },
      { nonce: suite.randomBytes(32) },
      { clientAuthKey: (await x25519GenerateKeyPair()).publicKey },
    ]) {
      expect(await verifyHandshake(suite, keys, { ...t, ...patch }, answer.mac), JSON.stringify(Object.keys(patch))).toBe(false);
    }
    const otherServer = { ...keys, serverKey: await x25519GenerateKeyPair() };
    expect(await verifyHandshake(suite, otherServer, t, answer.mac)).toBe(false);
    const impostor = await answerChallenge(suite, challenge, { ...who, authKey: await x25519GenerateKeyPair() });
    expect(await verifyHandshake(suite, keys, { ...t, clientEphemeral: impostor.clientEphemeral }, impostor.mac)).toBe(false);
  });

  it("any change to any field of the transcript or to the MAC is refused (property)", async () => {
    const { keys, client, nonce, who, challenge } = await setup();
    const answer = await answerChallenge(suite, challenge, { ...who, authKey: client });
    const t = { domain: "example.com", ...who, nonce, clientEphemeral: answer.clientEphemeral, clientAuthKey: client.publicKey };
    const flip = (b: Uint8Array, i: number, bit: number) => {
      const c = b.slice();
      c[i % c.length]! ^= 1 << bit;
      return c;
    };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("nonce", "clientEphemeral", "mac", "domain", "user", "device"), fc.nat(), fc.integer({ min: 0, max: 7 }), async (field, i, bit) => {
        let tt: typeof t = t;
        let mac = answer.mac;
        if (field === "mac") mac = flip(mac, i, bit);
        else if (field === "nonce" || field === "clientEphemeral") tt = { ...t, [field]: flip(t[field], i, bit) };
        else tt = { ...t, [field]: `${t[field]}${String.fromCharCode(97 + bit)}` };
        // A flipped ephemeral may be a low-order point: refused either way.
        const ok = await verifyHandshake(suite, keys, tt, mac).catch((e: unknown) => (isApiError(e, "INVALID_AUTH_KEY") ? false : Promise.reject(e)));
        expect(ok).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it("a transcript offers a third party nothing the server could not have made alone", async () => {
    const { keys, client, nonce, who, challenge } = await setup();
    const real = await answerChallenge(suite, challenge, { ...who, authKey: client });
    // The server, holding only its own private keys and the client's PUBLIC auth key:
    const forged = await forgeTranscript(suite, keys, { domain: "example.com", ...who, nonce, clientAuthKey: client.publicKey });
    const judge = (r: { clientEphemeral: Uint8Array; mac: Uint8Array }) =>
      verifyHandshake(suite, keys, { domain: "example.com", ...who, nonce, clientEphemeral: r.clientEphemeral, clientAuthKey: client.publicKey }, r.mac);
    // Whoever checks with the server's keys accepts both; without them nobody can check either.
    expect(await judge(real)).toBe(true);
    expect(await judge(forged)).toBe(true);
    // Same shape, byte for byte: 32-byte ephemeral, 32-byte MAC, identical transcript layout.
    expect([forged.clientEphemeral.length, forged.mac.length]).toEqual([real.clientEphemeral.length, real.mac.length]);
    const layout = (e: Uint8Array) =>
      encodeHandshakeTranscript({
        domain: "example.com",
        ...who,
        nonce,
        serverKey: keys.serverKey.publicKey,
        serverEphemeral: keys.serverEphemeral.publicKey,
        clientEphemeral: e,
        clientAuthKey: client.publicKey,
      });
    expect(layout(forged.clientEphemeral).length).toBe(layout(real.clientEphemeral).length);
  });
});
