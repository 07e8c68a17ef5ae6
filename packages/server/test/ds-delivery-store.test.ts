/**
 * Store-once delivery at the storage level (DESIGN: DS delivery), on both
 * engines: gap-free positions taken under the group lock, what each stay of a
 * member reads, acknowledgements that only move forward, pages capped in
 * count and bytes, and retention with the gaps it leaves reported.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CipherSuiteId } from "@conclave/mls";
import { QueueDelivery } from "../src/ds/queueDelivery.js";
import { RetentionJob } from "../src/ds/retention.js";
import { isQueueDepthSource } from "../src/observability/metrics.js";
import type { LogKind } from "../src/storage/dsStore.js";
import type { ClientId, Store } from "../src/storage/index.js";
import { ENGINES, type TestStore } from "./support/engines.js";

const G = new Uint8Array([1, 2, 3]);
const enc = new TextEncoder();

async function newClient(store: Store, name: string, k: number): Promise<ClientId> {
  await store.accounts.create({ user: name, secretHash: new Uint8Array(32).fill(k), createdAt: 1 });
  const r = await store.clients.create({ user: name, device: "d", cipherSuite: 1 as CipherSuiteId, signatureKey: new Uint8Array(32).fill(k), createdAt: 1 });
  if (!r.ok) throw new Error("client not created");
  return r.client.id;
}

/** Accepts one message the way the DS does: lock + position, then the row, in one transaction. */
async function post(store: Store, sender: ClientId, text: string, at = 1000, kind: LogKind = "application", fail = false): Promise<number> {
  return store.transaction(async (tx) => {
    const r = await tx.groups.reserve(G);
    if (r === undefined) throw new Error("no group");
    await tx.groups.append({ groupId: G, seq: r.seq, kind, epoch: 0, contentType: 1, senderClientId: sender, message: enc.encode(text), createdAt: at });
    if (fail) throw new Error("rolled back");
    return r.seq;
  });
}

const texts = (page: { entries: { message: string }[] }) => page.entries.map((e) => Buffer.from(e.message, "base64url").toString());

