/**
 * The browser ClientStore (src/browser/indexedDbStore.ts) on fake-indexeddb:
 * encryption at rest, the passphrase check, atomic batches, persistence
 * across reopening, and a full Client (web crypto provider) that keeps its
 * group across a "reload" against a real DS+AS.
 */
import { IDBFactory, IDBObjectStore } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { webCryptoProvider } from "@conclave/mls";
import { Client, IndexedDbStore, StoreError, type ClientEvent, type ClientStore } from "../src/browser/index.js";
import { sharedTestServer } from "./server.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Few iterations: these tests check the construction, not the work factor. */
const FAST = { iterations: 1000 };

function rawRecords(factory: IDBFactory, name: string): Promise<Map<string, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const open = factory.open(`conclave:${name}`);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const out = new Map<string, Uint8Array>();
      const cur = db.transaction("records").objectStore("records").openCursor();
      cur.onsuccess = () => {
        const c = cur.result;
        if (c === null) {
          db.close();
          resolve(out);
          return;
        }
        out.set(String(c.key), c.value as Uint8Array);
        c.continue();
      };
    };
  });
}

function writeRaw(factory: IDBFactory, name: string, key: string, value: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = factory.open(`conclave:${name}`);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      tx.objectStore("records").put(value, key);
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

describe("IndexedDbStore", () => {
  it("round-trips records, lists keys by prefix, deletes, and keeps everything across reopening", async () => {
    const indexedDB = new IDBFactory();
    const s = await IndexedDbStore.open("dev", "correct horse", { ...FAST, indexedDB });
    expect(await s.get("group:a")).toBeUndefined();
    await s.put("group:a", enc.encode("state A"));
    await s.put("group:b", enc.encode("state B"));
    await s.put("cursor", enc.encode("7"));
    expect((await s.keys("group:")).sort()).toEqual(["group:a", "group:b"]);
    await s.delete("group:b");
    expect(await s.keys("group:")).toEqual(["group:a"]);
    s.close();

    const again = await IndexedDbStore.open("dev", "correct horse", { indexedDB }); // the stored iteration count wins
    expect(dec.decode((await again.get("group:a"))!)).toBe("state A");
    expect(dec.decode((await again.get("cursor"))!)).toBe("7");
    expect(await again.get("group:b")).toBeUndefined();
    again.close();
  });

  it("stores only ciphertext, bound to the record's name: a swapped record does not decrypt", async () => {
    const indexedDB = new IDBFactory();
    const s = await IndexedDbStore.open("dev", "pw", { ...FAST, indexedDB });
    await s.put("identity", enc.encode("SECRET-SIGNATURE-KEY"));
    await s.put("other", enc.encode("something else"));
    const raw = await rawRecords(indexedDB, "dev");
    const sealed = raw.get("identity")!;
    expect(dec.decode(sealed.subarray(0, 4))).toBe("CCS1");
    expect(Buffer.from(sealed).includes(Buffer.from("SECRET"))).toBe(false);
    // Two encryptions of the same value differ (fresh IV each time).
    await s.put("identity", enc.encode("SECRET-SIGNATURE-KEY"));
    expect(Buffer.from((await rawRecords(indexedDB, "dev")).get("identity")!).equals(Buffer.from(sealed))).toBe(false);

    await writeRaw(indexedDB, "dev", "other", sealed);
    await expect(s.get("other")).rejects.toMatchObject({ code: "STORE_UNREADABLE" });
    const flipped = sealed.slice();
    flipped[flipped.length - 1]! ^= 1;
    await writeRaw(indexedDB, "dev", "identity", flipped);
    await expect(s.get("identity")).rejects.toBeInstanceOf(StoreError);
    await writeRaw(indexedDB, "dev", "identity", enc.encode("short"));
    await expect(s.get("identity")).rejects.toMatchObject({ code: "STORE_UNREADABLE" });
    s.close();
  });

  it("refuses a wrong passphrase at open (STORE_UNREADABLE), an empty one, and bad keys", async () => {
    const indexedDB = new IDBFactory();
    (await IndexedDbStore.open("dev", "right", { ...FAST, indexedDB })).close();
    await expect(IndexedDbStore.open("dev", "wrong", { ...FAST, indexedDB })).rejects.toMatchObject({ code: "STORE_UNREADABLE" });
    await expect(IndexedDbStore.open("dev", "", { ...FAST, indexedDB })).rejects.toThrow(/empty passphrase/);
    const s = await IndexedDbStore.open("dev", "right", { indexedDB });
    await expect(s.put("../x", enc.encode("x"))).rejects.toThrow(/bad key/);
    s.close();
  });

  it("putMany is atomic: a batch whose write fails midway leaves every record as it was", async () => {
    const indexedDB = new IDBFactory();
    const s = await IndexedDbStore.open("dev", "pw", { ...FAST, indexedDB });
    await s.putMany([
      ["group:a", enc.encode("a1")],
      ["cursor", enc.encode("1")],
    ]);
    const put = IDBObjectStore.prototype.put;
    let calls = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
      if (++calls === 2) throw new DOMException("disk full (injected)", "QuotaExceededError");
      return put.apply(this, args);
    };
    try {
      await expect(
        s.putMany([
          ["group:a", enc.encode("a2")],
          ["cursor", enc.encode("2")],
          ["group:old", null],
        ]),
      ).rejects.toThrow(/injected/);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    expect(dec.decode((await s.get("group:a"))!)).toBe("a1");
    expect(dec.decode((await s.get("cursor"))!)).toBe("1");
    await s.putMany([
      ["group:a", enc.encode("a2")],
      ["cursor", null],
    ]);
    expect(dec.decode((await s.get("group:a"))!)).toBe("a2");
    expect(await s.get("cursor")).toBeUndefined();
    s.close();
  });

  it("destroy forgets the store: the next open starts empty under a new salt", async () => {
    const indexedDB = new IDBFactory();
    const s = await IndexedDbStore.open("dev", "pw", { ...FAST, indexedDB });
    await s.put("k", enc.encode("v"));
    s.close();
    await IndexedDbStore.destroy("dev", indexedDB);
    const fresh = await IndexedDbStore.open("dev", "another", { ...FAST, indexedDB });
    expect(await fresh.keys("")).toEqual([]);
    fresh.close();
  });
});

describe("a browser-style Client (web provider, IndexedDB store) over a real DS+AS", () => {
  const { server, uniq } = sharedTestServer("idb");

  it("registers, talks with a peer, and after a reload (new store handle, new Client) still has its group and reads on", async () => {
    const indexedDB = new IDBFactory();
    const open = async () => Client.open({ serverUrl: server().url, store: await IndexedDbStore.open("alice", "pw", { ...FAST, indexedDB }), provider: webCryptoProvider });
    const alice = await open();
    await alice.register(uniq("alice"), "browser");
    const bob = await Client.open({ serverUrl: server().url, store: await IndexedDbStore.open("bob", "pw", { ...FAST, indexedDB }), provider: webCryptoProvider });
    await bob.register(uniq("bob"), "browser");
    const g = await alice.createGroup();
    expect(await alice.addUser(g, bob.user)).toEqual([bob.identity]);
    expect((await bob.sync()).map((e) => e.type)).toEqual(["joined"]);
    await bob.send(g, "🎉");
    expect(await alice.sync()).toMatchObject([{ type: "message", groupId: g, text: "🎉" }]);
    const number = alice.safetyNumber(g);

    const reloaded = await open();
    expect(reloaded.registered).toBe(true);
    expect(reloaded.identity).toBe(alice.identity);
    expect(reloaded.groups).toEqual([g]);
    expect(reloaded.safetyNumber(g)).toBe(number);
    await bob.send(g, "👋");
    // The message acknowledged before the reload is not delivered twice; the new one arrives.
    expect(await reloaded.sync()).toMatchObject([{ type: "message", text: "👋" }]);
  });
});

/** Writes go through until the `dieAt`-th; that one and all after it fail, as in a tab closed at that point. */
class ClosingTab implements ClientStore {
  writes = 0;
  dieAt = Number.POSITIVE_INFINITY;
  constructor(readonly inner: IndexedDbStore) {}
  get(key: string) {
    return this.inner.get(key);
  }
  keys(prefix: string) {
    return this.inner.keys(prefix);
  }
  async put(key: string, value: Uint8Array) {
    if (++this.writes >= this.dieAt) throw new Error(`tab closed before writing ${key}`);
    await this.inner.put(key, value);
  }
  async delete(key: string) {
    if (++this.writes >= this.dieAt) throw new Error(`tab closed before deleting ${key}`);
    await this.inner.delete(key);
  }
}

describe("crash safety on IndexedDB: a tab closed at any write of a sync", () => {
  const { server, uniq } = sharedTestServer("tab");
  const texts = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "message" ? [e.text] : []));

  it("the reloaded client reports every message exactly once, whichever write the close interrupted", async () => {
    let completedWithoutDying = false;
    let died = 0;
    for (let dieAt = 1; dieAt <= 20 && !completedWithoutDying; dieAt++) {
      const indexedDB = new IDBFactory();
      const open = () => IndexedDbStore.open("bob", "pw", { ...FAST, indexedDB });
      const alice = await Client.open({ serverUrl: server().url, store: await IndexedDbStore.open("alice", "pw", { ...FAST, indexedDB }), provider: webCryptoProvider });
      await alice.register(uniq("alice"), "browser");
      const tab = new ClosingTab(await open());
      const bob = await Client.open({ serverUrl: server().url, store: tab, provider: webCryptoProvider });
      await bob.register(uniq("bob"), "browser");
      const g = await alice.createGroup();
      await alice.addUser(g, bob.user);
      await bob.sync();
      for (const t of ["🍎", "🍐", "🍊"]) await alice.send(g, t);

      tab.writes = 0;
      tab.dieAt = dieAt;
      let firstTexts: string[] = [];
      try {
        firstTexts = texts(await bob.sync());
        completedWithoutDying = true;
      } catch (e) {
        expect((e as Error).message).toMatch(/tab closed before/);
        died++;
      }
      tab.inner.close();
      // The reload: a new store handle on the same IndexedDB, a new Client.
      const bob2 = await Client.open({ serverUrl: server().url, store: await open(), provider: webCryptoProvider });
      await alice.send(g, "🍋");
      const after = await bob2.sync();
      expect(
        after.filter((e) => e.type === "error"),
        `died at write ${dieAt}`,
      ).toEqual([]);
      expect([...firstTexts, ...texts(after)], `died at write ${dieAt}`).toEqual(["🍎", "🍐", "🍊", "🍋"]);
      await bob2.send(g, "🔙");
      expect(texts(await alice.sync()), `died at write ${dieAt}`).toEqual(["🔙"]);
    }
    expect(completedWithoutDying).toBe(true);
    // A sync writes the journal, then the group state and the queue position: each was a death point.
    expect(died).toBeGreaterThanOrEqual(2);
  });
});
