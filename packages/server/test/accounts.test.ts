/** Proof of a user name, creation limits and expiry of unused accounts (issue 23), against the real server. */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { toBase64Url, type CreateAccountResponse, type CreateInviteResponse } from "@conclave/api";
import { ENGINES } from "./support/engines.js";
import { createConclaveServer, MemoryBucketStore } from "../src/index.js";
import { errorCode, invite, registerDevice, startServer, type RunningServer } from "./support/server.js";

const NO_LIMITS = { rateLimitPerIp: false, rateLimitPerClient: false } as const;

/** A local OpenID provider: an ES256 key pair, its JWKS and a token signer. */
async function localIssuer() {
  const kp = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = { ...(await crypto.subtle.exportKey("jwk", kp.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const b64 = (v: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(v)));
  async function sign(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "ES256", kid: "k1", typ: "JWT" }, key = kp.privateKey): Promise<string> {
    const input = `${b64(header)}.${b64(claims)}`;
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(input)));
    return `${input}.${toBase64Url(sig)}`;
  }
  return { jwks: { keys: [jwk] }, sign };
}

describe.each(ENGINES)("accounts: proof of a name, limits, expiry [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: NO_LIMITS, accounts: { adminToken: "admin-secret-token" } });
  });
  afterAll(async () => {
    await s?.close();
  });

  const create = (srv: RunningServer, user: string, proof: unknown, headers: Record<string, string> = {}) =>
    srv.request<CreateAccountResponse>("POST", "/v1/accounts", { json: { user, proof }, headers });

  describe.skipIf(!engine.available)("", () => {
    it("takes a user name only against a valid, unused invite (the default verifier)", async () => {
      for (const proof of [{ kind: "none" }, { kind: "invite", token: "made-up" }, { kind: "oidc", idToken: "a.b.c" }]) {
        const r = await create(s, "nia", proof);
        expect([r.status, errorCode(r)], JSON.stringify(proof)).toEqual([403, "NAME_PROOF_INVALID"]);
      }
      const token = await invite(s);
      expect((await create(s, "nia", { kind: "invite", token })).status).toBe(201);
      const reused = await create(s, "nia2", { kind: "invite", token });
      expect([reused.status, errorCode(reused)]).toEqual([403, "NAME_PROOF_INVALID"]);
      // A taken name does not spend the invite.
      const spare = await invite(s);
      const taken = await create(s, "nia", { kind: "invite", token: spare });
      expect([taken.status, errorCode(taken)]).toEqual([409, "ACCOUNT_EXISTS"]);
      expect((await create(s, "nia3", { kind: "invite", token: spare })).status).toBe(201);
      // Expired invites are refused.
      const old = await invite(s);
      s.clock.advance(7 * 24 * 3600_000 + 1);
      const late = await create(s, "nia4", { kind: "invite", token: old });
      expect([late.status, errorCode(late)]).toEqual([403, "NAME_PROOF_INVALID"]);
    });

    it("gives a name to one of many concurrent claimants; the others keep their invites", async () => {
      const invites = await Promise.all(Array.from({ length: 6 }, () => invite(s)));
      const replies = await Promise.all(invites.map((token) => create(s, "race", { kind: "invite", token })));
      expect(replies.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      // The single-use invite of each loser was not spent.
      const again = await Promise.all(invites.map((token, i) => create(s, `race${i}`, { kind: "invite", token })));
      expect(again.map((r) => r.status).filter((st) => st === 201).length).toBe(5);
      expect(again.filter((r) => r.status !== 201).map((r) => errorCode(r))).toEqual(["NAME_PROOF_INVALID"]);
    });

    it("makes invites for the admin token only", async () => {
      const none = await s.request("POST", "/v1/admin/invites");
      expect([none.status, errorCode(none)]).toEqual([401, "ADMIN_TOKEN_INVALID"]);
      const wrong = await s.request("POST", "/v1/admin/invites", { headers: { authorization: "Bearer admin-secret-tokem" } });
      expect([wrong.status, errorCode(wrong)]).toEqual([401, "ADMIN_TOKEN_INVALID"]);
      const client = await registerDevice(s, "adm-client", "x");
      const asClient = await s.request("POST", "/v1/admin/invites", { token: client.token });
      expect([asClient.status, errorCode(asClient)]).toEqual([401, "ADMIN_TOKEN_INVALID"]);
      const r = await s.request<CreateInviteResponse>("POST", "/v1/admin/invites", { headers: { authorization: "Bearer admin-secret-token" } });
      expect(r.status).toBe(201);
      expect(r.body.expiresAt).toBe(s.clock.now + 7 * 24 * 3600_000);
      expect((await create(s, "adm-made", { kind: "invite", token: r.body.token })).status).toBe(201);
    });

    it("expires accounts on which no device registered, in the background sweep, and frees their names", async () => {
      const unused = await create(s, "sleepy", { kind: "invite", token: await invite(s) });
      expect(unused.status).toBe(201);
      await registerDevice(s, "awake", "phone");
      const as = s.app.conclave.as;
      expect(await as.sweeper.sweep()).not.toContain("sleepy"); // (older accounts of earlier tests may go here)
      s.clock.advance(7 * 24 * 3600_000 + 1);
      const swept = await as.sweeper.sweep();
      expect(swept).toContain("sleepy");
      expect(swept).not.toContain("awake");
      const again = await create(s, "sleepy", { kind: "invite", token: await invite(s) });
      expect(again.status).toBe(201);
      const taken = await create(s, "awake", { kind: "invite", token: await invite(s) });
      expect([taken.status, errorCode(taken)]).toEqual([409, "ACCOUNT_EXISTS"]);
    });

    it("runs the sweep on its own timer", async () => {
      const swept = await startServer(engine, { limits: NO_LIMITS, accounts: { sweepIntervalMs: 20, unusedAccountTtlMs: 1000 } });
      try {
        expect((await create(swept, "drowsy", { kind: "invite", token: await invite(swept) })).status).toBe(201);
        swept.clock.advance(1001);
        await vi.waitFor(
          async () => {
            const r = await create(swept, "drowsy", { kind: "invite", token: await invite(swept) });
            expect(r.status).toBe(201);
          },
          { timeout: 10_000, interval: 50 },
        );
      } finally {
        await swept.close();
      }
    });

    it("limits account creation per IP and per network prefix", async () => {
      const limited = await startServer(engine, {
        limits: NO_LIMITS,
        trustProxy: true,
        accounts: { creationPerIp: { capacity: 2, refillPerSecond: 1 / 3600 }, creationPerPrefix: { capacity: 3, refillPerSecond: 1 / 3600 } },
      });
      try {
        const from = async (ip: string, user: string) => create(limited, user, { kind: "invite", token: await invite(limited) }, { "x-forwarded-for": ip });
        expect((await from("203.0.113.7", "ip-a")).status).toBe(201);
        expect((await from("203.0.113.7", "ip-b")).status).toBe(201);
        const third = await from("203.0.113.7", "ip-c");
        expect([third.status, errorCode(third)]).toEqual([429, "RATE_LIMITED"]);
        expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
        // A neighbour in the same /24 has its own IP budget, but the prefix is nearly spent.
        expect((await from("203.0.113.8", "ip-d")).status).toBe(201);
        const prefix = await from("203.0.113.9", "ip-e");
        expect([prefix.status, errorCode(prefix)]).toEqual([429, "RATE_LIMITED"]);
        // Another network is unaffected; IPv6 is grouped by /48.
        expect((await from("198.51.100.1", "ip-f")).status).toBe(201);
        for (const [ip, user] of [
          ["2001:db8:1:1::1", "v6-a"],
          ["2001:db8:1:2::1", "v6-b"],
          ["2001:db8:1:3::1", "v6-c"],
        ] as const)
          expect((await from(ip, user)).status).toBe(201);
        const v6 = await from("2001:db8:1:4::1", "v6-d");
        expect([v6.status, errorCode(v6)]).toEqual([429, "RATE_LIMITED"]);
        // The refused attempts claimed nothing and spent no invite.
        const list = await limited.request("GET", "/v1/users/ip-c/clients", { token: (await registerDevice(limited, "ip-viewer", "x")).token });
        expect(errorCode(list)).toBe("ACCOUNT_NOT_FOUND");
      } finally {
        await limited.close();
      }
    });

    it("two server processes on one database share one creation limit through the rate-limit store", async () => {
      const shared = new MemoryBucketStore(() => s.clock.now); // stands in for Redis / PostgreSQL buckets
      const options = {
        limits: { rateLimitPerIp: { capacity: 1000, refillPerSecond: 100 }, rateLimitPerClient: false as const },
        rateLimitStore: shared,
        trustProxy: true,
        accounts: { creationPerIp: { capacity: 2, refillPerSecond: 1 / 3600 }, creationPerPrefix: false as const },
      };
      const a = await startServer(engine, options);
      const b = await createConclaveServer({
        store: a.t.store,
        clock: a.clock.fn,
        domain: "example.com",
        ...options,
        accounts: { recoveryCodeCost: 8, sweepIntervalMs: 0, ...options.accounts },
      });
      await b.listen({ host: "127.0.0.1", port: 0 });
      try {
        const addr = b.server.address();
        if (addr === null || typeof addr === "string") throw new Error("no TCP address");
        const viaB = async (user: string) =>
          fetch(`http://127.0.0.1:${addr.port}/v1/accounts`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-forwarded-for": "192.0.2.50" },
            body: JSON.stringify({ user, proof: { kind: "invite", token: await invite(a) } }),
          });
        expect((await create(a, "shared-a", { kind: "invite", token: await invite(a) }, { "x-forwarded-for": "192.0.2.50" })).status).toBe(201);
        expect((await viaB("shared-b")).status).toBe(201);
        const third = await create(a, "shared-c", { kind: "invite", token: await invite(a) }, { "x-forwarded-for": "192.0.2.50" });
        expect([third.status, errorCode(third)]).toEqual([429, "RATE_LIMITED"]);
        expect((await viaB("shared-d")).status).toBe(429);
      } finally {
        await b.close();
        await a.close();
      }
    });

    it("takes an OpenID Connect ID token from the configured issuer as the second verifier", async () => {
      const idp = await localIssuer();
      const oidc = await startServer(engine, { limits: NO_LIMITS, accounts: { nameProof: { kind: "oidc", issuer: "https://id.example", audience: "conclave", jwks: idp.jwks } } });
      try {
        const now = Math.floor(oidc.clock.now / 1000);
        const claims = { iss: "https://id.example", aud: "conclave", sub: "u-1", preferred_username: "olga", iat: now, exp: now + 300 };
        const token = (c: Record<string, unknown> = {}) => idp.sign({ ...claims, ...c });
        const other = await localIssuer();
        const bad: [string, Promise<string>][] = [
          ["wrong issuer", token({ iss: "https://evil.example" })],
          ["wrong audience", token({ aud: "someone-else" })],
          ["expired", token({ exp: now - 120 })],
          ["not yet valid", token({ nbf: now + 600 })],
          ["another user's name", token({ preferred_username: "olga2" })],
          ["signed by another key", other.sign(claims)],
          ["unknown kid", idp.sign(claims, { alg: "ES256", kid: "k2" })],
          ["alg none", Promise.resolve(`${toBase64Url(new TextEncoder().encode('{"alg":"none"}'))}.${toBase64Url(new TextEncoder().encode(JSON.stringify(claims)))}.`)],
          ["HS256 with the public key as secret", idp.sign(claims, { alg: "HS256", kid: "k1" })],
          ["garbage", Promise.resolve("not-a-jwt")],
        ];
        for (const [why, t] of bad) {
          const r = await create(oidc, "olga", { kind: "oidc", idToken: await t });
          expect([r.status, errorCode(r)], why).toEqual([403, "NAME_PROOF_INVALID"]);
        }
        const inviteInstead = await create(oidc, "olga", { kind: "invite", token: await invite(oidc) });
        expect([inviteInstead.status, errorCode(inviteInstead)]).toEqual([403, "NAME_PROOF_INVALID"]);
        const ok = await create(oidc, "olga", { kind: "oidc", idToken: await token() });
        expect(ok.status).toBe(201);
        expect(ok.body.identity).toBe("olga@example.com");
        expect((await registerDevice(oidc, "olga", "phone", 1, ok.body.recoveryCode)).user).toBe("olga");
      } finally {
        await oidc.close();
      }
    });

    it("fetches the issuer's JWKS again, at most once a minute, when a token names a key it has not seen (key rotation)", async () => {
      const first = await localIssuer();
      const rotated = await localIssuer();
      const rotatedJwk = { ...rotated.jwks.keys[0]!, kid: "k2" };
      let served = [first.jwks.keys[0]!];
      let fetches = 0;
      const jwks = async () => {
        fetches++;
        return { keys: served };
      };
      const oidc = await startServer(engine, { limits: NO_LIMITS, accounts: { nameProof: { kind: "oidc", issuer: "https://id.example", audience: "conclave", jwks } } });
      try {
        const now = Math.floor(oidc.clock.now / 1000);
        const claims = (user: string) => ({ iss: "https://id.example", aud: "conclave", preferred_username: user, exp: now + 300 });
        expect((await create(oidc, "rota", { kind: "oidc", idToken: await first.sign(claims("rota")) })).status).toBe(201);
        expect((await create(oidc, "rotb", { kind: "oidc", idToken: await first.sign(claims("rotb")) })).status).toBe(201);
        expect(fetches).toBe(1); // cached
        // An unknown kid refetches at most once a minute: random kids are not a flood on the issuer.
        served = [first.jwks.keys[0]!, rotatedJwk];
        const early = await create(oidc, "rotc", { kind: "oidc", idToken: await rotated.sign(claims("rotc"), { alg: "ES256", kid: "k2" }) });
        expect([early.status, errorCode(early)]).toEqual([403, "NAME_PROOF_INVALID"]);
        expect(fetches).toBe(1);
        oidc.clock.advance(60_000);
        const r = await create(oidc, "rotc", { kind: "oidc", idToken: await rotated.sign(claims("rotc"), { alg: "ES256", kid: "k2" }) });
        expect(r.status).toBe(201);
        expect(fetches).toBe(2);
        for (let i = 0; i < 3; i++) {
          const unknown = await create(oidc, `rotx${i}`, { kind: "oidc", idToken: await rotated.sign(claims(`rotx${i}`), { alg: "ES256", kid: `nope${i}` }) });
          expect([unknown.status, errorCode(unknown)]).toEqual([403, "NAME_PROOF_INVALID"]);
        }
        expect(fetches).toBe(2);
      } finally {
        await oidc.close();
      }
    });
  });
});
