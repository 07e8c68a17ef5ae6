/** The SDK's account and device management (issue 23) over a real DS+AS. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { bindingLeafCodec, DEVICE_ADDED_LEAF_TYPE, fromBase64Url, hashLeaf, isApiError, merkleRoot, type CreateInviteResponse, type KeyPackageCountsResponse } from "@conclave/api";
import { encode } from "@conclave/mls";
import { appendLeaf, frontierRoot } from "../src/deviceAudit.js";
import { createConclaveServer, openStore } from "@conclave/server";
import { Client, MemoryStore } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("d");

const open = () => Client.open({ serverUrl: server().url, store: new MemoryStore() });

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e) => isApiError(e, code as never));
}

describe("devices approved by devices, through the SDK", () => {
  it("links a laptop approved by the phone; both report the device changes; the phone revokes it", async () => {
    const user = uniq("bob");
    const phone = await open();
    const { recoveryCode } = await phone.register(user, "phone");
    expect(recoveryCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){7}$/);
    const laptop = await open();
    const { payload, code } = await laptop.requestLink(user, "laptop");
    const approved = await phone.approveDevice(payload);
    expect([approved.device, approved.code]).toEqual(["laptop", code]);
    await laptop.completeLink();
    expect(laptop.identity).toBe(`${user}@example.com#laptop`);
    expect(await laptop.ensureKeyPackages()).toBe(0); // stocked by completeLink

    expect((await phone.deviceChanges()).map((e) => [e.change, e.device, e.by, e.inLog])).toEqual([
      ["added", "phone", "recovery", true],
      ["added", "laptop", "device:phone", true],
    ]);
    expect(await phone.deviceChanges()).toEqual([]); // only what is new
    expect((await laptop.deviceChanges()).map((e) => e.device)).toEqual(["phone", "laptop"]);

    await rejects(laptop.revokeDevice("laptop"), "FORBIDDEN");
    expect((await phone.revokeDevice("laptop")).client.revokedAt).not.toBeNull();
    await rejects(laptop.createGroup(), "CLIENT_REVOKED");
    expect((await phone.deviceChanges()).map((e) => [e.change, e.device, e.by, e.inLog])).toEqual([["revoked", "laptop", "device:phone", true]]);
  });

  it("refuses to approve another user's request and to complete an unapproved link", async () => {
    const alice = await open();
    await alice.register(uniq("alice"), "phone");
    const mallory = await open();
    const mUser = uniq("mallory");
    await mallory.register(mUser, "pc");
    const thief = await open();
    const { payload } = await thief.requestLink(alice.user, "evil");
    await rejects(mallory.approveDevice(payload), "FORBIDDEN");
    await rejects(thief.completeLink(), "DEVICE_NOT_APPROVED");
    await rejects((await open()).completeLink(), "DEVICE_NOT_APPROVED");
    expect((await alice.deviceChanges()).map((e) => e.device)).toEqual(["phone"]);
  });

  it("rotates the recovery code: only the new one registers a device", async () => {
    const user = uniq("carol");
    const phone = await open();
    const { recoveryCode: first } = await phone.register(user, "phone");
    const second = await phone.rotateRecoveryCode();
    await rejects((await open()).register(user, "old", { recoveryCode: first }), "RECOVERY_CODE_INVALID");
    const tablet = await open();
    await tablet.register(user, "tablet", { recoveryCode: second });
    expect(tablet.identity).toBe(`${user}@example.com#tablet`);
  });
});

async function registerOther(url: string): Promise<void> {
  const c = await Client.open({ serverUrl: url, store: new MemoryStore() });
  await c.register(`other${Math.floor(Math.random() * 1e9)}`, "x");
}

describe("the audit's Merkle frontier", () => {
  it("gives RFC 9162's root for every size", () => {
    const hash = (d: Uint8Array) => new Uint8Array(createHash("sha256").update(d).digest());
    const f = { size: 0, nodes: [] as { size: number; hash: string }[] };
    const hashes: Uint8Array[] = [];
    expect(frontierRoot(hash, f)).toEqual(merkleRoot(hash, []));
    for (let n = 1; n <= 70; n++) {
      const h = hashLeaf(hash, new Uint8Array([n, n >> 8]));
      hashes.push(h);
      appendLeaf(hash, f, h);
      expect(frontierRoot(hash, f), `size ${n}`).toEqual(merkleRoot(hash, hashes));
      expect(f.nodes.length).toBe(n.toString(2).replace(/0/g, "").length); // one subtree per 1-bit
    }
  });
});

describe("a lying AS", () => {
  it("a device change the transparency log does not prove is reported with inLog: false", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-liar-"));
    const store = await openStore({ engine: "sqlite", path: join(dir, "ds.sqlite") });
    const app = await createConclaveServer({ store, domain: "example.com", limits: { rateLimitPerIp: false, rateLimitPerClient: false }, accounts: { nameProof: { kind: "open" }, recoveryCodeCost: 8 } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no TCP address");
      const phone = await Client.open({ serverUrl: `http://127.0.0.1:${addr.port}`, store: new MemoryStore() });
      await phone.register("liz", "phone");
      const [added] = await phone.deviceChanges();
      expect(added!.inLog).toBe(true);
      // The server lists a "ghost" device added by the phone, pointing at a leaf that is something else.
      await store.accountSecurity.addDeviceEvent({ user: "liz", device: "ghost", kind: "added", signatureKey: fromBase64Url(added!.signatureKey), actor: "device:phone", logIndex: added!.logIndex, createdAt: added!.at });
      // And one pointing past the end of the log.
      await store.accountSecurity.addDeviceEvent({ user: "liz", device: "ghost2", kind: "added", signatureKey: fromBase64Url(added!.signatureKey), actor: "device:phone", logIndex: 10_000, createdAt: added!.at });
      expect((await phone.deviceChanges()).map((e) => [e.device, e.inLog])).toEqual([
        ["ghost", false],
        ["ghost2", false],
      ]);

      // An honest log so far: the audit reads it all, finds its root, and nothing unlisted.
      const first = await phone.auditDevices();
      expect([first.consistent, first.unlisted]).toEqual([true, []]);
      // The AS logs a device for liz but does not list it: only the audit catches that.
      const as = app.conclave.as;
      const hidden = encode(bindingLeafCodec, { timestamp: Date.now(), identity: "liz@example.com#hidden", cipherSuite: 1, signatureKey: new Uint8Array(32).fill(7), credentialType: DEVICE_ADDED_LEAF_TYPE, credentialHash: new Uint8Array(32), notAfter: 0 });
      const { index } = await store.transaction((tx) => as.log.append(tx, hidden, Date.now()));
      await registerOther(`http://127.0.0.1:${addr.port}`); // more leaves after it, of someone else
      const second = await phone.auditDevices();
      expect(second.consistent).toBe(true);
      expect(second.unlisted.map((u) => [u.logIndex, u.identity, u.change])).toEqual([[index, "liz@example.com#hidden", "added"]]);
      expect(second.treeSize).toBeGreaterThan(first.treeSize);
      // Reported once: the next audit starts after it.
      expect((await phone.auditDevices()).unlisted).toEqual([]);
    } finally {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("KeyPackage supply", () => {
  it("a supply drained by claims without Welcomes is refilled by the next sync", async () => {
    const victim = await Client.open({ serverUrl: server().url, store: new MemoryStore(), keyPackageCheckIntervalMs: 0 });
    await victim.register(uniq("vic"), "phone");
    const drainer = await open();
    await drainer.register(uniq("drain"), "pc");
    const count = async () => {
      const r = await fetch(`${server().url}/v1/key-packages/count`, { headers: { authorization: `Bearer ${await victim.token()}` } });
      return ((await r.json()) as KeyPackageCountsResponse).counts[0]!;
    };
    expect(await count()).toEqual({ cipherSuite: 1, count: 10, lastResort: true });
    for (let i = 0; i < 7; i++) {
      const r = await fetch(`${server().url}/v1/users/${victim.user}/key-packages/claim`, {
        method: "POST",
        headers: { authorization: `Bearer ${await drainer.token()}`, "content-type": "application/json" },
        body: JSON.stringify({ cipherSuites: [1] }),
      });
      expect(r.status).toBe(200);
    }
    expect(await count()).toEqual({ cipherSuite: 1, count: 3, lastResort: true });
    await victim.sync(); // no Welcome arrived: only the periodic check notices
    expect(await count()).toEqual({ cipherSuite: 1, count: 13, lastResort: true });
  });
});

describe("a server with the default name verifier (invites)", () => {
  it("registers only with an invite the admin made", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-invites-"));
    const app = await createConclaveServer({
      store: { engine: "sqlite", path: join(dir, "ds.sqlite") },
      domain: "example.com",
      limits: { rateLimitPerIp: false, rateLimitPerClient: false },
      accounts: { adminToken: "let-me-in", recoveryCodeCost: 8 },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no TCP address");
      const url = `http://127.0.0.1:${addr.port}`;
      const c = await Client.open({ serverUrl: url, store: new MemoryStore() });
      await rejects(c.register("ines", "phone"), "NAME_PROOF_INVALID");
      const r = await fetch(`${url}/v1/admin/invites`, { method: "POST", headers: { authorization: "Bearer let-me-in" } });
      const invite = (await r.json()) as CreateInviteResponse;
      const { recoveryCode } = await c.register("ines", "phone", { proof: { kind: "invite", token: invite.token } });
      expect(recoveryCode.length).toBe(39);
      expect(c.identity).toBe("ines@example.com#phone");
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
