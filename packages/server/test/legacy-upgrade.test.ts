/**
 * In-place upgrade of a database from before the account-security changes
 * (issue 23): old-shape rows (an account with an account secret and no
 * recovery code, devices without auth keys, an old bearer token) are written
 * through migrations 0001-0003 only, then the real server opens the database
 * (running every later migration) and the old devices keep working.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect, type Migration } from "kysely";
import { AuthPurpose, toBase64Url, x25519GenerateKeyPair, type ClientInfo, type TokenResponse, type UpgradeClientResponse, type X25519KeyPair } from "@conclave/api";
import type { CipherSuiteId, KeyPair } from "@conclave/mls";
import { sha256 } from "../src/crypto.js";
import { createPostgresStore, createSqliteStore, type StorageEngine, type Store } from "../src/storage/index.js";
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrations } from "../src/storage/migrations.js";
import { dropSchema, ENGINES, freshSchemaName, PG_URL, type TestEngine } from "./support/engines.js";
import { answer, challenge, crypto, errorCode, login, registerDevice, registration, signChallenge, startServer, TestClock, type Device, type RunningServer } from "./support/server.js";

const NOW = new TestClock().now;
const DAY = 24 * 3600_000;
const OLD_TOKEN = new Uint8Array(32).fill(7);

interface OldDevice {
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly keys: KeyPair;
}

/** A database as a deployment from before issue 23 left it, and a way to read it raw after the upgrade. */
interface OldDatabase {
  readonly engine: TestEngine;
  readonly devices: { phone: OldDevice; laptop: OldDevice; gone: OldDevice };
  select(query: string): Promise<Record<string, unknown>[]>;
}

/** Migrations 0001-0003 only: the schema before the account-security migration. */
async function migrateOld(db: Kysely<unknown>, engine: StorageEngine, schema?: string): Promise<void> {
  const all = migrations(engine);
  const old: Record<string, Migration> = {};
  for (const name of ["0001_as_foundation", "0002_delivery_service", "0003_store_once_delivery"]) old[name] = all[name]!;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => old },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}

/** The old rows: olga's account (secret, no recovery code), three devices (one revoked), a token; ghost's device-less account. */
async function writeOldRows(db: Kysely<unknown>): Promise<OldDatabase["devices"]> {
  const dev = async (device: string): Promise<OldDevice> => ({ user: "olga", device, cipherSuite: 1, keys: await crypto.suite(1).signatureGenerateKeyPair() });
  const devices = { phone: await dev("phone"), laptop: await dev("laptop"), gone: await dev("gone") };
  const created = NOW - 30 * DAY;
  for (const user of ["olga", "ghost"]) {
    await sql`insert into accounts (user_name, secret_hash, created_at) values (${user}, ${Buffer.from(sha256(new TextEncoder().encode(`secret of ${user}`)))}, ${created})`.execute(db);
  }
  for (const d of Object.values(devices)) {
    const revoked = d.device === "gone" ? created + DAY : null;
    await sql`insert into clients (user_name, device_id, cipher_suite, signature_key, created_at, revoked_at)
      values (${d.user}, ${d.device}, ${d.cipherSuite}, ${Buffer.from(d.keys.publicKey)}, ${created}, ${revoked})`.execute(db);
  }
  const { rows } = await sql<{ id: number }>`select id from clients where device_id = 'phone'`.execute(db);
  await sql`insert into auth_tokens (token_hash, client_id, created_at, expires_at) values (${Buffer.from(sha256(OLD_TOKEN))}, ${rows[0]!.id}, ${created}, ${NOW + DAY})`.execute(db);
  return devices;
}

async function oldSqlite(dir: string): Promise<OldDatabase> {
  const path = join(dir, `old-${Math.random().toString(36).slice(2)}.sqlite`);
  const raw = new BetterSqlite3(path);
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
  await migrateOld(db, "sqlite");
  const devices = await writeOldRows(db);
  await db.destroy();
  let store: Store | undefined;
  return {
    devices,
    engine: {
      name: "sqlite",
      available: true,
      async open() {
        store = await createSqliteStore({ path });
        return { store, dispose: () => store!.close() };
      },
    },
    async select(query) {
      const r = new BetterSqlite3(path, { readonly: true });
      try {
        return r.prepare(query).all() as Record<string, unknown>[];
      } finally {
        r.close();
      }
    },
  };
}

