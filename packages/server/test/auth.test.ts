import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthPurpose,
  encodeAuthContent,
  toBase64Url,
  type ClientInfo,
  type CreateAccountResponse,
  type ListClientsResponse,
  type RevokeClientResponse,
  type TokenResponse,
} from "@conclave/api";
import { CIPHER_SUITE_IDS, utf8, type CipherSuiteId } from "@conclave/mls";
import { ENGINES } from "./support/engines.js";
import { challenge, createAccount, crypto, errorCode, registerDevice, signChallenge, startServer, type Device, type RunningServer } from "./support/server.js";

describe.each(ENGINES)("client registration and authentication [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
  });
  afterAll(async () => {
    await s?.close();
  });

  /** A registration body for a fresh key, signed over a fresh nonce unless overridden. */
  async function registration(user: string, device: string, secret: string, cipherSuite: CipherSuiteId = 1, tweak: { purpose?: 1 | 2; domain?: string; signer?: Uint8Array } = {}) {
    const keys = await crypto.suite(cipherSuite).signatureGenerateKeyPair();
    const c = await challenge(s);
    const signingKeys = tweak.signer !== undefined ? { privateKey: tweak.signer, publicKey: keys.publicKey } : keys;
    const signature = await signChallenge(c.nonce, tweak.purpose ?? AuthPurpose.register, { user, device, cipherSuite, keys: signingKeys }, tweak.domain);
    return { keys, body: { user, device, cipherSuite, signatureKey: toBase64Url(keys.publicKey), accountSecret: secret, nonce: c.nonce, signature } };
  }

  async function login(d: Device, tweak: { purpose?: 1 | 2; nonce?: string } = {}) {
    const nonce = tweak.nonce ?? (await challenge(s)).nonce;
    const signature = await signChallenge(nonce, tweak.purpose ?? AuthPurpose.login, d);
    return s.request<TokenResponse>("POST", "/v1/auth/tokens", { json: { user: d.user, device: d.device, nonce, signature } });
  }

  describe.skipIf(!engine.available)("", () => {
    it("creates an account once and returns its secret once", async () => {
      const r = await s.request<CreateAccountResponse>("POST", "/v1/accounts", { json: { user: "alice" } });
      expect(r.status).toBe(201);
      expect(r.body.identity).toBe("alice@example.com");
      expect(r.body.accountSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const again = await s.request("POST", "/v1/accounts", { json: { user: "alice" } });
      expect([again.status, errorCode(again)]).toEqual([409, "ACCOUNT_EXISTS"]);
    });

    it("registers devices of every cipher suite with proof of possession and returns working tokens", async () => {
      const secret = await createAccount(s, "suites");
      for (const cs of CIPHER_SUITE_IDS) {
        const { keys, body } = await registration("suites", `dev${cs}`, secret, cs);
        const r = await s.request<TokenResponse>("POST", "/v1/clients", { json: body });
        expect(r.status, `suite ${cs}: ${JSON.stringify(r.body)}`).toBe(201);
        expect(r.body.client).toEqual({
          identity: `suites@example.com#dev${cs}`,
          user: "suites",
          device: `dev${cs}`,
          cipherSuite: cs,
          signatureKey: toBase64Url(keys.publicKey),
          createdAt: s.clock.now,
          revokedAt: null,
        });
        expect(r.body.expiresAt).toBe(s.clock.now + 24 * 3600_000);
        const me = await s.request<ClientInfo>("GET", "/v1/clients/self", { token: r.body.token });
        expect(me.body).toEqual(r.body.client);
      }
      const list = await s.request<ListClientsResponse>("GET", "/v1/users/suites/clients", { token: (await registerDevice(s, "viewer", "x")).token });
      expect(list.body.clients.map((c) => c.cipherSuite)).toEqual([...CIPHER_SUITE_IDS]);
    });

    it("signs exactly nonce || AuthContext under the label \"Conclave auth\"", async () => {
      // Independent check of the documented layout against the verifier the server uses.
      const suite = crypto.suite(1);
      const keys = await suite.signatureGenerateKeyPair();
      const nonce = new Uint8Array(32).fill(7);
      const content = encodeAuthContent(nonce, { domain: "example.com", purpose: 1, user: "al", device: "d1", cipherSuite: 1, signatureKey: keys.publicKey });
      const expected = new Uint8Array([...nonce, 11, ...utf8("example.com"), 1, 2, ...utf8("al"), 2, ...utf8("d1"), 0, 1, 32, ...keys.publicKey]);
      expect(content).toEqual(expected);
      const sig = await suite.signWithLabel(keys.privateKey, "Conclave auth", expected);
      expect(await suite.verifyWithLabel(keys.publicKey, "Conclave auth", content, sig)).toBe(true);
    });

    it("refuses bad secrets, bad signatures and replayed or expired nonces, writing nothing", async () => {
      const secret = await createAccount(s, "bob");
      const wrongSecret = await registration("bob", "phone", toBase64Url(new Uint8Array(32)));
      let r = await s.request("POST", "/v1/clients", { json: wrongSecret.body });
      expect([r.status, errorCode(r)]).toEqual([401, "ACCOUNT_SECRET_INVALID"]);

      const other = await crypto.suite(1).signatureGenerateKeyPair();
      for (const [tweak, code] of [
        [{ signer: other.privateKey }, "AUTH_SIGNATURE_INVALID"], // not the key being registered
        [{ purpose: AuthPurpose.login }, "AUTH_SIGNATURE_INVALID"], // a login signature is not a registration
        [{ domain: "evil.example" }, "AUTH_SIGNATURE_INVALID"], // signed for another deployment
      ] as const) {
        const reg = await registration("bob", "phone", secret, 1, tweak);
        r = await s.request("POST", "/v1/clients", { json: reg.body });
        expect([r.status, errorCode(r)], JSON.stringify(tweak)).toEqual([401, code]);
      }

      const good = await registration("bob", "phone", secret);
      const changedDevice = { ...good.body, device: "tablet" }; // signature covers the device id
      r = await s.request("POST", "/v1/clients", { json: changedDevice });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_SIGNATURE_INVALID"]);
      r = await s.request("POST", "/v1/clients", { json: good.body }); // that nonce was used up by the attempt above
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const late = await registration("bob", "phone", secret);
      s.clock.advance(60_001);
      r = await s.request("POST", "/v1/clients", { json: late.body });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const unknownNonce = await registration("bob", "phone", secret);
      r = await s.request("POST", "/v1/clients", { json: { ...unknownNonce.body, nonce: toBase64Url(new Uint8Array(32).fill(1)) } });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const viewer = await registerDevice(s, "viewer2", "x");
      const list = await s.request<ListClientsResponse>("GET", "/v1/users/bob/clients", { token: viewer.token });
      expect(list.body.clients).toEqual([]);

      const ok = await registration("bob", "phone", secret);
      expect((await s.request("POST", "/v1/clients", { json: ok.body })).status).toBe(201);
    });

    it("rejects malformed keys, suites and names with 4xx codes", async () => {
      const secret = await createAccount(s, "carol");
      const reg = await registration("carol", "phone", secret);
      const cases: [Record<string, unknown>, number, string][] = [
        [{ signatureKey: toBase64Url(new Uint8Array(31)) }, 400, "INVALID_SIGNATURE_KEY"],
        [{ cipherSuite: 2 }, 400, "INVALID_SIGNATURE_KEY"], // an Ed25519 key is not a P-256 key
        [{ cipherSuite: 9 }, 400, "UNSUPPORTED_CIPHER_SUITE"],
        [{ signatureKey: "a+b" }, 400, "BAD_REQUEST"],
        [{ signatureKey: "abcde" }, 400, "INVALID_BASE64URL"],
        [{ device: "bad device" }, 400, "BAD_REQUEST"],
        [{ user: "nobody" }, 404, "ACCOUNT_NOT_FOUND"],
      ];
      for (const [patch, status, code] of cases) {
        const body = { ...(await registration("carol", "phone", secret)).body, ...patch };
        if (patch.user === "nobody") body.signature = await signChallenge(body.nonce, AuthPurpose.register, { user: "nobody", device: "phone", cipherSuite: 1, keys: reg.keys });
        if (patch.user === "nobody") body.signatureKey = toBase64Url(reg.keys.publicKey);
        const r = await s.request("POST", "/v1/clients", { json: body });
        expect([r.status, errorCode(r)], JSON.stringify(patch)).toEqual([status, code]);
      }
      // an all-zero P-256 "point" has the right shape but is no key
      const p256 = await registration("carol", "p256", secret, 2);
      const bogus = new Uint8Array(65);
      bogus[0] = 4;
      const r = await s.request("POST", "/v1/clients", { json: { ...p256.body, signatureKey: toBase64Url(bogus) } });
      expect([r.status, errorCode(r)]).toEqual([400, "INVALID_SIGNATURE_KEY"]);
    });

    it("refuses a second device of the same name and a second client with the same key", async () => {
      const secret = await createAccount(s, "dave");
      const first = await registration("dave", "phone", secret);
      expect((await s.request("POST", "/v1/clients", { json: first.body })).status).toBe(201);
      const dup = await registration("dave", "phone", secret);
      let r = await s.request("POST", "/v1/clients", { json: dup.body });
      expect([r.status, errorCode(r)]).toEqual([409, "CLIENT_EXISTS"]);
      // same key again under another device name (proof of possession by the same key)
      const c = await challenge(s);
      const signature = await signChallenge(c.nonce, AuthPurpose.register, { user: "dave", device: "laptop", cipherSuite: 1, keys: first.keys });
      r = await s.request("POST", "/v1/clients", { json: { ...first.body, device: "laptop", nonce: c.nonce, signature } });
      expect([r.status, errorCode(r)]).toEqual([409, "SIGNATURE_KEY_IN_USE"]);
    });

    it("logs in with a fresh signed challenge, once per nonce", async () => {
      const d = await registerDevice(s, "erin", "phone", 7);
      const r = await login(d);
      expect(r.status).toBe(201);
      expect(r.body.client.identity).toBe("erin@example.com#phone");
      expect((await s.request("GET", "/v1/clients/self", { token: r.body.token })).status).toBe(200);
      expect((await s.request("GET", "/v1/clients/self", { token: d.token })).status).toBe(200); // the old token still works

      const nonce = (await challenge(s)).nonce;
      expect((await login(d, { nonce })).status).toBe(201);
      const replay = await login(d, { nonce });
      expect([replay.status, errorCode(replay)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);
      const wrongPurpose = await login(d, { purpose: AuthPurpose.register });
      expect([wrongPurpose.status, errorCode(wrongPurpose)]).toEqual([401, "AUTH_SIGNATURE_INVALID"]);
      const impostor = await login({ ...d, keys: await crypto.suite(7).signatureGenerateKeyPair() });
      expect([impostor.status, errorCode(impostor)]).toEqual([401, "AUTH_SIGNATURE_INVALID"]);
      const ghost = await login({ ...d, device: "ghost" });
      expect([ghost.status, errorCode(ghost)]).toEqual([404, "CLIENT_NOT_FOUND"]);
    });

    it("logs out: the token stops working, others of the client keep working", async () => {
      const d = await registerDevice(s, "frank", "phone");
      const second = (await login(d)).body.token;
      expect((await s.request("DELETE", "/v1/auth/tokens/current", { token: d.token })).status).toBe(204);
      const r = await s.request("GET", "/v1/clients/self", { token: d.token });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      expect((await s.request("GET", "/v1/clients/self", { token: second })).status).toBe(200);
    });

    it("lets a device revoke another device of its own user only; the revoked one can no longer act", async () => {
      const secret = await createAccount(s, "gina");
      const phone = await registerDevice(s, "gina", "phone", 1, secret);
      const laptop = await registerDevice(s, "gina", "laptop", 3, secret);
      const mallory = await registerDevice(s, "mallory", "pc");
      let r = await s.request("POST", "/v1/users/gina/clients/phone/revoke", { token: mallory.token });
      expect([r.status, errorCode(r)]).toEqual([403, "FORBIDDEN"]);
      r = await s.request("POST", "/v1/users/gina/clients/tablet/revoke", { token: laptop.token });
      expect([r.status, errorCode(r)]).toEqual([404, "CLIENT_NOT_FOUND"]);
      const revoked = await s.request<RevokeClientResponse>("POST", "/v1/users/gina/clients/phone/revoke", { token: laptop.token });
      expect(revoked.status).toBe(200);
      expect(revoked.body.client.revokedAt).toBe(s.clock.now);
      r = await s.request("GET", "/v1/clients/self", { token: phone.token });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      const relogin = await login(phone);
      expect([relogin.status, errorCode(relogin)]).toEqual([403, "CLIENT_REVOKED"]);
      const list = await s.request<ListClientsResponse>("GET", "/v1/users/gina/clients", { token: laptop.token });
      expect(list.body.clients.map((c) => [c.device, c.revokedAt !== null])).toEqual([["phone", true], ["laptop", false]]);
      const unknownUser = await s.request("GET", "/v1/users/nobody/clients", { token: laptop.token });
      expect([unknownUser.status, errorCode(unknownUser)]).toEqual([404, "ACCOUNT_NOT_FOUND"]);
    });
  });
});
