/**
 * Crash safety in-process: a store that "dies" at a chosen write stands for a
 * process killed at that point; the client reopened from what was written must
 * lose no message, decrypt none twice, and not fork a group.
 */
import { describe, expect, it } from "vitest";
import { Client, MemoryStore, type ClientEvent, type ClientStore } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("c");
const texts = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "message" ? [e.text] : []));
const errors = (evs: ClientEvent[]) => evs.filter((e) => e.type === "error");
const exporter = (c: Client, g: string) => Buffer.from(c.group(g).exportSecret("test", new Uint8Array(0), 32)).toString("hex");

type Op = "put" | "delete";

/** Passes writes through until `dieOn` matches one; from then on every write fails, as after a kill. */
class DyingStore implements ClientStore {
  dead = false;
  dieOn: ((key: string, op: Op) => boolean) | undefined;
  constructor(readonly inner: MemoryStore) {}
  get(key: string) {
    return this.inner.get(key);
  }
  keys(prefix: string) {
    return this.inner.keys(prefix);
  }
  #check(key: string, op: Op) {
    if (!this.dead && this.dieOn?.(key, op) === true) this.dead = true;
    if (this.dead) throw new Error(`killed before ${op === "put" ? "writing" : "deleting"} ${key}`);
  }
  async put(key: string, value: Uint8Array) {
    this.#check(key, "put");
    await this.inner.put(key, value);
  }
  async delete(key: string) {
    this.#check(key, "delete");
    await this.inner.delete(key);
  }
}

/** Runs `fn` with fetch patched: the first request to a URL ending in `path` kills the store's process before it leaves. */
async function dyingBeforeRequest<T>(store: DyingStore, path: string, fn: () => Promise<T>): Promise<T> {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    if (store.dead || String(input).endsWith(path)) {
      store.dead = true;
      throw new Error(`killed before sending ${path}`);
    }
    return realFetch(input, init);
  };
  try {
    return await fn();
  } finally {
    globalThis.fetch = realFetch;
  }
}

/** A client reopened from what the dead one wrote. */
async function restart(store: DyingStore): Promise<Client> {
  store.dead = false;
  store.dieOn = undefined;
  return Client.open({ serverUrl: server().url, store });
}

async function pair(): Promise<{ alice: Client; bob: Client; bobStore: DyingStore; g: string }> {
  const alice = await Client.open({ serverUrl: server().url, store: new MemoryStore() });
  await alice.register(uniq("alice"), "laptop");
  const bobStore = new DyingStore(new MemoryStore());
  const bob = await Client.open({ serverUrl: server().url, store: bobStore });
  await bob.register(uniq("bob"), "phone");
  const g = await alice.createGroup();
  await alice.addUser(g, bob.user);
  await bob.sync();
  return { alice, bob, bobStore, g };
}

/**
 * A sync's writes, in order (inbox.ts): the journal (group states, events, the
 * page's DS cursor) → the group records → the DS acknowledgement (a request,
 * no store write) → the journal's deletion once every page is done. A kill at
 * each of those points must end, after restart, with every message reported
 * exactly once.
 */
