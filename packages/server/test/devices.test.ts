/** Devices approved by devices (issue 23), against the real server on every engine. */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { utf8, Writer } from "@conclave/mls";
import {
  decodeBindingLeaf,
  decodeLinkRequest,
  DEVICE_ADDED_LEAF_TYPE,
  DEVICE_REVOKED_LEAF_TYPE,
  encodeLinkRequest,
  fromBase64Url,
  linkCode,
  signDeviceApproval,
  toBase64Url,
  type DeviceApprovalResponse,
  type DeviceChangesResponse,
  type LeavesResponse,
  type RevokeClientResponse,
  type RotateRecoveryCodeResponse,
  type TokenResponse,
} from "@conclave/api";
import { ENGINES } from "./support/engines.js";
import { createAccount, crypto, errorCode, login, registerDevice, registration, startServer, type Device, type Reply, type RunningServer } from "./support/server.js";

describe.each(ENGINES)("devices approved by devices [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
  });
  afterAll(async () => {
    await s?.close();
  });

  /** What the approving device signs and posts for a new device's keys. */
  async function approval(approver: Device, next: Awaited<ReturnType<typeof registration>>["d"], tweak: { signer?: Uint8Array; device?: string } = {}) {
    const signature = await signDeviceApproval(crypto.suite(approver.cipherSuite), tweak.signer ?? approver.keys.privateKey, {
      domain: "example.com",
      user: approver.user,
      device: next.device,
      cipherSuite: next.cipherSuite,
      signatureKey: next.keys.publicKey,
      authKey: next.authKey.publicKey,
      approver: approver.device,
    });
    return {
      device: tweak.device ?? next.device,
      cipherSuite: next.cipherSuite,
      signatureKey: toBase64Url(next.keys.publicKey),
      authKey: toBase64Url(next.authKey.publicKey),
      signature: toBase64Url(signature),
    };
  }
  const approve = (user: string, token: string, json: unknown) => s.request("POST", `/v1/users/${user}/device-approvals`, { token, json });
  const changes = (user: string, token: string, after = 0) => s.request<DeviceChangesResponse>("GET", `/v1/users/${user}/device-changes?after=${after}`, { token });

  describe.skipIf(!engine.available)("", () => {
    it("links a new device through a QR payload and an approval signed by an existing device, and logs it", async () => {
      const code = await createAccount(s, "lin");
      const phone = await registerDevice(s, "lin", "phone", 1, code);
      const laptop = await registration(s, "lin", "laptop", { kind: "approval" }, 3);
      // The new device shows its request; both screens show the same short code.
      const payload = encodeLinkRequest({ user: "lin", device: "laptop", cipherSuite: 3, signatureKey: laptop.d.keys.publicKey, authKey: laptop.d.authKey.publicKey });
      const scanned = decodeLinkRequest(payload);
      expect([scanned.device, toBase64Url(scanned.signatureKey)]).toEqual(["laptop", toBase64Url(laptop.d.keys.publicKey)]);
      const hash = crypto.suite(1).hash;
      expect(linkCode(hash, payload)).toMatch(/^\d{4}-\d{4}$/);
      expect(linkCode(hash, encodeLinkRequest({ ...scanned, device: "laptop2" }))).not.toBe(linkCode(hash, payload));

      const signed = await approval(phone, laptop.d);
      const ok = (await approve("lin", phone.token, signed)) as Reply<DeviceApprovalResponse>;
      expect(ok.status).toBe(201);
      expect(ok.body).toEqual({ approvedBy: "lin@example.com#phone", expiresAt: s.clock.now + 10 * 60_000 });
      const r = await s.request<TokenResponse>("POST", "/v1/clients", { json: laptop.body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.client.identity).toBe("lin@example.com#laptop");
      expect((await login(s, { ...laptop.d, token: r.body.token })).status).toBe(201);

      // The other device sees both changes, with their transparency-log leaves.
      const seen = await changes("lin", phone.token);
      expect(seen.body.changes.map((c) => [c.kind, c.device, c.by])).toEqual([
        ["added", "phone", "recovery"],
        ["added", "laptop", "device:phone"],
      ]);
      const last = seen.body.changes[1]!;
      expect((await changes("lin", phone.token, last.seq)).body.changes).toEqual([]);
      const leaves = await s.request<LeavesResponse>("GET", `/v1/transparency/leaves?start=${last.logIndex}&end=${last.logIndex + 1}`);
      const leaf = decodeBindingLeaf(fromBase64Url(leaves.body.leaves[0]!.leaf));
      expect([leaf.identity, leaf.credentialType, toBase64Url(leaf.signatureKey)]).toEqual(["lin@example.com#laptop", DEVICE_ADDED_LEAF_TYPE, toBase64Url(laptop.d.keys.publicKey)]);
      // The leaf commits to who approved and to the approval signature itself (deviceLog.ts).
      const evidence = new Writer(64);
      evidence.opaque(utf8("device:phone"));
      evidence.opaque(fromBase64Url(signed.signature));
      expect(toBase64Url(leaf.credentialHash)).toBe(createHash("sha256").update(evidence.finish()).digest("base64url"));
      // Another account cannot read them.
      const other = await registerDevice(s, "lin-other", "x");
      const peek = await changes("lin", other.token);
      expect([peek.status, errorCode(peek)]).toEqual([403, "FORBIDDEN"]);
    });

    it("refuses approvals that are forged, foreign, for other keys, reused, expired or from a revoked device", async () => {
      const code = await createAccount(s, "apr");
      const phone = await registerDevice(s, "apr", "phone", 1, code);
      const tablet = await registerDevice(s, "apr", "tablet", 2, code);
      const mallory = await registerDevice(s, "apr-mallory", "pc");
      const next = await registration(s, "apr", "laptop", { kind: "approval" });
      const register = async (body: unknown) => s.request("POST", "/v1/clients", { json: body });

      // Signed by a key that is not the approving device's.
      const other = await crypto.suite(1).signatureGenerateKeyPair();
      let r = await approve("apr", phone.token, await approval(phone, next.d, { signer: other.privateKey }));
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_SIGNATURE_INVALID"]);
      // The signature covers the device name.
      r = await approve("apr", phone.token, await approval(phone, next.d, { device: "laptop2" }));
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_SIGNATURE_INVALID"]);
      // A device of another account approves nothing here.
      r = await approve("apr", mallory.token, await approval(phone, next.d));
      expect([r.status, errorCode(r)]).toEqual([403, "FORBIDDEN"]);
      // Nothing approved: the registration fails and writes nothing.
      r = await register(next.body);
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);

      // Approved keys are the only keys that may use the approval.
      expect((await approve("apr", phone.token, await approval(phone, next.d))).status).toBe(201);
      const swapped = await registration(s, "apr", "laptop", { kind: "approval" });
      r = await register(swapped.body);
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);
      r = await register((await registration(s, "apr", "laptop", { kind: "approval" }, 1, next.d)).body);
      expect(r.status).toBe(201);
      // Used once: the same keys under another name need their own approval.
      r = await register((await registration(s, "apr", "laptop3", { kind: "approval" })).body);
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);

      // Expired.
      const late = await registration(s, "apr", "late", { kind: "approval" });
      expect((await approve("apr", phone.token, await approval(phone, late.d))).status).toBe(201);
      s.clock.advance(10 * 60_000 + 1);
      r = await register((await registration(s, "apr", "late", { kind: "approval" }, 1, late.d)).body);
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);

      // Approved by a device revoked before the new one registers.
      const orphan = await registration(s, "apr", "orphan", { kind: "approval" });
      expect((await approve("apr", tablet.token, await approval(tablet, orphan.d))).status).toBe(201);
      expect((await s.request("POST", "/v1/users/apr/clients/tablet/revoke", { token: phone.token })).status).toBe(200);
      r = await register((await registration(s, "apr", "orphan", { kind: "approval" }, 1, orphan.d)).body);
      expect([r.status, errorCode(r)]).toEqual([403, "DEVICE_NOT_APPROVED"]);
    });

    it("revokes only from another device of the account or with the recovery code; each revocation is logged", async () => {
      const code = await createAccount(s, "gina");
      const phone = await registerDevice(s, "gina", "phone", 1, code);
      const laptop = await registerDevice(s, "gina", "laptop", 3, code);
      const mallory = await registerDevice(s, "mallory", "pc");
      let r = await s.request("POST", "/v1/users/gina/clients/phone/revoke", { token: mallory.token });
      expect([r.status, errorCode(r)]).toEqual([403, "FORBIDDEN"]);
      r = await s.request("POST", "/v1/users/gina/clients/laptop/revoke", { token: laptop.token });
      expect([r.status, errorCode(r)]).toEqual([403, "FORBIDDEN"]); // not itself
      r = await s.request("POST", "/v1/users/gina/clients/tablet/revoke", { token: laptop.token });
      expect([r.status, errorCode(r)]).toEqual([404, "CLIENT_NOT_FOUND"]);
      const revoked = await s.request<RevokeClientResponse>("POST", "/v1/users/gina/clients/phone/revoke", { token: laptop.token });
      expect(revoked.status).toBe(200);
      expect(revoked.body.client.revokedAt).toBe(s.clock.now);
      r = await s.request("GET", "/v1/clients/self", { token: phone.token });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_TOKEN_INVALID"]);
      const relogin = await login(s, phone);
      expect([relogin.status, errorCode(relogin)]).toEqual([403, "CLIENT_REVOKED"]);
      // A revoked device revokes nothing (its token is gone).
      r = await s.request("POST", "/v1/users/gina/clients/laptop/revoke", { token: phone.token });
      expect([r.status, errorCode(r)]).toEqual([401, "AUTH_TOKEN_INVALID"]);

      // The recovery code revokes without any device; a wrong one does not.
      r = await s.request("POST", "/v1/users/gina/clients/laptop/recovery-revoke", { json: { recoveryCode: "AAAA-AAAA" } });
      expect([r.status, errorCode(r)]).toEqual([401, "RECOVERY_CODE_INVALID"]);
      r = await s.request("POST", "/v1/users/gina/clients/laptop/recovery-revoke", { json: { recoveryCode: code.toLowerCase().replace(/-/g, " ") } });
      expect(r.status).toBe(200);
      // ... and registers a device when every other is lost.
      const fresh = await registerDevice(s, "gina", "new-phone", 1, code);
      const seen = await changes("gina", fresh.token);
      expect(seen.body.changes.map((c) => [c.kind, c.device, c.by])).toEqual([
        ["added", "phone", "recovery"],
        ["added", "laptop", "recovery"],
        ["revoked", "phone", "device:laptop"],
        ["revoked", "laptop", "recovery"],
        ["added", "new-phone", "recovery"],
      ]);
      const leaves = await s.request<LeavesResponse>("GET", `/v1/transparency/leaves?start=${seen.body.changes[2]!.logIndex}&end=${seen.body.changes[2]!.logIndex + 1}`);
      expect(decodeBindingLeaf(fromBase64Url(leaves.body.leaves[0]!.leaf)).credentialType).toBe(DEVICE_REVOKED_LEAF_TYPE);
    });

    it("rotates the recovery code from a device: the old one stops working", async () => {
      const code = await createAccount(s, "rot");
      const phone = await registerDevice(s, "rot", "phone", 1, code);
      const r = await s.request<RotateRecoveryCodeResponse>("POST", "/v1/users/rot/recovery-code", { token: phone.token });
      expect(r.status).toBe(201);
      expect(r.body.recoveryCode).not.toBe(code);
      const old = await s.request("POST", "/v1/clients", { json: (await registration(s, "rot", "x", { kind: "recovery", recoveryCode: code })).body });
      expect([old.status, errorCode(old)]).toEqual([401, "RECOVERY_CODE_INVALID"]);
      expect((await registerDevice(s, "rot", "y", 1, r.body.recoveryCode)).user).toBe("rot");
      const mallory = await registerDevice(s, "rot-mallory", "pc");
      const steal = await s.request("POST", "/v1/users/rot/recovery-code", { token: mallory.token });
      expect([steal.status, errorCode(steal)]).toEqual([403, "FORBIDDEN"]);
    });

    it("limits recovery-code guesses per user name", async () => {
      const limited = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false }, accounts: { recoveryAttempts: { capacity: 3, refillPerSecond: 1 / 600 } } });
      try {
        const code = await createAccount(limited, "guess");
        await registerDevice(limited, "guess", "phone", 1, code);
        const guess = () => limited.request("POST", "/v1/users/guess/clients/phone/recovery-revoke", { json: { recoveryCode: "0000-0000-0000-0000" } });
        // Every use counts, the registration above included: two more tries, then none.
        for (let i = 0; i < 2; i++) expect(errorCode(await guess())).toBe("RECOVERY_CODE_INVALID");
        const blocked = await guess();
        expect([blocked.status, errorCode(blocked)]).toEqual([429, "RATE_LIMITED"]);
        expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
        // Even the right code waits: guessing cannot be interleaved with it.
        const right = await limited.request("POST", "/v1/users/guess/clients/phone/recovery-revoke", { json: { recoveryCode: code } });
        expect(right.status).toBe(429);
        limited.clock.advance(600_000);
        expect((await limited.request("POST", "/v1/users/guess/clients/phone/recovery-revoke", { json: { recoveryCode: code } })).status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });
});
