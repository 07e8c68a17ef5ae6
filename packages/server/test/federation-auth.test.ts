/**
 * Issue 22 stage A: server-to-server authentication between real servers of
 * different domains on loopback. Every refusal is played against the real
 * server and asserted by code.
 */
import { describe, expect, it } from "vitest";
import { FEDERATION_WELL_KNOWN_PATH, fromBase64Url, toBase64Url, type FederationAdminResponse, type FederationDocument, type FederationPingResponse } from "@conclave/api";
import type { KeyPair } from "@conclave/mls";
import { crypto, errorCode, type RunningServer } from "./support/server.js";
import { ENGINES, type TestEngine } from "./support/engines.js";
import { ADMIN, domains, serversClosedAfterEach, signedHeaders, startDomain } from "./federation/support.js";

const servers = serversClosedAfterEach();

async function admin(s: RunningServer): Promise<FederationAdminResponse> {
  const r = await s.request<FederationAdminResponse>("GET", "/v1/admin/federation", { token: ADMIN });
  expect(r.status).toBe(200);
  return r.body;
}

/** A hand-played peer "c.example" whose key the server under test has pinned by configuration. */
async function withPlayedPeer(engine: TestEngine, extra: Record<string, unknown> = {}): Promise<{ b: RunningServer; keys: KeyPair; now: () => number }> {
  const keys = await crypto.suite(1).signatureGenerateKeyPair();
  const [dB, dC] = await domains(["b.example", "c.example"]);
  const [b] = await servers.up(startDomain(engine, dB!, [dB!, dC!], { pinned: { "c.example": keys.publicKey }, ...extra }));
  return { b: b!, keys, now: () => b!.clock.now };
}

async function ping(
  s: RunningServer,
  keys: KeyPair,
  over: Partial<{ origin: string; target: string; path: string; timestamp: number; nonce: string; body: string; signedBody: string }> = {},
) {
  const body = over.body ?? "{}";
  const headers = await signedHeaders(keys, {
    origin: over.origin ?? "c.example",
    target: over.target ?? "b.example",
    method: "POST",
    path: over.path ?? "/federation/v1/ping",
    body: new TextEncoder().encode(over.signedBody ?? body),
    timestamp: over.timestamp ?? s.clock.now,
    ...(over.nonce === undefined ? {} : { nonce: over.nonce }),
  });
  return s.request<FederationPingResponse>("POST", "/federation/v1/ping", { body, headers: { ...headers, "content-type": "application/json" } });
}

