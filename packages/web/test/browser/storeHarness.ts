/**
 * The SDK's IndexedDbStore in a real browser (bundled with the "browser"
 * conditions, as an app gets it): each function runs one scenario on
 * Chromium's own IndexedDB and WebCrypto and returns plain data for the test
 * to check. fake-indexeddb (packages/client/test/browser-store.test.ts)
 * cannot show what only a browser does: transactions that commit themselves
 * when their task awaits something else, versionchange between handles.
 */
import { IndexedDbStore } from "@conclave/client";

const enc = new TextEncoder();
const dec = new TextDecoder();
const FAST = { iterations: 1000 };
const codeOf = (e: unknown) => (e as { code?: string }).code ?? (e as Error).name;

async function roundTrip(): Promise<{ values: (string | null)[]; keys: string[] }> {
  const a = await IndexedDbStore.open("rt", "pw-rt", FAST);
  await a.put("group:a", enc.encode("A"));
  await a.put("group:b", enc.encode("B"));
  await a.delete("group:b");
  await a.put("cursor", enc.encode("9"));
  a.close();
  const b = await IndexedDbStore.open("rt", "pw-rt"); // a new handle: what a reload gets
  const values = await Promise.all(
    ["group:a", "group:b", "cursor"].map(async (k) => {
      const v = await b.get(k);
      return v === undefined ? null : dec.decode(v);
    }),
  );
  const keys = (await b.keys("")).sort();
  b.close();
  return { values, keys };
}

async function wrongPassphrase(): Promise<string> {
  (await IndexedDbStore.open("wp", "right", FAST)).close();
  try {
    (await IndexedDbStore.open("wp", "wrong", FAST)).close();
    return "opened";
  } catch (e) {
    return codeOf(e);
  }
}

/** A big batch (sealing takes many awaits before the transaction opens) lands whole. */
async function bigBatch(): Promise<{ written: number; read: number; allEqual: boolean }> {
  const s = await IndexedDbStore.open("bb", "pw", FAST);
  const writes = Array.from({ length: 60 }, (_, i) => [`r:${i}`, crypto.getRandomValues(new Uint8Array(16 * 1024))] as const);
  await s.putMany(writes);
  let allEqual = true;
  for (const [k, v] of writes) {
    const got = await s.get(k);
    if (got === undefined || got.length !== v.length || got.some((b, i) => b !== v[i])) allEqual = false;
  }
  const read = (await s.keys("r:")).length;
  s.close();
  return { written: writes.length, read, allEqual };
}

/** A batch whose second write throws inside the transaction leaves every record as it was. */
async function failedBatch(): Promise<{ error: string; a: string | null; b: string | null }> {
  const s = await IndexedDbStore.open("fb", "pw", FAST);
  await s.putMany([
    ["a", enc.encode("a1")],
    ["b", enc.encode("b1")],
  ]);
  const put = IDBObjectStore.prototype.put;
  let n = 0;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
    if (++n === 2) throw new DOMException("disk full (injected)", "QuotaExceededError");
    return put.apply(this, args);
  };
  let error = "none";
  try {
    await s.putMany([
      ["a", enc.encode("a2")],
      ["b", enc.encode("b2")],
    ]);
  } catch (e) {
    error = (e as Error).message;
  } finally {
    IDBObjectStore.prototype.put = put;
  }
  const a = await s.get("a");
  const b = await s.get("b");
  s.close();
  return { error, a: a === undefined ? null : dec.decode(a), b: b === undefined ? null : dec.decode(b) };
}

/** Writes issued together all resolve and all land. */
async function concurrentWrites(): Promise<number> {
  const s = await IndexedDbStore.open("cw", "pw", FAST);
  await Promise.all(Array.from({ length: 25 }, (_, i) => s.put(`k:${i}`, enc.encode(String(i)))));
  const n = (await Promise.all(Array.from({ length: 25 }, async (_, i) => dec.decode((await s.get(`k:${i}`))!) === String(i)))).filter(Boolean).length;
  s.close();
  return n;
}

/** Deleting the database while a handle is open is not blocked: the handle lets go, and later calls fail. */
async function destroyWhileOpen(): Promise<{ destroyed: boolean; afterwards: string }> {
  const s = await IndexedDbStore.open("dw", "pw", FAST);
  await s.put("x", enc.encode("x"));
  const destroyed = await Promise.race([IndexedDbStore.destroy("dw").then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
  let afterwards = "worked";
  try {
    await s.get("x");
  } catch (e) {
    afterwards = codeOf(e);
  }
  return { destroyed, afterwards };
}

Object.assign(globalThis, { storeHarness: { roundTrip, wrongPassphrase, bigBatch, failedBatch, concurrentWrites, destroyWhileOpen } });
