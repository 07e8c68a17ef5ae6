/**
 * Issue 22 stage B: a client claims KeyPackages of another domain's user
 * through its home server, and has that domain's credentials validated by
 * that domain's AS with its transparency log's proofs, consistency tracked
 * per domain. Real servers of different domains on loopback.
 */
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { toBase64Url, type ClaimKeyPackagesResponse, type IssueCredentialResponse, type ValidationResult } from "@conclave/api";
import { credentialCodec, encode } from "@conclave/mls";
import { keyPackageOf } from "./ds-support.js";
import { runSql, handleOf } from "../src/storage/handle.js";
import { crypto, errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { ENGINES, type TestEngine } from "./support/engines.js";
import { domains, serversClosedAfterEach, startDomain } from "./federation/support.js";

const servers = serversClosedAfterEach();
const fakes: Server[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await new Promise((r) => f.close(r));
});

/** A hostile b.example: a valid-looking well-known document, then `answer` for every federation request. */
async function hostilePeer(port: number, answer: (path: string) => { status: number; body: string }): Promise<void> {
  const keys = await crypto.suite(1).signatureGenerateKeyPair();
  const doc = { version: 1, domain: "b.example", signatureKey: toBase64Url(keys.publicKey), endpoint: "", api: "", logPublicKey: toBase64Url(keys.publicKey) };
  const server = createServer((req, res) => {
    const a = req.url === "/.well-known/conclave-federation" ? { status: 200, body: JSON.stringify(doc) } : answer(req.url ?? "");
    res.writeHead(a.status, { "content-type": "application/json" }).end(a.body);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  fakes.push(server);
}

async function twoDomains(engine: TestEngine): Promise<[RunningServer, RunningServer]> {
  const ds = await domains(["a.example", "b.example"]);
  return (await servers.up(startDomain(engine, ds[0]!, ds), startDomain(engine, ds[1]!, ds))) as [RunningServer, RunningServer];
}

async function issue(s: RunningServer, d: Device): Promise<IssueCredentialResponse> {
  const r = await s.request<IssueCredentialResponse>("POST", "/v1/as/credentials", { json: { type: "basic" }, token: d.token });
  expect(r.status).toBe(201);
  return r.body;
}

describe.each(ENGINES)("federation: remote KeyPackages and identity [$name]", (engine) => {
  describe.skipIf(!engine.available)("", () => {
    it("claims a remote user's KeyPackages through the home server, each handed out once", async () => {
      const [a, b] = await twoDomains(engine);
      const alice = await registerDevice(a, "alice", "phone");
      const bob = await registerDevice(b, "bob", "laptop");
      const kp = await keyPackageOf(bob, { domain: "b.example" });
      const up = await b.request("POST", "/v1/key-packages", { token: bob.token, json: { keyPackages: [toBase64Url(kp.message)] } });
      expect(up.status).toBe(201);

      const claim = () => a.request<ClaimKeyPackagesResponse>("POST", "/v1/users/bob@b.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      const first = await claim();
      expect(first.status).toBe(200);
      expect(first.body.keyPackages.map((k) => [k.identity, k.keyPackage])).toEqual([["bob@b.example#laptop", toBase64Url(kp.message)]]);
      const second = await claim();
      expect(second.body).toEqual({ keyPackages: [], missing: [{ device: "laptop", cipherSuite: 1 }] });
      // A user the other domain does not know: its code comes through.
      const nobody = await a.request("POST", "/v1/users/nobody@b.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      expect([nobody.status, errorCode(nobody)]).toEqual([404, "ACCOUNT_NOT_FOUND"]);
      // A domain nobody answers for: a temporary error, not a crash.
      const gone = await a.request("POST", "/v1/users/bob@c.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      expect([gone.status, errorCode(gone)]).toEqual([503, "FEDERATION_PEER_UNAVAILABLE"]);
    });

    it("a server that does not federate says so", async () => {
      const s = (await servers.up(startServer(engine, { domain: "a.example" })))[0]!;
      const alice = await registerDevice(s, "alice", "phone");
      const r = await s.request("POST", "/v1/users/bob@b.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      expect([r.status, errorCode(r)]).toEqual([404, "FEDERATION_DISABLED"]);
    });

    it("validates a remote credential with the remote AS's log proofs, and catches an inconsistent log", async () => {
      const [a, b] = await twoDomains(engine);
      const alice = await registerDevice(a, "alice", "phone");
      const bob = await registerDevice(b, "bob", "laptop");
      const issued = await issue(b, bob);
      const presented = { credential: issued.credential.credential, signatureKey: issued.credential.signatureKey, cipherSuite: 1 };
      const validate = (extra: Record<string, unknown> = {}) => a.request<ValidationResult>("POST", "/v1/as/validate", { token: alice.token, json: { ...presented, ...extra } });

      const ok = await validate({ reference: "bob@b.example" });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ valid: true, identity: "bob@b.example#laptop", logIndex: issued.credential.logIndex });
      const wrongRef = await validate({ reference: "carol@b.example" });
      expect(wrongRef.body).toMatchObject({ valid: false, failure: "reference_mismatch" });
      const otherKey = await validate({ signatureKey: toBase64Url(alice.keys.publicKey) });
      expect(otherKey.body).toMatchObject({ valid: false, failure: "key_mismatch" });

      // The log grows; a's verified head follows it with consistency proofs.
      const bob2 = await registerDevice(b, "bob2", "tablet");
      await issue(b, bob2);
      expect((await validate()).body.valid).toBe(true);
      const h = handleOf(a.t.store);
      const { rows } = await runSql<{ tree_size: number }>(h, "select tree_size from federation_logs where domain = ?", ["b.example"]);
      expect(Number(rows[0]!.tree_size)).toBeGreaterThan(issued.credential.logIndex);

      // a remembers another root for that size, as if b had shown it a different log before: refused, with an event.
      await runSql(h, "update federation_logs set root_hash = ? where domain = ?", [new Uint8Array(32).fill(7), "b.example"]);
      await issue(b, await registerDevice(b, "bob3", "tv"));
      const forked = await validate();
      expect([forked.status, errorCode(forked)]).toEqual([502, "FEDERATION_PEER_ERROR"]);
      const events = await a.request<{ events: { kind: string }[] }>("GET", "/v1/admin/federation", { token: "federation-admin-token" });
      expect(events.body.events.map((e) => e.kind)).toContain("log-inconsistent");
    });

    it("refuses what a hostile peer answers (wrong user, oversized, not JSON, 5xx, forged tree head) by code", async () => {
      const ds = await domains(["a.example", "b.example"]);
      const a = (await servers.up(startDomain(engine, ds[0]!, ds)))[0]!;
      const alice = await registerDevice(a, "alice", "phone");
      let mode = "other-user";
      await hostilePeer(ds[1]!.port, () => {
        if (mode === "other-user")
          return {
            status: 200,
            body: JSON.stringify({ keyPackages: [{ identity: "mallory@b.example#x", device: "x", cipherSuite: 1, ref: "AA", keyPackage: "AA", lastResort: false }], missing: [] }),
          };
        if (mode === "huge") return { status: 200, body: JSON.stringify({ pad: "x".repeat(5 * 1024 * 1024) }) };
        if (mode === "not-json") return { status: 200, body: "<html>" };
        if (mode === "crash") return { status: 500, body: "{}" };
        // A verdict under a tree head the pinned log key did not sign.
        return {
          status: 200,
          body: JSON.stringify({
            result: { valid: true, failure: null, identity: "bob@b.example#x", credentialId: "AA", notAfter: 1, logIndex: 0 },
            treeHead: { treeSize: 1, timestamp: 1, rootHash: toBase64Url(new Uint8Array(32)), signature: toBase64Url(new Uint8Array(64)) },
            leaf: null,
            inclusionProof: [],
            consistencyProof: [],
          }),
        };
      });
      const claim = () => a.request("POST", "/v1/users/bob@b.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      for (const [m, status, code] of [
        ["other-user", 502, "FEDERATION_PEER_ERROR"],
        ["huge", 502, "FEDERATION_PEER_ERROR"],
        ["not-json", 502, "FEDERATION_PEER_ERROR"],
        ["crash", 503, "FEDERATION_PEER_UNAVAILABLE"],
      ] as const) {
        mode = m;
        const r = await claim();
        expect([m, r.status, errorCode(r)]).toEqual([m, status, code]);
      }
      mode = "forged-head";
      const kp = await keyPackageOf(alice, { domain: "b.example" });
      const presented = { credential: toBase64Url(encode(credentialCodec, kp.keyPackage.leafNode.credential)), signatureKey: toBase64Url(alice.keys.publicKey), cipherSuite: 1 };
      const v = await a.request("POST", "/v1/as/validate", { token: alice.token, json: { ...presented, reference: "bob@b.example" } });
      expect([v.status, errorCode(v)]).toEqual([502, "FEDERATION_PEER_ERROR"]);
    });
  });
});