describe.each(ENGINES)("federation: server-to-server authentication [$name]", (engine) => {
  describe.skipIf(!engine.available)("", () => {
    it("publishes the domain key and pins a peer's key on first contact", async () => {
      const ds = await domains(["a.example", "b.example"]);
      const [a, b] = await servers.up(startDomain(engine, ds[0]!, ds), startDomain(engine, ds[1]!, ds));
      const doc = (await a!.request<FederationDocument>("GET", FEDERATION_WELL_KNOWN_PATH)).body;
      expect(doc.domain).toBe("a.example");
      expect(fromBase64Url(doc.signatureKey).length).toBe(32);
      expect(doc.endpoint).toBe(`${ds[0]!.url}/federation/v1`);

      const answer = await a!.app.conclaveFederation!.client.request<FederationPingResponse>("b.example", "POST", "/federation/v1/ping", {});
      expect(answer).toEqual({ domain: "b.example", from: "a.example" });
      const view = await admin(b!);
      const pinA = view.peers.find((p) => p.domain === "a.example");
      expect(pinA?.signatureKey).toBe(doc.signatureKey);
      expect(pinA?.source).toBe("first-contact");
      expect(view.events.map((e) => `${e.domain} ${e.kind}`)).toContain("a.example pinned");
      // Stored like the AS keys (sealed under the KEK when there is one).
      const stored = await b!.t.store.keys.get("federation-domain");
      expect(toBase64Url(stored!.publicKey)).toBe(view.signatureKey);
      expect((await b!.request("GET", "/v1/admin/federation")).status).toBe(401);
    });

    it("refuses unsigned, mis-signed, tampered, misdirected, stale and replayed requests", async () => {
      const { b, keys, now } = await withPlayedPeer(engine);
      const ok = await ping(b, keys, { nonce: "nonce-000000000000001" });
      expect(ok.status).toBe(200);
      expect(ok.body.from).toBe("c.example");

      const unsigned = await b.request("POST", "/federation/v1/ping", { json: {} });
      expect([unsigned.status, errorCode(unsigned)]).toEqual([401, "FEDERATION_UNSIGNED"]);
      const replay = await ping(b, keys, { nonce: "nonce-000000000000001" });
      expect([replay.status, errorCode(replay)]).toEqual([401, "FEDERATION_REPLAY"]);
      const stale = await ping(b, keys, { timestamp: now() - 10 * 60_000 });
      expect([stale.status, errorCode(stale)]).toEqual([401, "FEDERATION_REPLAY"]);
      const tampered = await ping(b, keys, { body: '{"x":1}', signedBody: "{}" });
      expect([tampered.status, errorCode(tampered)]).toEqual([401, "FEDERATION_SIGNATURE_INVALID"]);
      const otherPath = await ping(b, keys, { path: "/federation/v1/other" });
      expect([otherPath.status, errorCode(otherPath)]).toEqual([401, "FEDERATION_SIGNATURE_INVALID"]);
      const misdirected = await ping(b, keys, { target: "a.example" });
      expect([misdirected.status, errorCode(misdirected)]).toEqual([401, "FEDERATION_WRONG_DOMAIN"]);
      const impostor = await crypto.suite(1).signatureGenerateKeyPair();
      const forged = await ping(b, impostor);
      expect([forged.status, errorCode(forged)]).toEqual([401, "FEDERATION_SIGNATURE_INVALID"]);
      const self = await ping(b, keys, { origin: "b.example" });
      expect([self.status, errorCode(self)]).toEqual([401, "FEDERATION_WRONG_DOMAIN"]);
      const badDomain = await ping(b, keys, { origin: "Not A Domain" });
      expect([badDomain.status, errorCode(badDomain)]).toEqual([403, "FEDERATION_DOMAIN_DENIED"]);
      const events = (await admin(b)).events.map((e) => e.kind);
      expect(events).toContain("refused");
    });

    it("caps bodies and rate-limits each domain", async () => {
      const { b, keys } = await withPlayedPeer(engine, { ratePerMinute: 3, maxBodyBytes: 1024 });
      const big = await ping(b, keys, { body: JSON.stringify({ pad: "x".repeat(2000) }) });
      expect([big.status, errorCode(big)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      // The refused oversized body spent nothing; forged requests in c's name spend nothing either.
      const impostor = await crypto.suite(1).signatureGenerateKeyPair();
      for (let i = 0; i < 4; i++) expect((await ping(b, impostor)).status).toBe(401);
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await ping(b, keys)).status);
      expect(codes).toEqual([200, 200, 200, 429]);
    });

    it("applies the allow and deny lists", async () => {
      const denied = await withPlayedPeer(engine, { deny: ["c.example"] });
      const r1 = await ping(denied.b, denied.keys);
      expect([r1.status, errorCode(r1)]).toEqual([403, "FEDERATION_DOMAIN_DENIED"]);
      await servers.closeAll();
      const allowOnly = await withPlayedPeer(engine, { allow: ["a.example"] });
      const r2 = await ping(allowOnly.b, allowOnly.keys);
      expect([r2.status, errorCode(r2)]).toEqual([403, "FEDERATION_DOMAIN_DENIED"]);
      expect((await admin(allowOnly.b)).peers.find((p) => p.domain === "c.example")?.allowed).toBe(false);
    });

    it("refuses a changed peer key unless key changes are accepted, with an event either way", async () => {
      for (const accept of [false, true]) {
        const ds = await domains(["a.example", "b.example"]);
        const [a1, b] = await servers.up(startDomain(engine, ds[0]!, ds), startDomain(engine, ds[1]!, ds, { acceptKeyChanges: accept }));
        await a1!.app.conclaveFederation!.client.request("b.example", "POST", "/federation/v1/ping", {});
        // a.example comes back on a fresh database: a new domain key at the same URL.
        await servers.close(a1!);
        const [a2] = await servers.up(startDomain(engine, ds[0]!, ds));
        b!.clock.advance(60_000);
        a2!.clock.advance(60_000);
        const again = a2!.app.conclaveFederation!.client.request("b.example", "POST", "/federation/v1/ping", {});
        if (accept) await expect(again).resolves.toEqual({ domain: "b.example", from: "a.example" });
        else await expect(again).rejects.toMatchObject({ code: "FEDERATION_KEY_CHANGED" });
        const view = await admin(b!);
        expect(view.events.map((e) => e.kind)).toContain(accept ? "key-changed" : "key-change-refused");
        const pinned = view.peers.find((p) => p.domain === "a.example")!.signatureKey;
        expect(pinned === toBase64Url(a2!.app.conclaveFederation!.key.publicKey)).toBe(accept);
        await servers.closeAll();
      }
    });

    it("a peer that does not answer is a temporary error", async () => {
      const ds = await domains(["a.example", "b.example"]);
      const [a] = await servers.up(startDomain(engine, ds[0]!, ds));
      await expect(a!.app.conclaveFederation!.client.request("b.example", "POST", "/federation/v1/ping", {})).rejects.toMatchObject({ code: "FEDERATION_PEER_UNAVAILABLE", status: 503 });
    });
  });
});