async function oldPostgres(): Promise<OldDatabase> {
  const schema = freshSchemaName();
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2, options: `-c search_path=${schema}` });
  await pool.query(`create schema "${schema}"`);
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  await migrateOld(db, "postgres", schema);
  const devices = await writeOldRows(db);
  await db.destroy();
  return {
    devices,
    engine: {
      name: "postgres",
      available: true,
      async open() {
        const store = await createPostgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
        return {
          store,
          async dispose() {
            await store.close();
            await dropSchema(schema);
          },
        };
      },
    },
    async select(query) {
      const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
      await c.connect();
      try {
        return (await c.query(query)).rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
  };
}

/** The body of POST /v1/clients/upgrade binding `authKey` to `d`, signed by `signer` (default: d's own key) for `purpose`. */
async function upgradeBody(s: RunningServer, d: OldDevice, authKey: X25519KeyPair, tweak: { signer?: KeyPair; purpose?: AuthPurpose; macPurpose?: AuthPurpose } = {}) {
  const c = await challenge(s);
  const who = { ...d, authKey };
  return {
    user: d.user,
    device: d.device,
    authKey: toBase64Url(authKey.publicKey),
    ...(await answer(c, tweak.macPurpose ?? AuthPurpose.upgrade, who)),
    signature: await signChallenge(c.nonce, tweak.purpose ?? AuthPurpose.upgrade, { ...who, keys: tweak.signer ?? d.keys }),
  };
}

const upgrade = (s: RunningServer, body: unknown) => s.request<UpgradeClientResponse>("POST", "/v1/clients/upgrade", { json: body });

describe.each(ENGINES)("in-place upgrade of accounts and devices from before issue 23 [$name]", (engine) => {
  let dir: string;
  let old: OldDatabase;
  let s: RunningServer;
  beforeAll(async () => {
    if (!engine.available) return;
    dir = mkdtempSync(join(tmpdir(), "conclave-legacy-"));
    old = engine.name === "sqlite" ? await oldSqlite(dir) : await oldPostgres();
    s = await startServer(old.engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
  });
  afterAll(async () => {
    await s?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  describe.skipIf(!engine.available)("", () => {
    it("migrates the old rows in place: secrets zeroed, old tokens and devices still there", async () => {
      const applied = await old.select(`select name from ${MIGRATION_TABLE} order by name`);
      expect(applied.map((r) => r.name)).toContain("0006_retire_account_secrets");
      const secrets = await old.select("select user_name, secret_hash from accounts order by user_name");
      expect(secrets.map((r) => [r.user_name, Buffer.from(r.secret_hash as Uint8Array).equals(Buffer.alloc(32))])).toEqual([
        ["ghost", true],
        ["olga", true],
      ]);
      // The old device's unexpired bearer token keeps working.
      const self = await s.request<ClientInfo>("GET", "/v1/clients/self", { token: toBase64Url(OLD_TOKEN) });
      expect([self.status, self.body.identity]).toEqual([200, "olga@example.com#phone"]);
      const list = await s.request<{ clients: ClientInfo[] }>("GET", "/v1/users/olga/clients", { token: toBase64Url(OLD_TOKEN) });
      expect(list.body.clients.map((c) => [c.device, c.revokedAt !== null])).toEqual([
        ["phone", false],
        ["laptop", false],
        ["gone", true],
      ]);
    });

    it("refuses upgrades that are forged, replayed, of another purpose, for unknown or revoked devices", async () => {
      const { phone, gone } = old.devices;
      const key = await x25519GenerateKeyPair();
      const stranger = await crypto.suite(1).signatureGenerateKeyPair();
      // Signed by a key that is not the device's: the holder of the old login key only may upgrade.
      const forged = await upgradeBody(s, phone, key, { signer: stranger });
      expect(errorCode(await upgrade(s, forged))).toBe("AUTH_SIGNATURE_INVALID");
      expect(errorCode(await upgrade(s, forged))).toBe("AUTH_CHALLENGE_INVALID"); // the nonce was spent
      // Domain separation: a registration signature, or a login MAC, is not an upgrade.
      expect(errorCode(await upgrade(s, await upgradeBody(s, phone, key, { purpose: AuthPurpose.register })))).toBe("AUTH_SIGNATURE_INVALID");
      expect(errorCode(await upgrade(s, await upgradeBody(s, phone, key, { macPurpose: AuthPurpose.login })))).toBe("AUTH_MAC_INVALID");
      expect(errorCode(await upgrade(s, await upgradeBody(s, { ...phone, device: "nobody" }, key)))).toBe("CLIENT_NOT_FOUND");
      expect(errorCode(await upgrade(s, await upgradeBody(s, gone, key)))).toBe("CLIENT_REVOKED");
      // Nothing was bound: the handshake login still finds no auth key.
      const r = await login(s, { ...phone, authKey: key, token: "" });
      expect([r.status, errorCode(r)]).toEqual([404, "CLIENT_NOT_FOUND"]);
      expect((r.body as unknown as { error: { message: string } }).error.message).toContain("/v1/clients/upgrade");
    });

    it("old devices bind an auth key once; the account gets a recovery code, which works; devices approve and revoke as usual", async () => {
      const { phone, laptop } = old.devices;
      const phoneKey = await x25519GenerateKeyPair();
      const first = await upgrade(s, await upgradeBody(s, phone, phoneKey));
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(first.body.client.identity).toBe("olga@example.com#phone");
      const recoveryCode = first.body.recoveryCode!;
      expect(recoveryCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){7}$/);
      // Once: a second upgrade (even by the same device with another key) is refused; the login works.
      expect(errorCode(await upgrade(s, await upgradeBody(s, phone, await x25519GenerateKeyPair())))).toBe("AUTH_KEY_BOUND");
      const phoneDev: Device = { ...phone, authKey: phoneKey, token: first.body.token };
      expect((await login(s, phoneDev)).status).toBe(201);
      // The second device upgrades too, without a new recovery code (the account has one now).
      const laptopKey = await x25519GenerateKeyPair();
      const second = await upgrade(s, await upgradeBody(s, laptop, laptopKey));
      expect([second.status, second.body.recoveryCode]).toEqual([201, undefined]);
      expect((await login(s, { ...laptop, authKey: laptopKey, token: "" })).status).toBe(201);

      // The old account secret adds nothing (the old request shape), the recovery code does.
      const withSecret = await s.request("POST", "/v1/clients", {
        json: { ...(await registration(s, "olga", "tablet", { kind: "recovery", recoveryCode })).body, authorization: undefined, accountSecret: "secret of olga" },
      });
      expect(withSecret.status).toBe(400);
      const tablet = await registerDevice(s, "olga", "tablet", 1, recoveryCode);
      expect((await login(s, tablet)).status).toBe(201);
      // An upgraded device revokes another; the change is logged and listed.
      const revoked = await s.request<{ client: ClientInfo }>("POST", "/v1/users/olga/clients/tablet/revoke", { token: first.body.token });
      expect(revoked.status).toBe(200);
      const changes = await s.request<{ changes: { kind: string; device: string; by: string }[] }>("GET", "/v1/users/olga/device-changes", { token: first.body.token });
      expect(changes.body.changes.map((c) => [c.kind, c.device, c.by])).toEqual([
        ["added", "tablet", "recovery"],
        ["revoked", "tablet", "device:phone"],
      ]);
      expect((await s.request<TokenResponse>("GET", "/v1/clients/self", { token: second.body.token })).status).toBe(200);
    });

    it("an old account on which no device was registered expires like any unused one", async () => {
      expect(await s.app.conclave.as.sweeper.sweep()).toEqual(["ghost"]);
      expect((await old.select("select user_name from accounts order by user_name")).map((r) => r.user_name)).toEqual(["olga"]);
    });
  });
});
