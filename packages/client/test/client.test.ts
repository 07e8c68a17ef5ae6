import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isApiError, type KeyPackageCountsResponse } from "@conclave/api";
import { Client, FileStore, MemoryStore, type ClientEvent } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("x");

async function newClient(user: string, device = "laptop", recoveryCode?: string): Promise<Client> {
  const c = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
  await c.register(user, device, recoveryCode !== undefined ? { recoveryCode } : {});
  return c;
}

/** A second device of `existing`'s user, linked by an approval from `existing` (QR payload + short code). */
async function linkedClient(existing: Client, device: string): Promise<Client> {
  const c = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
  const { payload, code } = await c.requestLink(existing.user, device);
  expect((await existing.approveDevice(payload)).code).toBe(code);
  await c.completeLink();
  return c;
}

const texts = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "message" ? [`${e.sender.split("@")[0]}:${e.text}`] : []));

function exporter(c: Client, g: string): string {
  return Buffer.from(c.group(g).exportSecret("test", new Uint8Array(0), 32)).toString("hex");
}

describe("Client over a real DS+AS (SQLite)", () => {
  it("RFC 9750 §3: Alice creates a group, adds Bob then Charlie, all talk, Charlie is removed, Bob updates", async () => {
    const [alice, bob, charlie] = await Promise.all(["alice", "bob", "charlie"].map((u) => newClient(uniq(u))));
    const g = await alice!.createGroup();
    expect(await alice!.addUser(g, bob!.user)).toEqual([bob!.identity]);
    expect((await bob!.sync()).map((e) => e.type)).toEqual(["joined"]);
    expect(await alice!.addUser(g, charlie!.user)).toEqual([charlie!.identity]);
    const bobSaw = await bob!.sync();
    expect(bobSaw).toMatchObject([{ type: "membership", added: [charlie!.identity] }]);
    expect((await charlie!.sync()).map((e) => e.type)).toEqual(["joined"]);
    for (const c of [alice!, bob!, charlie!]) expect(c.group(g).epoch).toBe(2n);

    await alice!.send(g, "hi all");
    await bob!.send(g, "hi from bob");
    await charlie!.send(g, "hi from charlie");
    expect(texts(await alice!.sync()).sort()).toEqual([`${bob!.user}:hi from bob`, `${charlie!.user}:hi from charlie`].sort());
    expect(texts(await bob!.sync()).sort()).toEqual([`${alice!.user}:hi all`, `${charlie!.user}:hi from charlie`].sort());
    expect(texts(await charlie!.sync()).sort()).toEqual([`${alice!.user}:hi all`, `${bob!.user}:hi from bob`].sort());
    expect(alice!.safetyNumber(g)).toBe(charlie!.safetyNumber(g));

    expect(await alice!.removeMember(g, charlie!.user)).toEqual([charlie!.identity]);
    expect(await charlie!.sync()).toMatchObject([{ type: "membership", selfRemoved: true }]);
    expect(charlie!.groups).toEqual([]);
    await bob!.sync();
    expect(await bob!.update(g)).toBe(4n);
    await alice!.sync();
    expect(alice!.group(g).epoch).toBe(4n);
    expect(exporter(alice!, g)).toBe(exporter(bob!, g));
    expect(alice!.members(g).sort()).toEqual([alice!.identity, bob!.identity].sort());
    await expect(charlie!.send(g, "still here?")).rejects.toSatisfy((e) => isApiError(e, "NOT_GROUP_MEMBER"));
  });

  it("a backlog of messages in two groups with a commit in the middle arrives complete, once, and in each group's order", async () => {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => newClient(uniq(u))));
    const [g1, g2] = [await alice!.createGroup(), await alice!.createGroup()];
    await alice!.addUser(g1!, bob!.user);
    await alice!.addUser(g2!, bob!.user);
    expect((await bob!.sync()).map((e) => e.type)).toEqual(["joined", "joined"]);
    // Store-once delivery (DESIGN: DS delivery): each group has its own gap-free log read through its own
    // cursor, so the guarantee is per group: every entry once, in the group's log order. Across groups the
    // DS promises no order. 150 entries span two queue pages (100 each), so the cursors cross a page boundary.
    const sent = new Map<string, string[]>([
      [g1!, []],
      [g2!, []],
    ]);
    for (let i = 0; i < 150; i++) {
      // Runs of application messages are decrypted together; the update commit in g1 ends a run.
      if (i === 70) sent.get(g1!)!.push(`commit@${await alice!.update(g1!)}`);
      const g = i % 3 === 0 ? g2! : g1!;
      await alice!.send(g, `m${i}`);
      sent.get(g)!.push(`m${i}@${alice!.group(g).epoch}`);
    }
    const evs = await bob!.sync();
    expect(evs.filter((e) => e.type !== "message" && e.type !== "membership")).toEqual([]);
    const got = (g: string) => evs.filter((e) => e.groupId === g).map((e) => (e.type === "message" ? `${e.text}@${e.epoch}` : e.type === "membership" ? `commit@${e.epoch}` : e.type));
    // Per group: exactly the sent sequence (nothing missing, nothing twice, the commit right before m70 in g1).
    expect(got(g1!)).toEqual(sent.get(g1!));
    expect(got(g2!)).toEqual(sent.get(g2!));
    // And nothing else: every event belongs to one of the two groups.
    expect(evs.length).toBe(sent.get(g1!)!.length + sent.get(g2!)!.length);
    expect(await bob!.sync()).toEqual([]);
    expect(bob!.group(g1!).epoch).toBe(alice!.group(g1!).epoch);
    expect(exporter(bob!, g1!)).toBe(exporter(alice!, g1!));
  });

  it("two members committing at once: the loser gets 409, catches up, retries; both converge", async () => {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => newClient(uniq(u))));
    const g = await alice!.createGroup();
    await alice!.addUser(g, bob!.user);
    await bob!.sync();
    const results = await Promise.allSettled([alice!.update(g), bob!.update(g)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    expect(alice!.commitConflicts + bob!.commitConflicts).toBe(1);
    await alice!.sync();
    await bob!.sync();
    expect(alice!.group(g).epoch).toBe(3n);
    expect(bob!.group(g).epoch).toBe(3n);
    expect(exporter(alice!, g)).toBe(exporter(bob!, g));
    await alice!.send(g, "after the race");
    expect(texts(await bob!.sync())).toEqual([`${alice!.user}:after the race`]);
  });

  it("a client restarted from its encrypted file store loses no group or message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-store-"));
    try {
      const alice = await newClient(uniq("alice"));
      const bobUser = uniq("bob");
      const bob1 = await Client.open({ serverUrl: server().url, store: new FileStore(dir, "correct horse") });
      await bob1.register(bobUser, "phone");
      const g = await alice.createGroup();
      await alice.addUser(g, bobUser);
      await bob1.sync();
      await alice.send(g, "one");
      expect(texts(await bob1.sync())).toEqual([`${alice.user}:one`]);
      await alice.send(g, "two");
      await alice.update(g);
      await alice.send(g, "three");
      // Nothing in the store reveals the messages' group state in clear.
      for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).includes(Buffer.from(bobUser))).toBe(false);

      const bob2 = await Client.open({ serverUrl: server().url, store: new FileStore(dir, "correct horse") });
      expect(bob2.identity).toBe(bob1.identity);
      expect(bob2.groups).toEqual([g]);
      expect(texts(await bob2.sync())).toEqual([`${alice.user}:two`, `${alice.user}:three`]);
      expect(exporter(bob2, g)).toBe(exporter(alice, g));
      await bob2.send(g, "back");
      expect(texts(await alice.sync())).toEqual([`${bobUser}:back`]);
      await expect(Client.open({ serverUrl: server().url, store: new FileStore(dir, "wrong") })).rejects.toThrow(/cannot decrypt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("adding a user again brings in their second device", async () => {
    const alice = await newClient(uniq("alice"));
    const bobUser = uniq("bob");
    const bobPhone = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
    const { recoveryCode } = await bobPhone.register(bobUser, "phone");
    const g = await alice.createGroup();
    await alice.addUser(g, bobUser);
    await bobPhone.sync();
    const bobLaptop = await newClient(bobUser, "laptop", recoveryCode);
    expect(await alice.addUser(g, bobUser)).toEqual([bobLaptop.identity]);
    expect((await bobLaptop.sync()).map((e) => e.type)).toEqual(["joined"]);
    await bobPhone.sync();
    await alice.send(g, "both devices");
    expect(texts(await bobPhone.sync())).toEqual([`${alice.user}:both devices`]);
    expect(texts(await bobLaptop.sync())).toEqual([`${alice.user}:both devices`]);
    expect(alice.members(g).length).toBe(3);
  });

  it("device-add flow: Bob's phone brings his new laptop into all of his groups", async () => {
    const [alice, carol] = await Promise.all(["alice", "carol"].map((u) => newClient(uniq(u))));
    const bobUser = uniq("bob");
    const bobPhone = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
    await bobPhone.register(bobUser, "phone");
    const g1 = await alice!.createGroup();
    const g2 = await carol!.createGroup();
    await alice!.addUser(g1, bobUser);
    await carol!.addUser(g2, bobUser);
    await bobPhone.sync();
    expect(bobPhone.groups.sort()).toEqual([g1, g2].sort());
    const bobLaptop = await linkedClient(bobPhone, "laptop");
    const added = await bobPhone.addOwnDevices();
    expect(added).toEqual({ [g1]: [bobLaptop.identity], [g2]: [bobLaptop.identity] });
    expect((await bobLaptop.sync()).map((e) => e.type)).toEqual(["joined", "joined"]);
    expect(bobLaptop.groups.sort()).toEqual([g1, g2].sort());
    await alice!.sync();
    await carol!.sync();
    await alice!.send(g1, "to all of bob");
    await carol!.send(g2, "from carol");
    expect(texts(await bobLaptop.sync()).sort()).toEqual([`${alice!.user}:to all of bob`, `${carol!.user}:from carol`].sort());
    // Nothing left to add the second time.
    expect(await bobPhone.addOwnDevices()).toEqual({ [g1]: [], [g2]: [] });
  });

  it("keeps the DS stocked: a batch plus a last-resort KeyPackage, topped up below the low-water mark", async () => {
    const bob = await Client.open({ serverUrl: server().url, store: new MemoryStore(), keyPackageLowWater: 3, keyPackageBatch: 4 });
    await bob.register(uniq("bob"), "phone");
    const count = async () => (await bob.transport.request<KeyPackageCountsResponse>("countKeyPackages", { token: await bob.token() })).counts.find((c) => c.cipherSuite === 1);
    expect(await count()).toEqual({ cipherSuite: 1, count: 4, lastResort: true });
    expect(await bob.ensureKeyPackages()).toBe(0);
    // Two groups claim one KeyPackage each: 2 left, below 3.
    for (const owner of await Promise.all([newClient(uniq("alice")), newClient(uniq("carol"))])) await owner.addUser(await owner.createGroup(), bob.user);
    expect((await count())?.count).toBe(2);
    // Joining triggers the top-up; the used init keys are gone, so nothing can be joined twice.
    expect((await bob.sync()).map((e) => e.type)).toEqual(["joined", "joined"]);
    expect(await count()).toEqual({ cipherSuite: 1, count: 6, lastResort: true });
    expect(bob.groups.length).toBe(2);
  });

  it("a commit whose reply is lost is found in the DS log and merged, not dropped", async () => {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => newClient(uniq(u))));
    const g = await alice!.createGroup();
    await alice!.addUser(g, bob!.user);
    await bob!.sync();
    const realFetch = globalThis.fetch;
    let dropped = 0;
    // The request reaches the DS, the connection dies before the reply.
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      if (String(input).endsWith("/commits") && dropped++ === 0) throw new TypeError("socket hang up");
      return res;
    };
    try {
      expect(await alice!.update(g)).toBe(2n);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(dropped).toBe(1);
    await bob!.sync();
    expect(bob!.group(g).epoch).toBe(2n);
    expect(exporter(alice!, g)).toBe(exporter(bob!, g));
  });

  it("yields events from the async iterator", async () => {
    const [alice, bob] = await Promise.all(["alice", "bob"].map((u) => newClient(uniq(u))));
    const g = await alice!.createGroup();
    await alice!.addUser(g, bob!.user);
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const ev of bob!.events({ signal: ac.signal, pollMs: 200 })) {
        got.push(ev.type === "message" ? ev.text : ev.type);
        if (got.length === 2) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await alice!.send(g, "streamed");
    await done;
    expect(got).toEqual(["joined", "streamed"]);
  });

  it("surfaces the server's error code", async () => {
    const c = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
    const user = uniq("dup");
    await c.register(user, "a");
    const d = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
    await expect(d.register(user, "b")).rejects.toSatisfy((e) => isApiError(e, "ACCOUNT_EXISTS"));
    await expect(c.addUser(await c.createGroup(), uniq("nobody"))).rejects.toSatisfy((e) => isApiError(e) && e.status >= 400);
  });
});
