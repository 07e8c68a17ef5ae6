import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64Url, type ClaimKeyPackagesResponse, type KeyPackageCountsResponse, type ListKeyPackagesResponse } from "@conclave/api";
import { bytesEqual, CIPHER_SUITE_IDS, createKeyPackage, CredentialType, utf8 } from "@conclave/mls";
import { ENGINES } from "./support/engines.js";
import { createAccount, crypto, errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { keyPackageOf, NO_RATE_LIMITS, uploadKeyPackages } from "./ds-support.js";

describe.each(ENGINES)("DS KeyPackage directory [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    // Claim limits are off here (the concurrency test claims 30 at once); the last test turns them on.
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, ds: { keyPackageClaims: { perClaimer: false, perTarget: false } } });
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("uploads, counts, lists and deletes KeyPackages with their KeyPackageRefs", async () => {
      const d = await registerDevice(s, "kp-alice", "phone");
      const kps = await Promise.all([keyPackageOf(d), keyPackageOf(d), keyPackageOf(d), keyPackageOf(d, { lastResort: true })]);
      const up = await uploadKeyPackages(s, d, kps);
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      expect(up.body.keyPackages.map((k) => [k.ref, k.lastResort])).toEqual(kps.map((k, i) => [toBase64Url(k.ref), i === 3]));
      const count = await s.request<KeyPackageCountsResponse>("GET", "/v1/key-packages/count", { token: d.token });
      expect(count.body.counts).toEqual([{ cipherSuite: 1, count: 3, lastResort: true }]);
      const del = await s.request("DELETE", `/v1/key-packages/${toBase64Url(kps[0]!.ref)}`, { token: d.token });
      expect(del.status).toBe(204);
      const again = await s.request("DELETE", `/v1/key-packages/${toBase64Url(kps[0]!.ref)}`, { token: d.token });
      expect([again.status, errorCode(again)]).toEqual([404, "KEY_PACKAGE_NOT_FOUND"]);
      const list = await s.request<ListKeyPackagesResponse>("GET", "/v1/key-packages", { token: d.token });
      expect(list.body.keyPackages.map((k) => k.ref)).toEqual(kps.slice(1).map((k) => toBase64Url(k.ref)));
    });

    it("accepts KeyPackages of every supported suite the client's key signs", async () => {
      for (const cs of CIPHER_SUITE_IDS) {
        const d = await registerDevice(s, `kp-suite${cs}`, "d", cs);
        const r = await uploadKeyPackages(s, d, [await keyPackageOf(d)]);
        expect(r.status, `suite ${cs}: ${JSON.stringify(r.body)}`).toBe(201);
        expect(r.body.keyPackages[0]!.cipherSuite).toBe(cs);
      }
    });

    it("rejects another client's KeyPackage, a bad signature, malformed bytes and non-KeyPackages, storing nothing of the batch", async () => {
      const a = await registerDevice(s, "kp-bob", "a");
      const b = await registerDevice(s, "kp-carol", "b");
      const good = await keyPackageOf(a);
      const foreign = await keyPackageOf(b);
      const r1 = await uploadKeyPackages(s, a, [good, foreign]);
      expect([r1.status, errorCode(r1)]).toEqual([400, "KEY_PACKAGE_KEY_MISMATCH"]);
      const tampered = await keyPackageOf(a);
      const bytes = new Uint8Array(tampered.message);
      bytes[bytes.length - 10]! ^= 1; // inside the signature
      const r2 = await s.request("POST", "/v1/key-packages", { token: a.token, json: { keyPackages: [toBase64Url(good.message), toBase64Url(bytes)] } });
      expect([r2.status, errorCode(r2)]).toEqual([400, "KEY_PACKAGE_INVALID_SIGNATURE"]);
      const r3 = await s.request("POST", "/v1/key-packages", { token: a.token, json: { keyPackages: [toBase64Url(good.message.subarray(0, 50))] } });
      expect(r3.status).toBe(400);
      expect(errorCode(r3)).toMatch(/^DECODE_/);
      const expired = await uploadKeyPackages(s, a, [good, await keyPackageOf(a, { notAfter: BigInt(s.clock.now / 1000 - 1) })]);
      expect([expired.status, errorCode(expired)]).toEqual([400, "LEAF_NODE_INVALID_LIFETIME"]);
      const count = await s.request<KeyPackageCountsResponse>("GET", "/v1/key-packages/count", { token: a.token });
      expect(count.body.counts).toEqual([]);
      const noAuth = await s.request("POST", "/v1/key-packages", { json: { keyPackages: [toBase64Url(good.message)] } });
      expect([noAuth.status, errorCode(noAuth)]).toEqual([401, "AUTH_REQUIRED"]);
    });

    it("claims one KeyPackage per device and suite, consuming ordinary ones and keeping the last-resort one", async () => {
      const secret = await createAccount(s, "kp-dave");
      const d1 = await registerDevice(s, "kp-dave", "d1", 1, secret);
      const d2 = await registerDevice(s, "kp-dave", "d2", 1, secret);
      const claimer = await registerDevice(s, "kp-erin", "x");
      const k1 = await keyPackageOf(d1);
      const lr = await keyPackageOf(d1, { lastResort: true });
      const k2 = await keyPackageOf(d2);
      expect((await uploadKeyPackages(s, d1, [k1, lr])).status).toBe(201);
      expect((await uploadKeyPackages(s, d2, [k2])).status).toBe(201);
      const claim = () => s.request<ClaimKeyPackagesResponse>("POST", "/v1/users/kp-dave/key-packages/claim", { token: claimer.token, json: { cipherSuites: [1] } });
      const c1 = await claim();
      expect(c1.status).toBe(200);
      expect(c1.body.keyPackages.map((k) => [k.device, k.ref, k.lastResort])).toEqual([
        ["d1", toBase64Url(k1.ref), false],
        ["d2", toBase64Url(k2.ref), false],
      ]);
      expect(bytesEqual(Buffer.from(c1.body.keyPackages[0]!.keyPackage, "base64url"), k1.message)).toBe(true);
      const c2 = await claim();
      expect(c2.body.keyPackages.map((k) => [k.device, k.ref, k.lastResort])).toEqual([["d1", toBase64Url(lr.ref), true]]);
      expect(c2.body.missing).toEqual([{ device: "d2", cipherSuite: 1 }]);
      const c3 = await claim();
      expect(c3.body.keyPackages.map((k) => k.ref)).toEqual([toBase64Url(lr.ref)]);
      // A newer last-resort KeyPackage replaces the old one.
      const lr2 = await keyPackageOf(d1, { lastResort: true });
      expect((await uploadKeyPackages(s, d1, [lr2])).status).toBe(201);
      const list = await s.request<ListKeyPackagesResponse>("GET", "/v1/key-packages", { token: d1.token });
      expect(list.body.keyPackages.map((k) => k.ref)).toEqual([toBase64Url(lr2.ref)]);
      const unknown = await s.request("POST", "/v1/users/nobody/key-packages/claim", { token: claimer.token, json: { cipherSuites: [1] } });
      expect([unknown.status, errorCode(unknown)]).toEqual([404, "ACCOUNT_NOT_FOUND"]);
    });

    it("never hands out a KeyPackage twice under many concurrent claims", async () => {
      const owner = await registerDevice(s, "kp-frank", "d");
      const claimer = await registerDevice(s, "kp-grace", "x");
      const N = 30;
      const kps = await Promise.all(Array.from({ length: N }, () => keyPackageOf(owner)));
      expect((await uploadKeyPackages(s, owner, kps)).status).toBe(201);
      const results = await Promise.all(
        Array.from({ length: N + 10 }, () => s.request<ClaimKeyPackagesResponse>("POST", "/v1/users/kp-frank/key-packages/claim", { token: claimer.token, json: { cipherSuites: [1] } })),
      );
      const refs = results.flatMap((r) => {
        expect(r.status).toBe(200);
        return r.body.keyPackages.map((k) => k.ref);
      });
      expect(new Set(refs).size).toBe(refs.length);
      expect(refs.length).toBe(N);
      expect(new Set(refs)).toEqual(new Set(kps.map((k) => toBase64Url(k.ref))));
    });

    it("refuses a KeyPackage whose credential names another client, even signed by the uploader's own key", async () => {
      const mallory = await registerDevice(s, "kp-mallory", "pc");
      await registerDevice(s, "kp-victim", "phone");
      const posingAs = (identity: string) =>
        createKeyPackage({
          suite: crypto.suite(1),
          identity: {
            credential: { credentialType: CredentialType.basic, identity: utf8(identity) },
            signaturePrivateKey: mallory.keys.privateKey,
            signaturePublicKey: mallory.keys.publicKey,
          },
          lifetime: { notBefore: 1_700_000_000n, notAfter: 2_300_000_000n },
        });
      for (const identity of ["kp-victim@example.com#phone", "kp-mallory@example.com#phone", "kp-mallory@evil.example#pc", "kp-mallory#pc", ""]) {
        const r = await uploadKeyPackages(s, mallory, [await keyPackageOf(mallory), await posingAs(identity)]);
        expect([r.status, errorCode(r)], identity).toEqual([400, "KEY_PACKAGE_IDENTITY_MISMATCH"]);
      }
      const count = await s.request<KeyPackageCountsResponse>("GET", "/v1/key-packages/count", { token: mallory.token });
      expect(count.body.counts).toEqual([]); // nothing of a refused batch is stored
      expect((await uploadKeyPackages(s, mallory, [await posingAs("kp-mallory@example.com#pc")])).status).toBe(201);
    });

    it("limits claims per claimer and per target: past either, the last-resort KeyPackage is served and the supply survives", async () => {
      const limited = await startServer(engine, {
        ...NO_RATE_LIMITS,
        ds: { keyPackageClaims: { perClaimer: { capacity: 3, refillPerSecond: 1 / 3600 }, perTarget: { capacity: 5, refillPerSecond: 1 / 3600 } } },
      });
      try {
        const target = await registerDevice(limited, "kp-target", "phone");
        const kps = await Promise.all(Array.from({ length: 10 }, () => keyPackageOf(target)));
        const lr = await keyPackageOf(target, { lastResort: true });
        expect((await uploadKeyPackages(limited, target, [...kps, lr])).status).toBe(201);
        const claim = async (by: Device) => {
          const r = await limited.request<ClaimKeyPackagesResponse>("POST", "/v1/users/kp-target/key-packages/claim", { token: by.token, json: { cipherSuites: [1] } });
          expect(r.status).toBe(200);
          return r.body.keyPackages.map((k) => k.lastResort);
        };
        const drainer = await registerDevice(limited, "kp-drainer", "x");
        const drained = [];
        for (let i = 0; i < 6; i++) drained.push(...(await claim(drainer)));
        expect(drained).toEqual([false, false, false, true, true, true]); // per claimer: 3
        const helpers = await Promise.all(["a", "b", "c"].map((n) => registerDevice(limited, `kp-sybil-${n}`, "x")));
        const sybils = [];
        for (const h of helpers) sybils.push(...(await claim(h)), ...(await claim(h)));
        expect(sybils).toEqual([false, false, true, true, true, true]); // per target: 5 in all
        const count = await limited.request<KeyPackageCountsResponse>("GET", "/v1/key-packages/count", { token: target.token });
        expect(count.body.counts).toEqual([{ cipherSuite: 1, count: 5, lastResort: true }]);
        limited.clock.advance(3600_000); // a token back per hour
        expect(await claim(helpers[0]!)).toEqual([false]);
      } finally {
        await limited.close();
      }
    });
  });
});