describe("a client killed mid-sync", () => {
  const points: readonly (readonly [string, (bob: Client, bobStore: DyingStore) => Promise<unknown>])[] = [
    [
      "after the journal, before the group records",
      (bob, bobStore) => {
        bobStore.dieOn = (k) => k.startsWith("group:");
        return bob.sync();
      },
    ],
    [
      // The group records hold the new ratchet state; the DS still has the messages as unacknowledged.
      "after the group records, before the DS acknowledgement",
      (bob, bobStore) => dyingBeforeRequest(bobStore, "/v1/queue/ack", () => bob.sync()),
    ],
    [
      // Acknowledged: the DS will not send the messages again; only the journal still holds their events.
      "after the DS acknowledgement, before the journal is cleared",
      (bob, bobStore) => {
        bobStore.dieOn = (k, op) => k === "inbox-journal" && op === "delete";
        return bob.sync();
      },
    ],
  ];
  for (const [when, crash] of points) {
    it(`${when}: the restarted client reports every message once`, async () => {
      const { alice, bobStore, bob, g } = await pair();
      for (const t of ["one", "two", "three"]) await alice.send(g, t);
      await expect(crash(bob, bobStore)).rejects.toThrow(/killed before/);
      // The kill came after the batch's commit point.
      expect(await bobStore.inner.get("inbox-journal")).toBeDefined();
      const bob2 = await restart(bobStore);
      await alice.send(g, "four");
      const evs = await bob2.sync();
      expect(errors(evs)).toEqual([]);
      expect(texts(evs)).toEqual(["one", "two", "three", "four"]);
      expect(await bob2.sync()).toEqual([]);
      expect(await bobStore.inner.get("inbox-journal")).toBeUndefined();
      await bob2.send(g, "back");
      expect(texts(await alice.sync())).toEqual(["back"]);
      expect(exporter(bob2, g)).toBe(exporter(alice, g));
    });
  }

  it("between two queue pages: the first page's events survive, the second page is fetched again", async () => {
    const { alice, bobStore, bob, g } = await pair();
    // 105 messages: one page of 100 (journaled and acknowledged), then a page of 5.
    const sent = Array.from({ length: 105 }, (_, i) => `m${i}`);
    for (const t of sent) await alice.send(g, t);
    let journals = 0;
    bobStore.dieOn = (k, op) => k === "inbox-journal" && op === "put" && ++journals === 2;
    await expect(bob.sync()).rejects.toThrow(/killed before writing inbox-journal/);
    expect(await bobStore.inner.get("inbox-journal")).toBeDefined();
    const bob2 = await restart(bobStore);
    const evs = await bob2.sync();
    expect(errors(evs)).toEqual([]);
    expect(texts(evs)).toEqual(sent);
    expect(await bob2.sync()).toEqual([]);
  });

  it("before the journal: the batch is simply processed again", async () => {
    const { alice, bobStore, bob, g } = await pair();
    await alice.send(g, "one");
    bobStore.dieOn = (k) => k === "inbox-journal";
    await expect(bob.sync()).rejects.toThrow(/killed before/);
    const bob2 = await restart(bobStore);
    expect(texts(await bob2.sync())).toEqual(["one"]);
  });
});

describe("a client killed while its commit was in flight", () => {
  it("finds its accepted commit in the DS log after restart instead of forking the group", async () => {
    const { alice, bobStore, bob, g } = await pair();
    // Bob's commit reaches the DS; he dies before writing the merged state.
    bobStore.dieOn = (k) => k.startsWith("group:") && bobStore.inner !== undefined && sawCommit;
    let sawCommit = false;
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      if (String(input).endsWith("/commits")) sawCommit = true;
      return res;
    };
    try {
      await expect(bob.update(g)).rejects.toThrow(/killed before/);
    } finally {
      globalThis.fetch = realFetch;
    }
    bobStore.dead = false;
    bobStore.dieOn = undefined;
    expect(errors(await alice.sync())).toEqual([]);
    expect(alice.group(g).epoch).toBe(2n);
    await alice.send(g, "in epoch 2");

    const bob2 = await Client.open({ serverUrl: server().url, store: bobStore });
    expect(bob2.group(g).epoch).toBe(1n); // the stored state still has the commit pending
    const evs = await bob2.sync();
    expect(errors(evs)).toEqual([]);
    expect(texts(evs)).toEqual(["in epoch 2"]);
    expect(bob2.group(g).epoch).toBe(2n);
    expect(exporter(bob2, g)).toBe(exporter(alice, g));
  });

  it("a pending commit the DS never accepted is dropped before the next commit", async () => {
    const { alice, bobStore, bob, g } = await pair();
    const realFetch = globalThis.fetch;
    // The commit never reaches the DS, and the process dies right after.
    globalThis.fetch = async (input, init) => {
      if (String(input).endsWith("/commits")) {
        bobStore.dead = true;
        throw new TypeError("connection refused");
      }
      return realFetch(input, init);
    };
    try {
      await expect(bob.update(g)).rejects.toThrow();
    } finally {
      globalThis.fetch = realFetch;
    }
    bobStore.dead = false;
    const bob2 = await Client.open({ serverUrl: server().url, store: bobStore });
    expect(await bob2.update(g)).toBe(2n);
    await alice.sync();
    expect(exporter(bob2, g)).toBe(exporter(alice, g));
  });
});