describe.each(ENGINES)("store-once delivery [$name]", (engine) => {
  let t: TestStore;
  let store: Store;
  let q: QueueDelivery;
  let alice: ClientId;
  let bob: ClientId;
  beforeEach(async () => {
    if (!engine.available) return;
    t = await engine.open();
    store = t.store;
    q = new QueueDelivery(store);
    alice = await newClient(store, "alice", 1);
    bob = await newClient(store, "bob", 2);
    await store.transaction((tx) => tx.groups.create(G, alice, 1));
  });
  afterEach(async () => {
    await t?.dispose();
  });

  describe.skipIf(!engine.available)("", () => {
    it("gives concurrent writers gap-free positions; a rolled-back writer gives its position back", async () => {
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => post(store, alice, `m${i}`, 1000, "application", i % 5 === 4)));
      const seqs = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
      expect((await store.groups.get(G))!.nextSeq).toBe(33);
    });

    it("lets each stay read what was sent during it, own messages excepted, through its removal", async () => {
      await post(store, alice, "before bob");
      await store.transaction((tx) => tx.memberships.join(G, [bob], 1, 1));
      expect((await store.groups.get(G))!.memberCount).toBe(2);
      await post(store, alice, "hello bob");
      await post(store, bob, "bob's own");
      const removal = await post(store, alice, "removes bob", 1000, "handshake");
      await store.transaction((tx) => tx.memberships.leave(G, [bob], removal));
      expect(await store.memberships.isMember(G, bob)).toBe(false);
      await post(store, alice, "after bob left");
      const page = await q.fetch(bob, 100);
      expect(texts(page)).toEqual(["hello bob", "removes bob"]);
      // The cursor covers bob's own message too, and stops at his removal.
      expect(page.cursor.groups.map((g) => g.seq)).toEqual([removal]);
      expect(page.more).toBe(false);
      expect(await q.ack(bob, page.cursor)).toBe(1);
      // Done with the group: nothing more, and the finished stay is gone.
      expect((await q.fetch(bob, 100)).entries).toEqual([]);
      expect(await store.memberships.unread(bob)).toEqual([]);
      // Added again later: only what comes after the new join.
      await post(store, alice, "while bob was out");
      const rejoin = (await store.groups.get(G))!.nextSeq - 1;
      await store.transaction((tx) => tx.memberships.join(G, [bob], 2, rejoin));
      await post(store, alice, "welcome back");
      expect(texts(await q.fetch(bob, 100))).toEqual(["welcome back"]);
    });

    it("acknowledges only forward and never past the log's end", async () => {
      await store.transaction((tx) => tx.memberships.join(G, [bob], 1, 0));
      for (let i = 0; i < 5; i++) await post(store, alice, `m${i}`);
      const gid = Buffer.from(G).toString("base64url");
      // The metrics' queue depth: every stay's unread positions (alice's own included) and direct entries.
      if (!isQueueDepthSource(store)) throw new Error("the store does not report its queue depth");
      expect(await store.collectQueueDepth()).toBe(10);
      expect(await q.ack(bob, { direct: 0, groups: [{ groupId: gid, seq: 2 }] })).toBe(1);
      expect(await store.collectQueueDepth()).toBe(8);
      expect(await q.ack(bob, { direct: 0, groups: [{ groupId: gid, seq: 1 }] })).toBe(0);
      expect(texts(await q.fetch(bob, 100))).toEqual(["m2", "m3", "m4"]);
      expect(await q.ack(bob, { direct: 0, groups: [{ groupId: gid, seq: 99 }] })).toBe(1);
      await post(store, alice, "m5");
      expect(texts(await q.fetch(bob, 100))).toEqual(["m5"]);
    });

    it("caps pages in count, continues from a reader's positions, and says when more is waiting", async () => {
      await store.transaction((tx) => tx.memberships.join(G, [bob], 1, 0));
      for (let i = 0; i < 7; i++) await post(store, alice, `m${i}`);
      const first = await q.fetch(bob, 3);
      expect([texts(first), first.more]).toEqual([["m0", "m1", "m2"], true]);
      // Not acknowledged: an HTTP fetch starts again from the acknowledged position...
      expect(texts(await q.fetch(bob, 3))).toEqual(["m0", "m1", "m2"]);
      // ...a stream continues from where it is.
      const positions = { direct: 0, groups: new Map<string, number>() };
      await q.fetch(bob, 3, positions);
      const next = await q.fetch(bob, 3, positions);
      expect(texts(next)).toEqual(["m3", "m4", "m5"]);
      expect(texts(await q.fetch(bob, 3, positions))).toEqual(["m6"]);
    });

    it("caps pages in bytes, always sending at least one entry", async () => {
      await store.transaction((tx) => tx.memberships.join(G, [bob], 1, 0));
      const big = "x".repeat(3 * 1024 * 1024);
      await post(store, alice, big);
      await post(store, alice, big);
      const page = await q.fetch(bob, 100);
      expect([page.entries.length, page.more]).toEqual([1, true]);
      await q.ack(bob, page.cursor);
      expect((await q.fetch(bob, 100)).entries.length).toBe(1);
    });

    it("retention keeps unread messages until the unread limit, then reports the gap", async () => {
      await store.transaction((tx) => tx.memberships.join(G, [bob], 1, 0));
      let now = 10_000;
      const job = new RetentionJob(store, () => now, { readMs: 1000, unreadMs: 5000, intervalMs: 60_000 });
      await post(store, alice, "old", 10_000);
      await post(store, alice, "newer", 12_000);
      // alice (the sender) has not acknowledged her own positions: nothing counts as read by everyone yet.
      const gid = Buffer.from(G).toString("base64url");
      await q.ack(alice, { direct: 0, groups: [{ groupId: gid, seq: 2 }] });
      now = 12_500;
      expect((await job.runOnce()).logEntries).toBe(0); // bob has read nothing
      now = 16_000;
      expect((await job.runOnce()).logEntries).toBe(1); // "old" is past the unread limit
      expect((await store.groups.get(G))!.firstSeq).toBe(2);
      const page = await q.fetch(bob, 100);
      expect(page.gaps).toEqual([{ groupId: gid, from: 1, to: 1 }]);
      expect(texts(page)).toEqual(["newer"]);
      await q.ack(bob, page.cursor);
      // Read by everyone now, and older than the read limit: gone.
      expect((await job.runOnce()).logEntries).toBe(1);
      expect((await store.groups.get(G))!.firstSeq).toBe(3);
      await job.stop();
    });
  });
});
