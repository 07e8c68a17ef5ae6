/** The SDK's account and device management (issue 23) over a real DS+AS. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { bindingLeafCodec, DEVICE_ADDED_LEAF_TYPE, fromBase64Url, hashLeaf, isApiError, merkleRoot, type CreateInviteResponse, type KeyPackageCountsResponse } from "@conclave/api";
import { encode } from "@conclave/mls";
import BetterSqlite3 from "better-sqlite3";
import { appendLeaf, frontierRoot } from "../src/deviceAudit.js";
import type { IdentityRecord } from "../src/session.js";
import { getJson, putJson } from "../src/store.js";
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

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("device changes reach the account's other devices", () => {
  it("pushed by the stream to onDeviceChange listeners while listening; read on the first sync after being offline", async () => {
    const user = uniq("dora");
    const url = server().url;
    // Hour-long poll and check intervals: only the stream's push can be fast.
    const phone = await Client.open({ serverUrl: url, store: new MemoryStore(), deviceCheckIntervalMs: 3_600_000 });
    const { recoveryCode } = await phone.register(user, "phone");
    const seen: string[] = [];
    phone.onDeviceChange((e) => seen.push(`${e.change} ${e.device} by ${e.by} ${e.inLog}`));
    const ac = new AbortController();
    const listening = (async () => {
      for await (const _ of phone.events({ signal: ac.signal, pollMs: 3_600_000 }));
    })();
    await until(() => seen.length === 1); // the first sync reads what happened before
    expect(seen).toEqual(["added phone by recovery true"]);

    const laptopStore = new MemoryStore();
    const laptop = await Client.open({ serverUrl: url, store: laptopStore });
    const { payload } = await laptop.requestLink(user, "laptop");
    await phone.approveDevice(payload);
    await laptop.completeLink();
    await until(() => seen.length === 2);
    expect(seen[1]).toBe("added laptop by device:phone true");
    const laptopSeen: string[] = [];
    laptop.onDeviceChange((e) => laptopSeen.push(`${e.change} ${e.device}`));
    await laptop.sync();
    expect(laptopSeen).toEqual(["added phone", "added laptop"]);

    // The laptop goes offline; a tablet joins with the recovery code and the phone revokes it.
    const tablet = await Client.open({ serverUrl: url, store: new MemoryStore() });
    await tablet.register(user, "tablet", { recoveryCode });
    await phone.revokeDevice("tablet");
    await until(() => seen.length === 4);
    expect(seen.slice(2)).toEqual(["added tablet by recovery true", "revoked tablet by device:phone true"]);
    ac.abort();
    await listening;

    // Back online (a new process on the same store): the first sync reports exactly what it missed.
    const again = await Client.open({ serverUrl: url, store: laptopStore });
    const missed: string[] = [];
    again.onDeviceChange((e) => missed.push(`${e.change} ${e.device}`));
    await again.sync();
    expect(missed).toEqual(["added tablet", "revoked tablet"]);
    await again.sync();
    expect(missed.length).toBe(2);
  });
});

describe("a device from before auth keys and recovery codes (issue 23)", () => {
  it("upgrades in place: binds an auth key (by itself at login, or with upgrade()) and hands over the account's first recovery code once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-legacy-"));
    const path = join(dir, "ds.sqlite");
    const app = await createConclaveServer({
      store: { engine: "sqlite", path },
      domain: "example.com",
      limits: { rateLimitPerIp: false, rateLimitPerClient: false },
      accounts: { nameProof: { kind: "open" }, recoveryCodeCost: 8 },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no TCP address");
      const url = `http://127.0.0.1:${addr.port}`;
      const stores = [new MemoryStore(), new MemoryStore()];
      const phone = await Client.open({ serverUrl: url, store: stores[0]! });
      const { recoveryCode: firstCode } = await phone.register("olaf", "phone");
      const laptop = await Client.open({ serverUrl: url, store: stores[1]! });
      await laptop.register("olaf", "laptop", { recoveryCode: firstCode });
      // Turn both into what an old deployment left: no auth keys or recovery code on the server, an
      // account secret and no auth keys in the SDK stores (the phone without a token, the laptop with one).
      const db = new BetterSqlite3(path);
      db.prepare("delete from client_auth_keys").run();
      db.prepare("delete from account_recovery").run();
      db.close();
      for (const [i, st] of stores.entries()) {
        const { authPublicKey: _p, authPrivateKey: _k, token, tokenExpiresAt, ...rest } = (await getJson<IdentityRecord>(st, "identity"))!;
        await putJson(st, "identity", { ...rest, accountSecret: "old-secret", ...(i === 1 ? { token, tokenExpiresAt } : {}) });
      }

      // The phone just works: its first login binds an auth key; upgrade() then hands over the new recovery code, once.
      const oldPhone = await Client.open({ serverUrl: url, store: stores[0]! });
      const groupId = await oldPhone.createGroup();
      const { recoveryCode } = await oldPhone.upgrade();
      expect(recoveryCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){7}$/);
      expect(await oldPhone.upgrade()).toEqual({});
      expect((await getJson<IdentityRecord>(stores[0]!, "identity"))!.accountSecret).toBeUndefined();
      // The laptop's old token still works until it upgrades; upgrade() binds its key (no second recovery code).
      const oldLaptop = await Client.open({ serverUrl: url, store: stores[1]! });
      expect(await oldLaptop.upgrade()).toEqual({});
      await oldLaptop.login();
      expect(await oldPhone.addUser(groupId, "olaf")).toEqual(["olaf@example.com#laptop"]);
      // The first code is gone; the new one registers a device.
      await rejects((await Client.open({ serverUrl: url, store: new MemoryStore() })).register("olaf", "old", { recoveryCode: firstCode }), "RECOVERY_CODE_INVALID");
      const tablet = await Client.open({ serverUrl: url, store: new MemoryStore() });
      await tablet.register("olaf", "tablet", { recoveryCode: recoveryCode! });
      expect(tablet.identity).toBe("olaf@example.com#tablet");
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
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
    const app = await createConclaveServer({
      store,
      domain: "example.com",
      limits: { rateLimitPerIp: false, rateLimitPerClient: false },
      accounts: { nameProof: { kind: "open" }, recoveryCodeCost: 8 },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no TCP address");
      const phone = await Client.open({ serverUrl: `http://127.0.0.1:${addr.port}`, store: new MemoryStore() });
      await phone.register("liz", "phone");
      const [added] = await phone.deviceChanges();
      expect(added!.inLog).toBe(true);
      // The server lists a "ghost" device added by the phone, pointing at a leaf that is something else.
      await store.accountSecurity.addDeviceEvent({
        user: "liz",
        device: "ghost",
        kind: "added",
        signatureKey: fromBase64Url(added!.signatureKey),
        actor: "device:phone",
        logIndex: added!.logIndex,
        createdAt: added!.at,
      });
      // And one pointing past the end of the log.
      await store.accountSecurity.addDeviceEvent({
        user: "liz",
        device: "ghost2",
        kind: "added",
        signatureKey: fromBase64Url(added!.signatureKey),
        actor: "device:phone",
        logIndex: 10_000,
        createdAt: added!.at,
      });
      expect((await phone.deviceChanges()).map((e) => [e.device, e.inLog])).toEqual([
        ["ghost", false],
        ["ghost2", false],
      ]);

      // An honest log so far: the audit reads it all, finds its root, and nothing unlisted.
      const first = await phone.auditDevices();
      expect([first.consistent, first.unlisted]).toEqual([true, []]);
      // The AS logs a device for liz but does not list it: only the audit catches that.
      const as = app.conclave.as;
      const hidden = encode(bindingLeafCodec, {
        timestamp: Date.now(),
        identity: "liz@example.com#hidden",
        cipherSuite: 1,
        signatureKey: new Uint8Array(32).fill(7),
        credentialType: DEVICE_ADDED_LEAF_TYPE,
        credentialHash: new Uint8Array(32),
        notAfter: 0,
      });
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
