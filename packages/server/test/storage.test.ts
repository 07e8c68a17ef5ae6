import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CipherSuiteId } from "@conclave/mls";
import BetterSqlite3 from "better-sqlite3";
import { createPostgresStore, createSqliteStore, StoreMisuseError, type ClientId, type NewClient, type Store } from "../src/storage/index.js";
import { dropSchema, ENGINES, freshSchemaName, PG_URL, POSTGRES_AVAILABLE, type TestStore } from "./support/engines.js";

const key = (n: number, len = 32): Uint8Array => new Uint8Array(len).fill(n);

function client(user: string, device: string, k: number): NewClient {
  return { user, device, cipherSuite: 1 as CipherSuiteId, signatureKey: key(k), createdAt: 1000 };
}

function isPlainBytes(b: unknown): boolean {
  return b instanceof Uint8Array && b.constructor === Uint8Array;
}

describe.each(ENGINES)("Store [$name]", (engine) => {
  let t: TestStore;
  let store: Store;

  beforeEach(async () => {
    if (!engine.available) return;
    t = await engine.open();
    store = t.store;
  });
  afterEach(async () => {
    await t?.dispose();
  });

  describe.skipIf(!engine.available)("repositories", () => {
    it("creates accounts once and reads them back as plain bytes and numbers", async () => {
      expect(await store.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1234 })).toBe(true);
      expect(await store.accounts.create({ user: "alice", secretHash: key(2), createdAt: 5678 })).toBe(false);
      const a = await store.accounts.get("alice");
      expect(a).toEqual({ user: "alice", secretHash: key(1), createdAt: 1234 });
      expect(isPlainBytes(a!.secretHash)).toBe(true);
      expect(await store.accounts.get("bob")).toBeUndefined();
    });

    it("enforces unique (user, device) and unique signature keys for clients", async () => {
      await store.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      const r = await store.clients.create(client("alice", "phone", 7));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.client).toMatchObject({ user: "alice", device: "phone", cipherSuite: 1, createdAt: 1000, revokedAt: null });
      expect(typeof r.client.id).toBe("number");
      expect(await store.clients.create(client("alice", "phone", 8))).toEqual({ ok: false, conflict: "device" });
      expect(await store.clients.create(client("alice", "laptop", 7))).toEqual({ ok: false, conflict: "signature_key" });
      const laptop = await store.clients.create(client("alice", "laptop", 9));
      expect(laptop.ok).toBe(true);
      expect((await store.clients.listByUser("alice")).map((c) => c.device)).toEqual(["phone", "laptop"]);
      expect(await store.clients.getByName("alice", "phone")).toEqual(r.client);
      expect(await store.clients.get(r.client.id)).toEqual(r.client);
      expect(await store.clients.revoke(r.client.id, 50)).toBe(true);
      expect(await store.clients.revoke(r.client.id, 60)).toBe(false);
      expect((await store.clients.get(r.client.id))!.revokedAt).toBe(50);
    });

    it("refuses a client of an unknown account (foreign key)", async () => {
      await expect(store.clients.create(client("nobody", "phone", 1))).rejects.toThrow();
      expect(await store.clients.listByUser("nobody")).toEqual([]);
    });

    it("hands out a challenge exactly once and never after it expired", async () => {
      await store.auth.putChallenge(key(1), 0, 100);
      await store.auth.putChallenge(key(2), 0, 100);
      expect(await store.auth.takeChallenge(key(1), 99)).toBe(true);
      expect(await store.auth.takeChallenge(key(1), 99)).toBe(false);
      expect(await store.auth.takeChallenge(key(2), 100)).toBe(false);
      expect(await store.auth.takeChallenge(key(3), 0)).toBe(false);
    });

    it("stores, finds, deletes and purges tokens", async () => {
      await store.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      const c = await store.clients.create(client("alice", "phone", 7));
      if (!c.ok) throw new Error("setup");
      const id = c.client.id;
      await store.auth.putToken({ tokenHash: key(10), clientId: id, createdAt: 0, expiresAt: 100 });
      await store.auth.putToken({ tokenHash: key(11), clientId: id, createdAt: 0, expiresAt: 200 });
      await store.auth.putToken({ tokenHash: key(12), clientId: id, createdAt: 0, expiresAt: 300 });
      await store.auth.putChallenge(key(20), 0, 100);
      expect(await store.auth.getToken(key(10))).toEqual({ tokenHash: key(10), clientId: id, createdAt: 0, expiresAt: 100 });
      await store.auth.deleteToken(key(12));
      expect(await store.auth.getToken(key(12))).toBeUndefined();
      expect(await store.auth.purgeExpired(150)).toBe(2); // token 10 and the challenge
      expect(await store.auth.getToken(key(10))).toBeUndefined();
      expect(await store.auth.deleteClientTokens(id)).toBe(1);
    });

    it("records credentials and revocations", async () => {
      await store.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      const c = await store.clients.create(client("alice", "phone", 7));
      if (!c.ok) throw new Error("setup");
      const base = {
        clientId: c.client.id,
        credentialType: 1 as const,
        credential: key(5, 10),
        x509Serial: null,
        notBefore: 0,
        notAfter: 100,
      };
      const first = await store.credentials.insert({ ...base, credentialHash: key(30), issuedAt: 10, logIndex: 0 });
      const again = await store.credentials.insert({ ...base, credentialHash: key(30), issuedAt: 20, logIndex: 1, notAfter: 200 });
      const cert = await store.credentials.insert({ ...base, credentialType: 2, credentialHash: key(31), x509Serial: "0a0b", issuedAt: 30, logIndex: 2 });
      expect(first.id).not.toBe(again.id);
      expect((await store.credentials.listByHash(key(30))).map((r) => r.issuedAt)).toEqual([20, 10]);
      expect(await store.credentials.getBySerial("0a0b")).toEqual(cert);
      expect(await store.credentials.getBySerial("ffff")).toBeUndefined();
      expect((await store.credentials.listByClient(c.client.id)).length).toBe(3);
      expect((await store.credentials.listByUser("alice")).map((r) => r.logIndex)).toEqual([0, 1, 2]);
      expect(await store.credentials.listByUser("bob")).toEqual([]);
      // the log index is unique: one leaf, one credential
      await expect(store.credentials.insert({ ...base, credentialHash: key(32), issuedAt: 40, logIndex: 2 })).rejects.toThrow();
      // the serial is unique
      await expect(store.credentials.insert({ ...base, credentialHash: key(33), x509Serial: "0a0b", issuedAt: 40, logIndex: 3 })).rejects.toThrow();

      expect(await store.credentials.revoke({ credentialHash: key(30), revokedAt: 50, reason: "lost", revokedBy: c.client.id })).toBe(true);
      expect(await store.credentials.revoke({ credentialHash: key(30), revokedAt: 60, reason: "again", revokedBy: null })).toBe(false);
      expect(await store.credentials.getRevocation(key(30))).toEqual({ credentialHash: key(30), revokedAt: 50, reason: "lost", revokedBy: c.client.id });
      expect(await store.credentials.getRevocation(key(31))).toBeUndefined();
    });

    it("keeps the transparency log's leaves, nodes and tree heads", async () => {
      expect(await store.transparency.size()).toBe(0);
      await store.transparency.putLeaf({ index: 0, leaf: key(1, 5), appendedAt: 9 });
      await store.transparency.putLeaf({ index: 1, leaf: key(2, 5), appendedAt: 9 });
      await store.transparency.setSize(2);
      expect(await store.transparency.size()).toBe(2);
      expect(await store.transparency.getLeaves(0, 10)).toEqual([
        { index: 0, leaf: key(1, 5), appendedAt: 9 },
        { index: 1, leaf: key(2, 5), appendedAt: 9 },
      ]);
      expect(await store.transparency.getLeaves(1, 2)).toEqual([{ index: 1, leaf: key(2, 5), appendedAt: 9 }]);
      const nodes = Array.from({ length: 250 }, (_, i) => ({ level: i % 3, index: i, hash: key(i % 256) }));
      await store.transparency.putNodes(nodes);
      await store.transparency.putNodes([{ level: 0, index: 0, hash: key(99) }]); // idempotent: first write stands
      const got = await store.transparency.getNodes([...nodes.map((n) => ({ level: n.level, index: n.index })), { level: 9, index: 9 }]);
      expect(got.sort((a, b) => a.index - b.index)).toEqual(nodes);
      // large indices survive both engines' integer handling
      await store.transparency.putNodes([{ level: 0, index: 2 ** 40 + 3, hash: key(7) }]);
      expect(await store.transparency.getNodes([{ level: 0, index: 2 ** 40 + 3 }])).toEqual([{ level: 0, index: 2 ** 40 + 3, hash: key(7) }]);

      expect(await store.transparency.getTreeHead()).toBeUndefined();
      await store.transparency.putTreeHead({ treeSize: 0, timestamp: 1, rootHash: key(3), signature: key(4, 64) });
      await store.transparency.putTreeHead({ treeSize: 2, timestamp: 2, rootHash: key(5), signature: key(6, 64) });
      expect((await store.transparency.getTreeHead())!.treeSize).toBe(2);
      expect(await store.transparency.getTreeHead(0)).toEqual({ treeSize: 0, timestamp: 1, rootHash: key(3), signature: key(4, 64) });
      expect(await store.transparency.getTreeHead(1)).toBeUndefined();
    });

    it("keeps the first server key written under a name", async () => {
      const k = { name: "ca", algorithm: "ECDSA-P256", privateKey: key(1), publicKey: key(2), certificate: key(3, 100), createdAt: 5 };
      expect(await store.keys.putIfAbsent(k)).toEqual(k);
      expect(await store.keys.putIfAbsent({ ...k, privateKey: key(9) })).toEqual(k);
      expect(await store.keys.get("ca")).toEqual(k);
      expect(await store.keys.get("log")).toBeUndefined();
    });
  });

  describe.skipIf(!engine.available)("transactions", () => {
    it("commits on success and rolls back every write on failure", async () => {
      await store.transaction(async (tx) => {
        await tx.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.accounts.create({ user: "bob", secretHash: key(2), createdAt: 1 });
          await tx.clients.create(client("bob", "phone", 3));
          await tx.transparency.setSize(42);
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await store.accounts.get("alice")).toBeDefined();
      expect(await store.accounts.get("bob")).toBeUndefined();
      expect(await store.clients.listByUser("bob")).toEqual([]);
      expect(await store.transparency.size()).toBe(0);
    });

    it("rolls back when a constraint fails half-way", async () => {
      await store.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      await expect(
        store.transaction(async (tx) => {
          await tx.accounts.create({ user: "carol", secretHash: key(2), createdAt: 1 });
          await tx.clients.create(client("nobody", "x", 4)); // foreign key violation
        }),
      ).rejects.toThrow();
      expect(await store.accounts.get("carol")).toBeUndefined();
    });

    it("nests through tx.transaction and refuses the outer store inside a transaction", async () => {
      await store.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          await inner.accounts.create({ user: "dave", secretHash: key(1), createdAt: 1 });
        });
        expect(await tx.accounts.get("dave")).toBeDefined();
        await expect(store.accounts.get("dave")).rejects.toBeInstanceOf(StoreMisuseError);
        await expect(store.transaction(async () => 1)).rejects.toBeInstanceOf(StoreMisuseError);
      });
      expect(await store.accounts.get("dave")).toBeDefined();
    });

    it("serialises concurrent appends to the log (no lost update)", async () => {
      const n = 12;
      await Promise.all(
        Array.from({ length: n }, () =>
          store.transaction(async (tx) => {
            const size = await tx.transparency.lockForAppend();
            await new Promise((r) => setTimeout(r, 2));
            await tx.transparency.putLeaf({ index: size, leaf: key(size, 4), appendedAt: 0 });
            await tx.transparency.setSize(size + 1);
          }),
        ),
      );
      expect(await store.transparency.size()).toBe(n);
      expect((await store.transparency.getLeaves(0, n)).map((l) => l.index)).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
});

