import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTH_HASH_SUITE,
  AuthPurpose,
  forgeTranscript,
  fromBase64Url,
  toBase64Url,
  verifyHandshake,
  x25519GenerateKeyPair,
  type ChallengeResponse,
  type ClientInfo,
  type CreateAccountResponse,
  type ListClientsResponse,
  type TokenResponse,
} from "@conclave/api";
import { CIPHER_SUITE_IDS } from "@conclave/mls";
import { createConclaveServer } from "../src/index.js";
import { ENGINES } from "./support/engines.js";
import { answer, challenge, createAccount, crypto, errorCode, invite, login, registerDevice, registration, signChallenge, startServer, type RunningServer } from "./support/server.js";

describe.each(ENGINES)("client registration and deniable authentication [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
  });
  afterAll(async () => {
    await s?.close();
  });

  const recovery = (recoveryCode: string) => ({ kind: "recovery" as const, recoveryCode });

  describe.skipIf(!engine.available)("", () => {
    it("creates an account once, against an invite, and returns its recovery code once", async () => {
      const r = await s.request<CreateAccountResponse>("POST", "/v1/accounts", { json: { user: "alice", proof: { kind: "invite", token: await invite(s) } } });
      expect(r.status).toBe(201);
      expect(r.body.identity).toBe("alice@example.com");
      expect(r.body.recoveryCode).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
      expect(r.body.unusedExpiresAt).toBe(s.clock.now + 7 * 24 * 3600_000);
      const again = await s.request("POST", "/v1/accounts", { json: { user: "alice", proof: { kind: "invite", token: await invite(s) } } });
      expect([again.status, errorCode(again)]).toEqual([409, "ACCOUNT_EXISTS"]);
    });

    it("registers devices of every cipher suite with proof of both keys and returns working tokens", async () => {
      const code = await createAccount(s, "suites");
      for (const cs of CIPHER_SUITE_IDS) {
        const { d, body } = await registration(s, "suites", `dev${cs}`, recovery(code), cs);
        const r = await s.request<TokenResponse>("POST", "/v1/clients", { json: body });
        expect(r.status, `suite ${cs}: ${JSON.stringify(r.body)}`).toBe(201);
        expect(r.body.client).toEqual({
          identity: `suites@example.com#dev${cs}`,
          user: "suites",
          device: `dev${cs}`,
          cipherSuite: cs,
          signatureKey: toBase64Url(d.keys.publicKey),
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

    it("refuses wrong recovery codes, bad signatures, bad MACs and replayed or expired nonces, writing nothing", async () => {
      const code = await createAccount(s, "bob");
      let r = await s.request("POST", "/v1/clients", { json: (await registration(s, "bob", "phone", recovery("0000-0000-0000-0000-0000-0000-0000-0000"))).body });
      expect([r.status, errorCode(r)]).toEqual([401, "RECOVERY_CODE_INVALID"]);

      const good = await registration(s, "bob", "phone", recovery(code));
      const other = await crypto.suite(1).signatureGenerateKeyPair();
      const sign = (nonce: string, keys = good.d.keys) => signChallenge(nonce, AuthPurpose.register, { ...good.d, keys });
      const attempts: [string, string, (c: Awaited<ReturnType<typeof challenge>>) => Promise<Record<string, string>>][] = [
        [
          "signed by another key than the one registered",
          "AUTH_SIGNATURE_INVALID",
          async (c) => ({ ...(await answer(c, AuthPurpose.register, good.d)), signature: await sign(c.nonce, { ...good.d.keys, privateKey: other.privateKey }) }),
        ],
        ["a login answer is not a registration", "AUTH_MAC_INVALID", async (c) => ({ ...(await answer(c, AuthPurpose.login, good.d)), signature: await sign(c.nonce) })],
        ["an answer for another deployment", "AUTH_MAC_INVALID", async (c) => ({ ...(await answer(c, AuthPurpose.register, good.d, "evil.example")), signature: await sign(c.nonce) })],
        [
          "an answer made with another auth key",
          "AUTH_MAC_INVALID",
          async (c) => ({ ...(await answer(c, AuthPurpose.register, { ...good.d, authKey: await x25519GenerateKeyPair() })), signature: await sign(c.nonce) }),
        ],
        [
          "a signature over another nonce",
          "AUTH_SIGNATURE_INVALID",
          async (c) => ({ ...(await answer(c, AuthPurpose.register, good.d)), signature: await sign(toBase64Url(new Uint8Array(32))) }),
        ],
      ];
      for (const [why, code2, make] of attempts) {
        r = await s.request("POST", "/v1/clients", { json: { ...good.body, ...(await make(await challenge(s))) } });
        expect([r.status, errorCode(r)], why).toEqual([401, code2]);
      }

      const changedDevice = { ...good.body, device: "tablet" }; // the MAC and signature cover the device id
      r = await s.request("POST", "/v1/clients", { json: changedDevice });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_MAC_INVALID"]);
      r = await s.request("POST", "/v1/clients", { json: good.body }); // that nonce was used up by the attempt above
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const late = await registration(s, "bob", "phone", recovery(code));
      s.clock.advance(60_001);
      r = await s.request("POST", "/v1/clients", { json: late.body });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const unknownNonce = await registration(s, "bob", "phone", recovery(code));
      r = await s.request("POST", "/v1/clients", { json: { ...unknownNonce.body, nonce: toBase64Url(new Uint8Array(32).fill(1)) } });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);

      const viewer = await registerDevice(s, "viewer2", "x");
      const list = await s.request<ListClientsResponse>("GET", "/v1/users/bob/clients", { token: viewer.token });
      expect(list.body.clients).toEqual([]);

      const ok = await registration(s, "bob", "phone", recovery(code));
      expect((await s.request("POST", "/v1/clients", { json: ok.body })).status).toBe(201);
    });

    it("no account secret adds a device: the old request shape is refused, and no approval means no device", async () => {
      const code = await createAccount(s, "ivy");
      await registerDevice(s, "ivy", "phone", 1, code);
      const { body } = await registration(s, "ivy", "thief", { kind: "approval" });
      let r = await s.request("POST", "/v1/clients", { json: body });
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);
      const old = await registration(s, "ivy", "thief", recovery(code));
      const { authorization: _, ...rest } = old.body;
      r = await s.request("POST", "/v1/clients", { json: { ...rest, accountSecret: toBase64Url(new Uint8Array(32)) } });
      expect([r.status, errorCode(r)]).toEqual([400, "BAD_REQUEST"]);
    });

    it("rejects malformed keys, suites and names with 4xx codes", async () => {
      const code = await createAccount(s, "carol");
      const cases: [Record<string, unknown>, number, string][] = [
        [{ signatureKey: toBase64Url(new Uint8Array(31)) }, 400, "INVALID_SIGNATURE_KEY"],
        [{ cipherSuite: 2 }, 400, "INVALID_SIGNATURE_KEY"], // an Ed25519 key is not a P-256 key
        [{ cipherSuite: 9 }, 400, "UNSUPPORTED_CIPHER_SUITE"],
        [{ signatureKey: "a+b" }, 400, "BAD_REQUEST"],
        [{ signatureKey: "abcde" }, 400, "INVALID_BASE64URL"],
        [{ authKey: toBase64Url(new Uint8Array(31)) }, 400, "INVALID_AUTH_KEY"],
        [{ clientEphemeral: toBase64Url(new Uint8Array(32)) }, 400, "INVALID_AUTH_KEY"], // low order: all-zero DH
        [{ device: "bad device" }, 400, "BAD_REQUEST"],
      ];
      for (const [patch, status, code2] of cases) {
        const body = { ...(await registration(s, "carol", "phone", recovery(code))).body, ...patch };
        const r = await s.request("POST", "/v1/clients", { json: body });
        expect([r.status, errorCode(r)], JSON.stringify(patch)).toEqual([status, code2]);
      }
      const nobody = await registration(s, "nobody", "phone", recovery(code));
      const r = await s.request("POST", "/v1/clients", { json: nobody.body });
      expect([r.status, errorCode(r)]).toEqual([404, "ACCOUNT_NOT_FOUND"]);
      // an all-zero P-256 "point" has the right shape but is no key
      const p256 = await registration(s, "carol", "p256", recovery(code), 2);
      const bogus = new Uint8Array(65);
      bogus[0] = 4;
      const b = await s.request("POST", "/v1/clients", { json: { ...p256.body, signatureKey: toBase64Url(bogus) } });
      expect([b.status, errorCode(b)]).toEqual([400, "INVALID_SIGNATURE_KEY"]);
    });

    it("refuses a second device of the same name and a second client with the same key", async () => {
      const code = await createAccount(s, "dave");
      const first = await registration(s, "dave", "phone", recovery(code));
      expect((await s.request("POST", "/v1/clients", { json: first.body })).status).toBe(201);
      const dup = await registration(s, "dave", "phone", recovery(code));
      let r = await s.request("POST", "/v1/clients", { json: dup.body });
      expect([r.status, errorCode(r)]).toEqual([409, "CLIENT_EXISTS"]);
      const sameKey = await registration(s, "dave", "laptop", recovery(code), 1, first.d);
      r = await s.request("POST", "/v1/clients", { json: sameKey.body });
      expect([r.status, errorCode(r)]).toEqual([409, "SIGNATURE_KEY_IN_USE"]);
    });

    it("logs in with the handshake, once per challenge; wrong purpose, key or name fail", async () => {
      const d = await registerDevice(s, "erin", "phone", 7);
      const r = await login(s, d);
      expect(r.status).toBe(201);
      expect(r.body.client.identity).toBe("erin@example.com#phone");
      expect((await s.request("GET", "/v1/clients/self", { token: r.body.token })).status).toBe(200);
      expect((await s.request("GET", "/v1/clients/self", { token: d.token })).status).toBe(200); // the old token still works

      const c = await challenge(s);
      const body = { user: d.user, device: d.device, ...(await answer(c, AuthPurpose.login, d)) };
      expect((await s.request("POST", "/v1/auth/tokens", { json: body })).status).toBe(201);
      const replay = await s.request("POST", "/v1/auth/tokens", { json: body });
      expect([replay.status, errorCode(replay)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);
      const c2 = await challenge(s);
      const wrongPurpose = await s.request("POST", "/v1/auth/tokens", { json: { user: d.user, device: d.device, ...(await answer(c2, AuthPurpose.register, d)) } });
      expect([wrongPurpose.status, errorCode(wrongPurpose)]).toEqual([401, "AUTH_MAC_INVALID"]);
      const impostor = await login(s, { ...d, authKey: await x25519GenerateKeyPair() });
      expect([impostor.status, errorCode(impostor)]).toEqual([401, "AUTH_MAC_INVALID"]);
      // a MAC for another domain's server is useless here
      const c3 = await challenge(s);
      const foreign = await s.request("POST", "/v1/auth/tokens", { json: { user: d.user, device: d.device, ...(await answer(c3, AuthPurpose.login, d, "evil.example")) } });
      expect([foreign.status, errorCode(foreign)]).toEqual([401, "AUTH_MAC_INVALID"]);
      const ghost = await login(s, { ...d, device: "ghost" });
      expect([ghost.status, errorCode(ghost)]).toEqual([404, "CLIENT_NOT_FOUND"]);
    });

    it("a login transcript verifies for the server, and the server could have made it without the client", async () => {
      const d = await registerDevice(s, "judge-me", "phone");
      const suite = crypto.suite(AUTH_HASH_SUITE);
      // What the DS operator keeps of a real login: the challenge and the client's answer.
      const c = await challenge(s);
      const real = await answer(c, AuthPurpose.login, d);
      const nonce = fromBase64Url(c.nonce);
      const keys = await s.app.conclave.as.auth.challengeKeys(nonce);
      const t = { domain: "example.com", purpose: AuthPurpose.login, user: d.user, device: d.device, nonce, clientAuthKey: d.authKey.publicKey } as const;
      expect(await verifyHandshake(suite, keys, { ...t, clientEphemeral: fromBase64Url(real.clientEphemeral) }, fromBase64Url(real.mac))).toBe(true);
      // The operator alone (its private keys + the client's PUBLIC auth key) makes another
      // transcript for a fresh challenge; the real server accepts it as a login of that client.
      const c2 = await challenge(s);
      const keys2 = await s.app.conclave.as.auth.challengeKeys(fromBase64Url(c2.nonce));
      const forged = await forgeTranscript(suite, keys2, { ...t, nonce: fromBase64Url(c2.nonce) });
      const r = await s.request<TokenResponse>("POST", "/v1/auth/tokens", {
        json: { user: d.user, device: d.device, nonce: c2.nonce, clientEphemeral: toBase64Url(forged.clientEphemeral), mac: toBase64Url(forged.mac) },
      });
      expect(r.status).toBe(201);
      // So a transcript shown to a third party proves nothing: the server makes valid ones at will.
      expect(await verifyHandshake(suite, keys2, { ...t, nonce: fromBase64Url(c2.nonce), clientEphemeral: forged.clientEphemeral }, forged.mac)).toBe(true);
      // And without the server's private keys nobody else can even check one: another key pair says no.
      const outsider = { serverKey: await x25519GenerateKeyPair(), serverEphemeral: keys.serverEphemeral };
      expect(await verifyHandshake(suite, outsider, { ...t, clientEphemeral: fromBase64Url(real.clientEphemeral) }, fromBase64Url(real.mac))).toBe(false);
      // The real answer still logs in once (the challenge was never spent above).
      expect((await s.request("POST", "/v1/auth/tokens", { json: { user: d.user, device: d.device, ...real } })).status).toBe(201);
    });

    it("a second server process on the same database answers the first one's challenges with the same static key", async () => {
      const d = await registerDevice(s, "twin", "phone");
      const other = await createConclaveServer({
        store: s.t.store,
        clock: s.clock.fn,
        domain: "example.com",
        limits: { rateLimitPerIp: false, rateLimitPerClient: false },
        accounts: { sweepIntervalMs: 0 },
      });
      await other.listen({ host: "127.0.0.1", port: 0 });
      try {
        const addr = other.server.address();
        if (addr === null || typeof addr === "string") throw new Error("no TCP address");
        const c = await challenge(s);
        const body = { user: d.user, device: d.device, ...(await answer(c, AuthPurpose.login, d)) };
        const r = await fetch(`http://127.0.0.1:${addr.port}/v1/auth/tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        expect(r.status).toBe(201);
        const c2 = (await (await fetch(`http://127.0.0.1:${addr.port}/v1/auth/challenges`, { method: "POST" })).json()) as ChallengeResponse;
        expect(c2.serverKey).toBe(c.serverKey);
        // and the nonce is spent for both
        const again = await s.request("POST", "/v1/auth/tokens", { json: body });
        expect([again.status, errorCode(again)]).toEqual([401, "AUTH_CHALLENGE_INVALID"]);
      } finally {
        await other.close();
      }
    });

    it("logs out: the token stops working, others of the client keep working", async () => {
      const d = await registerDevice(s, "frank", "phone");
      const second = (await login(s, d)).body.token;
      expect((await s.request("DELETE", "/v1/auth/tokens/current", { token: d.token })).status).toBe(204);
      const r = await s.request("GET", "/v1/clients/self", { token: d.token });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      expect((await s.request("GET", "/v1/clients/self", { token: second })).status).toBe(200);
    });
  });
});
