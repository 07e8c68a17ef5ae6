import { X509Certificate, createPublicKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  credentialIdOf,
  DEVICE_ADDED_LEAF_TYPE,
  decodeBindingLeaf,
  fromBase64Url,
  hashLeaf,
  toBase64Url,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
  type AsKeysResponse,
  type ConsistencyProofResponse,
  type CredentialStatusResponse,
  type InclusionProofResponse,
  type IssueCredentialResponse,
  type LeavesResponse,
  type ListCredentialsResponse,
  type PresentedCredential,
  type SameClientResponse,
  type SignedTreeHeadJson,
  type ValidationResult,
} from "@conclave/api";
import { CredentialType, credentialCodec, decode, encode, utf8, type CipherSuiteId } from "@conclave/mls";
import { CertificateAuthority } from "../src/as/ca.js";
import { sha256 } from "../src/crypto.js";
import { createConclaveServer } from "../src/index.js";
import { ENGINES } from "./support/engines.js";
import { createAccount, crypto, errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";

const DAY = 24 * 3600_000;

/** The raw MLS form of a certificate's public key, read with node:crypto (independent of the server's code). */
function rawKeyOfCertificate(cert: X509Certificate): Uint8Array {
  const jwk = cert.publicKey.export({ format: "jwk" }) as { kty: string; x: string; y?: string };
  if (jwk.kty === "OKP") return new Uint8Array(Buffer.from(jwk.x, "base64url"));
  return new Uint8Array([4, ...Buffer.from(jwk.x, "base64url"), ...Buffer.from(jwk.y!, "base64url")]);
}

describe.each(ENGINES)("Authentication Service [$name]", (engine) => {
  let s: RunningServer;
  let keys: AsKeysResponse;
  let alicePhone: Device;
  let aliceLaptop: Device;
  let mallory: Device;

  const issue = (d: Device, type: "basic" | "x509") => s.request<IssueCredentialResponse>("POST", "/v1/as/credentials", { json: { type }, token: d.token });
  const validate = (by: Device, p: PresentedCredential, reference?: string) =>
    s.request<ValidationResult>("POST", "/v1/as/validate", { json: { ...p, ...(reference !== undefined ? { reference } : {}) }, token: by.token });
  const presented = (c: IssueCredentialResponse, d: Device): PresentedCredential => ({
    credential: c.credential.credential,
    signatureKey: toBase64Url(d.keys.publicKey),
    cipherSuite: d.cipherSuite,
  });

  beforeAll(async () => {
    if (!engine.available) return;
    // Tokens outlive the clock jumps below (credential expiry is what these tests move time for).
    s = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false, tokenTtlMs: 1000 * DAY } });
    keys = (await s.request<AsKeysResponse>("GET", "/v1/as/keys")).body;
    const recoveryCode = await createAccount(s, "alice");
    alicePhone = await registerDevice(s, "alice", "phone", 1, recoveryCode);
    aliceLaptop = await registerDevice(s, "alice", "laptop", 2, recoveryCode);
    mallory = await registerDevice(s, "mallory", "pc", 1);
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("publishes the CA root and the log key", () => {
      const root = new X509Certificate(Buffer.from(keys.caCertificate, "base64url"));
      expect(root.ca).toBe(true);
      expect(root.subject).toContain("Conclave AS example.com");
      expect(root.verify(root.publicKey)).toBe(true);
      expect(keys.domain).toBe("example.com");
      expect(keys.logCipherSuite).toBe(1);
      expect(fromBase64Url(keys.logPublicKey)).toHaveLength(32);
    });

    it("issues X.509 credentials whose leaf key IS the client's MLS key, for every signature scheme", async () => {
      const root = new X509Certificate(Buffer.from(keys.caCertificate, "base64url"));
      for (const cs of [1, 2, 4, 5, 7] as CipherSuiteId[]) {
        const d = await registerDevice(s, `x509user${cs}`, "dev", cs);
        const r = await issue(d, "x509");
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        const c = r.body.credential;
        expect(c).toMatchObject({ type: "x509", identity: `x509user${cs}@example.com#dev`, cipherSuite: cs, signatureKey: toBase64Url(d.keys.publicKey), status: "valid" });
        const bytes = fromBase64Url(c.credential);
        expect(c.credentialId).toBe(credentialIdOf(sha256, bytes));
        const cred = decode(credentialCodec, bytes);
        if (cred.credentialType !== CredentialType.x509) throw new Error("not x509");
        expect(cred.certificates).toHaveLength(1);
        const leaf = new X509Certificate(Buffer.from(cred.certificates[0]!));
        expect(rawKeyOfCertificate(leaf)).toEqual(d.keys.publicKey);
        expect(leaf.checkIssued(root)).toBe(true);
        expect(leaf.verify(root.publicKey)).toBe(true);
        expect(leaf.ca).toBe(false);
        expect(leaf.subjectAltName).toBe(`URI:conclave:x509user${cs}@example.com#dev`);
        expect(new Date(leaf.validTo).getTime()).toBe(Math.floor((s.clock.now + 90 * DAY) / 1000) * 1000);
        expect(c.notAfter - c.issuedAt).toBe(90 * DAY);
        // and the AS vouches for it
        const v = await validate(mallory, presented(r.body, d), `x509user${cs}@example.com`);
        expect(v.body).toEqual({ valid: true, failure: null, identity: `x509user${cs}@example.com#dev`, credentialId: c.credentialId, notAfter: c.notAfter, logIndex: c.logIndex });
      }
    });

    it("issues a basic credential with identity user@domain#device, handing it out again while valid", async () => {
      const d = await registerDevice(s, "basic1", "phone");
      const first = await issue(d, "basic");
      expect(first.status).toBe(201);
      const cred = decode(credentialCodec, fromBase64Url(first.body.credential.credential));
      expect(cred).toEqual({ credentialType: CredentialType.basic, identity: utf8("basic1@example.com#phone") });
      const again = await issue(d, "basic");
      expect(again.status).toBe(200);
      expect(again.body.credential).toEqual(first.body.credential);
      s.clock.advance(91 * DAY);
      try {
        const expired = await s.request<CredentialStatusResponse>("GET", `/v1/as/credentials/${first.body.credential.credentialId}/status`);
        expect(expired.body.status).toBe("expired");
        const renewed = await issue(d, "basic");
        expect(renewed.status).toBe(201);
        expect(renewed.body.credential.credentialId).toBe(first.body.credential.credentialId); // same bytes
        expect(renewed.body.credential.logIndex).toBeGreaterThan(first.body.credential.logIndex);
        expect((await s.request<CredentialStatusResponse>("GET", `/v1/as/credentials/${first.body.credential.credentialId}/status`)).body.status).toBe("valid");
      } finally {
        s.clock.advance(-91 * DAY);
      }
    });

    it("logs every binding: signed heads, inclusion and consistency proofs all verify with the pinned key", async () => {
      const logKey = fromBase64Url(keys.logPublicKey);
      const suite1 = crypto.suite(1);
      const before = (await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body;
      expect(await verifySignedTreeHead(suite1, logKey, before)).toBeDefined();

      const r = await issue(aliceLaptop, "x509");
      const { credential, treeHead, inclusionProof } = r.body;
      const head = await verifySignedTreeHead(suite1, logKey, treeHead);
      expect(head).toBeDefined();
      expect(head!.treeSize).toBe(before.treeSize + 1);

      const leaves = await s.request<LeavesResponse>("GET", `/v1/transparency/leaves?start=${credential.logIndex}&end=${credential.logIndex + 1}`);
      const leafBytes = fromBase64Url(leaves.body.leaves[0]!.leaf);
      const binding = decodeBindingLeaf(leafBytes);
      expect(binding).toMatchObject({ identity: "alice@example.com#laptop", cipherSuite: 2, credentialType: 2, timestamp: credential.issuedAt, notAfter: credential.notAfter });
      expect(binding.signatureKey).toEqual(aliceLaptop.keys.publicKey);
      expect(toBase64Url(binding.credentialHash)).toBe(credential.credentialId);
      const leafHash = hashLeaf(sha256, leafBytes);
      const proof = inclusionProof.map((p) => fromBase64Url(p));
      const check = { leafIndex: credential.logIndex, treeSize: head!.treeSize, leafHash, proof, rootHash: head!.rootHash };
      expect(verifyInclusion(sha256, check)).toBe(true);

      // tampering: another leaf, a changed binding, a forged head
      const forged = encode(credentialCodec, { credentialType: 1, identity: utf8("alice@example.com#laptop") });
      expect(verifyInclusion(sha256, { ...check, leafHash: hashLeaf(sha256, forged) })).toBe(false);
      const altered = leafBytes.slice();
      altered[altered.length - 1]! ^= 1;
      expect(verifyInclusion(sha256, { ...check, leafHash: hashLeaf(sha256, altered) })).toBe(false);
      expect(await verifySignedTreeHead(suite1, logKey, { ...treeHead, treeSize: treeHead.treeSize + 1 })).toBeUndefined();
      expect(await verifySignedTreeHead(suite1, logKey, { ...treeHead, rootHash: before.rootHash })).toBeUndefined();
      expect(await verifySignedTreeHead(suite1, mallory.keys.publicKey, treeHead)).toBeUndefined();
      expect(await verifySignedTreeHead(suite1, logKey, { ...treeHead, signature: "AAAA" })).toBeUndefined();

      // the same proof over HTTP, and consistency from the earlier head
      const inc = await s.request<InclusionProofResponse>("GET", `/v1/transparency/inclusion?leafIndex=${credential.logIndex}&treeSize=${head!.treeSize}`);
      expect(inc.body).toEqual({ leafIndex: credential.logIndex, treeSize: head!.treeSize, leafHash: toBase64Url(leafHash), proof: inclusionProof });
      await issue(aliceLaptop, "x509");
      const after = (await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body;
      const afterHead = await verifySignedTreeHead(suite1, logKey, after);
      const cons = await s.request<ConsistencyProofResponse>("GET", `/v1/transparency/consistency?first=${before.treeSize}&second=${after.treeSize}`);
      const consCheck = {
        first: before.treeSize,
        second: after.treeSize,
        firstRoot: fromBase64Url(before.rootHash),
        secondRoot: afterHead!.rootHash,
        proof: cons.body.proof.map((p) => fromBase64Url(p)),
      };
      expect(verifyConsistency(sha256, consCheck)).toBe(true);
      expect(verifyConsistency(sha256, { ...consCheck, firstRoot: fromBase64Url(treeHead.rootHash) })).toBe(false);
      // old heads stay available by size
      const old = await s.request<SignedTreeHeadJson>("GET", `/v1/transparency/tree-head?treeSize=${before.treeSize}`);
      expect(old.body).toEqual(before);
      const bad = await s.request("GET", `/v1/transparency/consistency?first=1&second=${after.treeSize + 5}`);
      expect([bad.status, errorCode(bad)]).toEqual([400, "TREE_SIZE_INVALID"]);
      const beyond = await s.request("GET", `/v1/transparency/leaves?start=${after.treeSize + 1}&end=${after.treeSize + 2}`);
      expect([beyond.status, errorCode(beyond)]).toEqual([400, "TREE_SIZE_INVALID"]);
    });

    it("lets a user audit every binding the AS issued for it", async () => {
      const all = await s.request<LeavesResponse>("GET", "/v1/transparency/leaves?start=0&end=100000");
      const ours = all.body.leaves.filter((l) => l.binding.identity.startsWith("alice@"));
      // Device changes are logged too (issue 23), under a private-use type; credentials are types 1 and 2.
      const mine = ours.filter((l) => l.binding.credentialType !== DEVICE_ADDED_LEAF_TYPE);
      expect(ours.filter((l) => l.binding.credentialType === DEVICE_ADDED_LEAF_TYPE).map((l) => l.binding.identity)).toEqual(["alice@example.com#phone", "alice@example.com#laptop"]);
      const listed = await s.request<ListCredentialsResponse>("GET", "/v1/as/credentials", { token: alicePhone.token });
      expect(listed.body.credentials.map((c) => c.logIndex).sort((a, b) => a - b)).toEqual(mine.map((l) => l.index));
      expect(new Set(listed.body.credentials.map((c) => c.identity))).toEqual(new Set(mine.map((l) => l.binding.identity)));
    });

    it("validates against reference identifiers and bindings (RFC 9420 §5.3.1)", async () => {
      const basic = (await issue(alicePhone, "basic")).body;
      const p = presented(basic, alicePhone);
      const ok = async (ref?: string) => (await validate(mallory, p, ref)).body;
      expect(await ok()).toMatchObject({ valid: true, identity: "alice@example.com#phone" });
      expect(await ok("alice@example.com")).toMatchObject({ valid: true });
      expect(await ok("alice@example.com#phone")).toMatchObject({ valid: true });
      expect(await ok("alice@example.com#laptop")).toMatchObject({ valid: false, failure: "reference_mismatch" });
      expect(await ok("bob@example.com")).toMatchObject({ valid: false, failure: "reference_mismatch" });
      // alice's credential bytes with mallory's key: not a binding the AS made
      expect((await validate(alicePhone, { ...p, signatureKey: toBase64Url(mallory.keys.publicKey) })).body).toMatchObject({ valid: false, failure: "key_mismatch" });
      // right key, wrong suite (suite 3 also uses Ed25519 keys)
      expect((await validate(alicePhone, { ...p, cipherSuite: 3 })).body).toMatchObject({ valid: false, failure: "suite_mismatch" });
      // a basic credential the AS never issued
      const invented = toBase64Url(encode(credentialCodec, { credentialType: 1, identity: utf8("zed@example.com#x") }));
      expect((await validate(alicePhone, { ...p, credential: invented })).body).toEqual({
        valid: false,
        failure: "unknown_credential",
        identity: "zed@example.com#x",
        credentialId: credentialIdOf(sha256, fromBase64Url(invented)),
        notAfter: null,
        logIndex: null,
      });
    });

    it("rejects X.509 chains that do not come from the AS", async () => {
      const real = (await issue(alicePhone, "x509")).body;
      const p = presented(real, alicePhone);
      const cred = decode(credentialCodec, fromBase64Url(real.credential.credential));
      if (cred.credentialType !== CredentialType.x509) throw new Error("x509 expected");
      const withRoot = toBase64Url(encode(credentialCodec, { credentialType: 2, certificates: [cred.certificates[0]!, fromBase64Url(keys.caCertificate)] }));
      expect((await validate(mallory, { ...p, credential: withRoot })).body).toMatchObject({ valid: true, credentialId: real.credential.credentialId });

      // an impostor CA with the same name issuing for alice's key and identity
      const impostor = await CertificateAuthority.create("example.com", s.clock.now);
      const fake = await impostor.issue({
        identity: "alice@example.com#phone",
        signatureAlgorithm: "Ed25519",
        signatureKey: alicePhone.keys.publicKey,
        notBefore: s.clock.now - 1000,
        notAfter: s.clock.now + DAY,
      });
      const asCred = (certificates: Uint8Array[]) => toBase64Url(encode(credentialCodec, { credentialType: 2, certificates }));
      for (const chain of [
        [fake.der],
        [fake.der, impostor.rootCertificate],
        [cred.certificates[0]!, impostor.rootCertificate],
        [fromBase64Url(keys.caCertificate)],
        [new Uint8Array([0x30, 0x03, 1, 2, 3])],
        [],
      ]) {
        const v = await validate(mallory, { ...p, credential: asCred(chain) });
        expect(v.status).toBe(200);
        expect(v.body.failure, `chain of ${chain.length}`).toBe("untrusted_chain");
      }
      // the real leaf with someone else's key
      expect((await validate(mallory, { ...p, signatureKey: toBase64Url(mallory.keys.publicKey) })).body.failure).toBe("key_mismatch");
    });

    it("answers unreadable validation input with 400 codes", async () => {
      const base = { credential: toBase64Url(new Uint8Array([0, 1, 1, 0x61])), signatureKey: toBase64Url(alicePhone.keys.publicKey), cipherSuite: 1 };
      const cases: [Record<string, unknown>, string][] = [
        [{ credential: toBase64Url(new Uint8Array([0, 1, 5, 0x61])) }, "DECODE_VECTOR_TOO_LONG"],
        [{ credential: toBase64Url(new Uint8Array([0, 7])) }, "DECODE_UNKNOWN_VALUE"],
        [{ cipherSuite: 99 }, "UNSUPPORTED_CIPHER_SUITE"],
        [{ reference: "not an identity" }, "INVALID_NAME"],
        [{ signatureKey: "x" }, "INVALID_BASE64URL"],
      ];
      for (const [patch, code] of cases) {
        const r = await s.request("POST", "/v1/as/validate", { json: { ...base, ...patch }, token: mallory.token });
        expect([r.status, errorCode(r)], JSON.stringify(patch)).toEqual([400, code]);
      }
      const unauth = await s.request("POST", "/v1/as/validate", { json: base });
      expect([unauth.status, errorCode(unauth)]).toEqual([401, "AUTH_REQUIRED"]);
    });

    it("tells whether two credentials are the same client", async () => {
      const x = (await issue(alicePhone, "x509")).body;
      const b = (await issue(alicePhone, "basic")).body;
      const l = (await issue(aliceLaptop, "basic")).body;
      const same = (a: PresentedCredential, c: PresentedCredential) => s.request<SameClientResponse>("POST", "/v1/as/same-client", { json: { a, b: c }, token: mallory.token });
      expect((await same(presented(x, alicePhone), presented(b, alicePhone))).body.sameClient).toBe(true);
      const diff = (await same(presented(b, alicePhone), presented(l, aliceLaptop))).body;
      expect(diff).toMatchObject({ sameClient: false, a: { valid: true }, b: { valid: true } });
      const forged = (await same(presented(b, alicePhone), { ...presented(b, alicePhone), signatureKey: toBase64Url(mallory.keys.publicKey) })).body;
      expect(forged).toMatchObject({ sameClient: false, b: { valid: false, failure: "key_mismatch" } });
    });

    it("revokes credentials of one's own user only; revoked and expired credentials fail validation", async () => {
      const x = (await issue(aliceLaptop, "x509")).body;
      const id = x.credential.credentialId;
      let r = await s.request("POST", `/v1/as/credentials/${id}/revoke`, { json: { reason: "mine now" }, token: mallory.token });
      expect([r.status, errorCode(r)]).toEqual([403, "FORBIDDEN"]);
      expect((await s.request<CredentialStatusResponse>("GET", `/v1/as/credentials/${id}/status`)).body.status).toBe("valid");
      const revoked = await s.request<CredentialStatusResponse>("POST", `/v1/as/credentials/${id}/revoke`, { json: { reason: "key compromise" }, token: alicePhone.token });
      expect(revoked.body).toEqual({ credentialId: id, status: "revoked", notAfter: x.credential.notAfter, revokedAt: s.clock.now, reason: "key compromise" });
      s.clock.advance(1000);
      const twice = await s.request<CredentialStatusResponse>("POST", `/v1/as/credentials/${id}/revoke`, { json: {}, token: aliceLaptop.token });
      expect(twice.body.reason).toBe("key compromise"); // the first revocation stands
      expect((await validate(mallory, presented(x, aliceLaptop))).body).toMatchObject({ valid: false, failure: "revoked" });
      r = await s.request("GET", `/v1/as/credentials/${toBase64Url(new Uint8Array(32))}/status`);
      expect([r.status, errorCode(r)]).toEqual([404, "CREDENTIAL_NOT_FOUND"]);
      r = await s.request("GET", `/v1/as/credentials/abc/status`);
      expect([r.status, errorCode(r)]).toEqual([404, "CREDENTIAL_NOT_FOUND"]);

      const fresh = (await issue(aliceLaptop, "x509")).body;
      s.clock.advance(90 * DAY);
      expect((await validate(mallory, presented(fresh, aliceLaptop))).body).toMatchObject({ valid: false, failure: "expired" });
      s.clock.advance(-90 * DAY - 1000);
      expect((await validate(mallory, presented(fresh, aliceLaptop))).body).toMatchObject({ valid: true });
      s.clock.advance(-3600_000); // before notBefore (issued with one minute of skew allowance)
      expect((await validate(mallory, presented(fresh, aliceLaptop))).body).toMatchObject({ valid: false, failure: "not_yet_valid" });
      s.clock.advance(3600_000);
    });

    it("never re-issues a revoked basic credential", async () => {
      const d = await registerDevice(s, "ivy", "phone");
      const b = (await issue(d, "basic")).body;
      await s.request("POST", `/v1/as/credentials/${b.credential.credentialId}/revoke`, { json: { reason: "test" }, token: d.token });
      const again = await issue(d, "basic");
      expect([again.status, errorCode(again)]).toEqual([409, "CREDENTIAL_REVOKED"]);
      expect((await issue(d, "x509")).status).toBe(201); // the client itself is not revoked
    });

    it("revoking a client revokes its credentials and stops further issuance", async () => {
      const secret = await createAccount(s, "henry");
      const old = await registerDevice(s, "henry", "old", 1, secret);
      const now = await registerDevice(s, "henry", "new", 1, secret);
      const b = (await issue(old, "basic")).body;
      const x = (await issue(old, "x509")).body;
      const r = await s.request<{ revokedCredentials: number }>("POST", "/v1/users/henry/clients/old/revoke", { token: now.token });
      expect(r.body.revokedCredentials).toBe(2);
      for (const c of [b, x]) {
        expect((await validate(now, presented(c, old))).body.failure).toBe("revoked");
        expect((await s.request<CredentialStatusResponse>("GET", `/v1/as/credentials/${c.credential.credentialId}/status`)).body.status).toBe("revoked");
      }
      const again = await issue(old, "basic");
      expect([again.status, errorCode(again)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
    });

    it("keeps the log consistent under concurrent issuance", async () => {
      const devices = await Promise.all([1, 2, 3, 4].map((i) => registerDevice(s, `conc${i}`, "d", 1)));
      const before = (await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body;
      const results = await Promise.all(devices.flatMap((d) => [issue(d, "x509"), issue(d, "basic")]));
      expect(results.every((r) => r.status === 201)).toBe(true);
      const indices = results.map((r) => r.body.credential.logIndex).sort((a, b) => a - b);
      expect(indices).toEqual(Array.from({ length: 8 }, (_, i) => before.treeSize + i));
      const after = (await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body;
      const cons = await s.request<ConsistencyProofResponse>("GET", `/v1/transparency/consistency?first=${before.treeSize}&second=${after.treeSize}`);
      expect(
        verifyConsistency(sha256, {
          first: before.treeSize,
          second: after.treeSize,
          firstRoot: fromBase64Url(before.rootHash),
          secondRoot: fromBase64Url(after.rootHash),
          proof: cons.body.proof.map((p) => fromBase64Url(p)),
        }),
      ).toBe(true);
    });

    it("keeps its CA and log key across a restart on the same store", async () => {
      const app2 = await createConclaveServer({ store: s.t.store, clock: s.clock.fn, domain: "example.com" });
      try {
        const r = await app2.inject({ method: "GET", url: "/v1/as/keys" });
        expect(JSON.parse(r.body)).toEqual(keys);
        const head = await app2.inject({ method: "GET", url: "/v1/transparency/tree-head" });
        expect(JSON.parse(head.body)).toEqual((await s.request<SignedTreeHeadJson>("GET", "/v1/transparency/tree-head")).body);
      } finally {
        await app2.close();
      }
    });
  });
});
