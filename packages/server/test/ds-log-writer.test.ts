/**
 * The DS's group commit of application messages (ds/logWriter.ts), on both
 * engines: concurrent messages batched into one transaction still get
 * gap-free positions in arrival order per sender, and each message of a batch
 * is judged on its own — a non-member's or a stale epoch's message is refused
 * while the others of its batch are stored, and a removal committed before a
 * batch refuses the removed member at once.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CipherSuiteId } from "@conclave/mls";
import type { AuthenticatedClient } from "../src/auth/clientAuth.js";
import { GroupLogWriter } from "../src/ds/logWriter.js";
import { LocalNotifier } from "../src/ds/notifier.js";
import { QueueDelivery } from "../src/ds/queueDelivery.js";
import type { ClientId, Store } from "../src/storage/index.js";
import { ENGINES, type TestStore } from "./support/engines.js";

const G = new Uint8Array([9, 9, 9]);
const enc = new TextEncoder();

async function newClient(store: Store, name: string, k: number): Promise<AuthenticatedClient> {
  await store.accounts.create({ user: name, secretHash: new Uint8Array(32).fill(k), createdAt: 1 });
  const r = await store.clients.create({ user: name, device: "d", cipherSuite: 1 as CipherSuiteId, signatureKey: new Uint8Array(32).fill(k), createdAt: 1 });
  if (!r.ok) throw new Error("client not created");
  const c = r.client;
  return { id: c.id, user: c.user, device: c.device, identity: `${c.user}@example.com#d`, cipherSuite: c.cipherSuite, signatureKey: c.signatureKey, tokenHash: new Uint8Array(32) };
}

const codeOf = (r: PromiseSettledResult<unknown>): string => (r.status === "fulfilled" ? "ok" : ((r.reason as { code?: string }).code ?? String(r.reason)));

describe.each(ENGINES)("group commit of application messages [$name]", (engine) => {
  let t: TestStore;
  let store: Store;
  let notifier: LocalNotifier;
  let writer: GroupLogWriter;
  let alice: AuthenticatedClient;
  let bob: AuthenticatedClient;
  let carol: AuthenticatedClient;
  beforeEach(async () => {
    if (!engine.available) return;
    t = await engine.open();
    store = t.store;
    notifier = new LocalNotifier();
    writer = new GroupLogWriter({ store, notifier, pastEpochs: 1 });
    alice = await newClient(store, "alice", 1);
    bob = await newClient(store, "bob", 2);
    carol = await newClient(store, "carol", 3);
    await store.transaction((tx) => tx.groups.create(G, alice.id, 1));
    await store.transaction(async (tx) => {
      const r = await tx.groups.reserve(G);
      await tx.groups.append({ groupId: G, seq: r!.seq, kind: "handshake", epoch: 0, contentType: 3, senderClientId: alice.id, message: enc.encode("commit"), createdAt: 1 });
      await tx.groups.advanceEpoch(G, 0);
      await tx.memberships.join(G, [bob.id], 1, r!.seq);
    });
  });
  afterEach(async () => {
    await t?.dispose();
  });

  const send = (client: AuthenticatedClient, text: string, epoch = 1n) => writer.append({ client, groupId: G, epoch, contentType: 1, message: enc.encode(text), createdAt: 5 });

  describe.skipIf(!engine.available)("", () => {
    it("stores a burst gap-free, in each sender's order, waking the group once per batch", async () => {
      let wakes = 0;
      notifier.subscribe(`g090909` as never, () => wakes++);
      const sent = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? send(alice, `a${i}`) : send(bob, `b${i}`)));
      const answers = await Promise.all(sent);
      expect(answers.every((a) => a.epoch === 1 && a.delivered === 1)).toBe(true);
      expect((await store.groups.get(G))!.nextSeq).toBe(62);
      expect(wakes).toBeGreaterThan(0);
      expect(wakes).toBeLessThan(60);
      // Bob reads every message of Alice's, in her order, at consecutive positions after the commit.
      const page = await new QueueDelivery(store).fetch(bob.id, 500);
      const texts = page.entries.map((e) => Buffer.from(e.message, "base64url").toString());
      expect(texts).toEqual(Array.from({ length: 30 }, (_, i) => `a${2 * i}`));
      expect(page.cursor.groups).toEqual([{ groupId: "CQkJ", seq: 61 }]);
    });

    it("refuses a non-member's and a stale epoch's message and stores the rest of their batch", async () => {
      const results = await Promise.allSettled([send(alice, "one"), send(carol, "intruder"), send(bob, "old", 3n), send(bob, "two"), send(alice, "past epoch", 0n)]);
      expect(results.map(codeOf)).toEqual(["ok", "NOT_GROUP_MEMBER", "EPOCH_MISMATCH", "ok", "ok"]);
      expect((await store.groups.get(G))!.nextSeq).toBe(5);
      const rows = await store.memberships.read(G, 1, 10, 10, carol.id);
      expect(rows.map((r) => [r.seq, r.message === null ? null : Buffer.from(r.message).toString()])).toEqual([
        [2, "one"],
        [3, "two"],
        [4, "past epoch"],
      ]);
    });

    it("refuses a member removed before the batch, at once", async () => {
      await send(bob, "before");
      await store.transaction(async (tx) => {
        const r = await tx.groups.reserve(G);
        await tx.groups.append({ groupId: G, seq: r!.seq, kind: "handshake", epoch: 1, contentType: 3, senderClientId: alice.id, message: enc.encode("remove bob"), createdAt: 6 });
        await tx.memberships.leave(G, [bob.id], r!.seq);
      });
      const results = await Promise.allSettled([send(bob, "after"), send(alice, "still here")]);
      expect(results.map(codeOf)).toEqual(["NOT_GROUP_MEMBER", "ok"]);
    });

    it("answers GROUP_NOT_FOUND for a group that does not exist, without failing others", async () => {
      const other = writer.append({ client: alice, groupId: new Uint8Array([7]), epoch: 1n, contentType: 1, message: enc.encode("x"), createdAt: 5 });
      const results = await Promise.allSettled([other, send(alice, "fine")]);
      expect(results.map(codeOf)).toEqual(["GROUP_NOT_FOUND", "ok"]);
    });
  });
});