describe("SQLite file engine", () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-sqlite-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("uses WAL, survives reopening, and migrating again is a no-op", async () => {
    const path = join(dir, "db.sqlite");
    const a = await createSqliteStore({ path });
    await a.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
    await a.close();
    const b = await createSqliteStore({ path });
    expect(await b.accounts.get("alice")).toBeDefined();
    await b.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
      const applied = raw.prepare("select name from conclave_migrations order by name").all() as { name: string }[];
      expect(applied.map((r) => r.name)).toEqual([
        "0001_as_foundation",
        "0002_delivery_service",
        "0003_store_once_delivery",
        "0004_account_security",
        "0005_public_group_state",
        "0006_retire_account_secrets",
        "0007_opaque_groups",
      ]);
    } finally {
      raw.close();
    }
  });

  it("waits for another process's write lock (busy timeout) instead of failing or losing its update", async () => {
    const path = join(dir, "shared.sqlite");
    const store = await createSqliteStore({ path });
    // Another process takes the write lock, holds it for 300 ms, then increments the log size.
    const script = `
      const D = require("better-sqlite3");
      const db = new D(process.argv[1]);
      db.exec("begin immediate");
      process.stdout.write("locked\\n");
      const until = Date.now() + 300; while (Date.now() < until) {}
      db.exec("update log_state set tree_size = tree_size + 1 where id = 1");
      db.exec("commit");
    `;
    const child = spawn(process.execPath, ["-e", script, path], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    try {
      await store.transaction(async (tx) => {
        const size = await tx.transparency.lockForAppend();
        await tx.transparency.setSize(size + 1);
      });
      expect(await exited).toBe(0);
      expect(await store.transparency.size()).toBe(2);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!POSTGRES_AVAILABLE)("PostgreSQL engine", () => {
  it("isolates schemas and migrates an existing schema idempotently", async () => {
    const schema = freshSchemaName();
    const other = freshSchemaName();
    const a = await createPostgresStore({ connectionString: PG_URL, schema });
    const c = await createPostgresStore({ connectionString: PG_URL, schema: other });
    try {
      await a.accounts.create({ user: "alice", secretHash: key(1), createdAt: 1 });
      const b = await createPostgresStore({ connectionString: PG_URL, schema }); // migrations again: no-op
      expect(await b.accounts.get("alice")).toBeDefined();
      await b.close();
      expect(await c.accounts.get("alice")).toBeUndefined();
    } finally {
      await a.close();
      await c.close();
      await dropSchema(schema);
      await dropSchema(other);
    }
  });

  it("rejects unsafe schema names and reports an unreachable server", async () => {
    await expect(createPostgresStore({ connectionString: PG_URL, schema: 'x"; drop table y; --' })).rejects.toThrow(/schema/);
    await expect(createPostgresStore({ connectionString: "postgres://postgres@127.0.0.1:1/test", connectTimeoutMs: 500 })).rejects.toThrow();
  });
});

// Keep the ClientId brand honest: numbers from the store are usable as ids.
const _typecheck: ClientId | undefined = undefined;
void _typecheck;
