/**
 * The Store implementation shared by both engines: the repositories are
 * written once against Kysely; the engine modules (sqlite.ts, postgres.ts)
 * supply the dialect, the driver settings and the few engine-specific bits
 * (row locking for the transparency log).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Kysely, Transaction } from "kysely";
import type { CipherSuiteId } from "@conclave/mls";
import type { Database } from "./schema.js";
import type {
  AccountRecord,
  AccountRepository,
  AuthRepository,
  ClientId,
  ClientRecord,
  ClientRepository,
  CreateClientResult,
  CredentialRecord,
  CredentialRepository,
  IssuedCredentialType,
  LogLeafRecord,
  LogNode,
  NewClient,
  NewCredential,
  Repositories,
  RevocationRecord,
  ServerKeyRecord,
  ServerKeyRepository,
  StorageEngine,
  Store,
  StoreTx,
  TokenRecord,
  TransparencyRepository,
  TreeHeadRecord,
} from "./store.js";

type Db = Kysely<Database> | Transaction<Database>;

interface Handle {
  readonly engine: StorageEngine;
  db(): Db;
}

/** Drivers hand back Buffers (sometimes views into shared pools): give callers their own plain copy. */
function bytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** Integer columns: SQLite gives numbers, our PostgreSQL type parser too; be strict anyway. */
function int(v: unknown): number {
  const n = typeof v === "string" || typeof v === "bigint" ? Number(v) : (v as number);
  if (!Number.isSafeInteger(n)) throw new Error(`storage: integer column out of range: ${String(v)}`);
  return n;
}

function intOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : int(v);
}

const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

// ---------------------------------------------------------------------------

class Accounts implements AccountRepository {
  constructor(private readonly h: Handle) {}

  async create(a: AccountRecord): Promise<boolean> {
    const row = await this.h
      .db()
      .insertInto("accounts")
      .values({ user_name: a.user, secret_hash: a.secretHash, created_at: a.createdAt })
      .onConflict((oc) => oc.column("user_name").doNothing())
      .returning("user_name")
      .executeTakeFirst();
    return row !== undefined;
  }

  async get(user: string): Promise<AccountRecord | undefined> {
    const r = await this.h.db().selectFrom("accounts").selectAll().where("user_name", "=", user).executeTakeFirst();
    return r && { user: r.user_name, secretHash: bytes(r.secret_hash), createdAt: int(r.created_at) };
  }
}

interface ClientRow {
  id: number;
  user_name: string;
  device_id: string;
  cipher_suite: number;
  signature_key: Uint8Array;
  created_at: number;
  revoked_at: number | null;
}

function clientFromRow(r: ClientRow): ClientRecord {
  return {
    id: int(r.id) as ClientId,
    user: r.user_name,
    device: r.device_id,
    cipherSuite: int(r.cipher_suite) as CipherSuiteId,
    signatureKey: bytes(r.signature_key),
    createdAt: int(r.created_at),
    revokedAt: intOrNull(r.revoked_at),
  };
}

class Clients implements ClientRepository {
  constructor(private readonly h: Handle) {}

  async create(c: NewClient): Promise<CreateClientResult> {
    const row = await this.h
      .db()
      .insertInto("clients")
      .values({
        user_name: c.user,
        device_id: c.device,
        cipher_suite: c.cipherSuite,
        signature_key: c.signatureKey,
        created_at: c.createdAt,
        revoked_at: null,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row !== undefined) return { ok: true, client: clientFromRow(row) };
    const sameName = await this.getByName(c.user, c.device);
    return { ok: false, conflict: sameName !== undefined ? "device" : "signature_key" };
  }

  async get(id: ClientId): Promise<ClientRecord | undefined> {
    const r = await this.h.db().selectFrom("clients").selectAll().where("id", "=", id).executeTakeFirst();
    return r && clientFromRow(r);
  }

  async getByName(user: string, device: string): Promise<ClientRecord | undefined> {
    const r = await this.h
      .db()
      .selectFrom("clients")
      .selectAll()
      .where("user_name", "=", user)
      .where("device_id", "=", device)
      .executeTakeFirst();
    return r && clientFromRow(r);
  }

  async listByUser(user: string): Promise<ClientRecord[]> {
    const rows = await this.h.db().selectFrom("clients").selectAll().where("user_name", "=", user).orderBy("id").execute();
    return rows.map(clientFromRow);
  }

  async revoke(id: ClientId, at: number): Promise<boolean> {
    const r = await this.h
      .db()
      .updateTable("clients")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

class Auth implements AuthRepository {
  constructor(private readonly h: Handle) {}

  async putChallenge(nonce: Uint8Array, createdAt: number, expiresAt: number): Promise<void> {
    await this.h.db().insertInto("auth_challenges").values({ nonce, created_at: createdAt, expires_at: expiresAt }).execute();
  }

  async takeChallenge(nonce: Uint8Array, now: number): Promise<boolean> {
    const r = await this.h.db().deleteFrom("auth_challenges").where("nonce", "=", nonce).returning("expires_at").executeTakeFirst();
    return r !== undefined && int(r.expires_at) > now;
  }

  async putToken(t: TokenRecord): Promise<void> {
    await this.h
      .db()
      .insertInto("auth_tokens")
      .values({ token_hash: t.tokenHash, client_id: t.clientId, created_at: t.createdAt, expires_at: t.expiresAt })
      .execute();
  }

  async getToken(tokenHash: Uint8Array): Promise<TokenRecord | undefined> {
    const r = await this.h.db().selectFrom("auth_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    return (
      r && {
        tokenHash: bytes(r.token_hash),
        clientId: int(r.client_id) as ClientId,
        createdAt: int(r.created_at),
        expiresAt: int(r.expires_at),
      }
    );
  }

  async deleteToken(tokenHash: Uint8Array): Promise<void> {
    await this.h.db().deleteFrom("auth_tokens").where("token_hash", "=", tokenHash).execute();
  }

  async deleteClientTokens(clientId: ClientId): Promise<number> {
    const r = await this.h.db().deleteFrom("auth_tokens").where("client_id", "=", clientId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async purgeExpired(now: number): Promise<number> {
    const a = await this.h.db().deleteFrom("auth_challenges").where("expires_at", "<=", now).executeTakeFirst();
    const b = await this.h.db().deleteFrom("auth_tokens").where("expires_at", "<=", now).executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows);
  }
}

interface CredentialRow {
  id: number;
  credential_hash: Uint8Array;
  client_id: number;
  credential_type: number;
  credential: Uint8Array;
  x509_serial: string | null;
  not_before: number;
  not_after: number;
  issued_at: number;
  log_index: number;
}

function credentialFromRow(r: CredentialRow): CredentialRecord {
  return {
    id: int(r.id),
    credentialHash: bytes(r.credential_hash),
    clientId: int(r.client_id) as ClientId,
    credentialType: int(r.credential_type) as IssuedCredentialType,
    credential: bytes(r.credential),
    x509Serial: r.x509_serial,
    notBefore: int(r.not_before),
    notAfter: int(r.not_after),
    issuedAt: int(r.issued_at),
    logIndex: int(r.log_index),
  };
}

class Credentials implements CredentialRepository {
  constructor(private readonly h: Handle) {}

  async insert(c: NewCredential): Promise<CredentialRecord> {
    const row = await this.h
      .db()
      .insertInto("credentials")
      .values({
        credential_hash: c.credentialHash,
        client_id: c.clientId,
        credential_type: c.credentialType,
        credential: c.credential,
        x509_serial: c.x509Serial,
        not_before: c.notBefore,
        not_after: c.notAfter,
        issued_at: c.issuedAt,
        log_index: c.logIndex,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return credentialFromRow(row);
  }

  async listByHash(credentialHash: Uint8Array): Promise<CredentialRecord[]> {
    const rows = await this.h
      .db()
      .selectFrom("credentials")
      .selectAll()
      .where("credential_hash", "=", credentialHash)
      .orderBy("issued_at", "desc")
      .orderBy("id", "desc")
      .execute();
    return rows.map(credentialFromRow);
  }

  async getBySerial(serial: string): Promise<CredentialRecord | undefined> {
    const r = await this.h.db().selectFrom("credentials").selectAll().where("x509_serial", "=", serial).executeTakeFirst();
    return r && credentialFromRow(r);
  }

  async listByClient(clientId: ClientId): Promise<CredentialRecord[]> {
    const rows = await this.h.db().selectFrom("credentials").selectAll().where("client_id", "=", clientId).orderBy("id").execute();
    return rows.map(credentialFromRow);
  }

  async listByUser(user: string): Promise<CredentialRecord[]> {
    const rows = await this.h
      .db()
      .selectFrom("credentials")
      .innerJoin("clients", "clients.id", "credentials.client_id")
      .selectAll("credentials")
      .where("clients.user_name", "=", user)
      .orderBy("credentials.id")
      .execute();
    return rows.map(credentialFromRow);
  }

  async revoke(r: RevocationRecord): Promise<boolean> {
    const row = await this.h
      .db()
      .insertInto("revocations")
      .values({ credential_hash: r.credentialHash, revoked_at: r.revokedAt, reason: r.reason, revoked_by: r.revokedBy })
      .onConflict((oc) => oc.column("credential_hash").doNothing())
      .returning("credential_hash")
      .executeTakeFirst();
    return row !== undefined;
  }

  async getRevocation(credentialHash: Uint8Array): Promise<RevocationRecord | undefined> {
    const r = await this.h.db().selectFrom("revocations").selectAll().where("credential_hash", "=", credentialHash).executeTakeFirst();
    return (
      r && {
        credentialHash: bytes(r.credential_hash),
        revokedAt: int(r.revoked_at),
        reason: r.reason,
        revokedBy: intOrNull(r.revoked_by) as ClientId | null,
      }
    );
  }
}

class Transparency implements TransparencyRepository {
  constructor(private readonly h: Handle) {}

  async lockForAppend(): Promise<number> {
    let q = this.h.db().selectFrom("log_state").select("tree_size").where("id", "=", 1);
    // SQLite transactions start with BEGIN IMMEDIATE (sqlite.ts): the write lock is already held.
    if (this.h.engine === "postgres") q = q.forUpdate();
    const r = await q.executeTakeFirstOrThrow();
    return int(r.tree_size);
  }

  async size(): Promise<number> {
    const r = await this.h.db().selectFrom("log_state").select("tree_size").where("id", "=", 1).executeTakeFirstOrThrow();
    return int(r.tree_size);
  }

  async setSize(size: number): Promise<void> {
    await this.h.db().updateTable("log_state").set({ tree_size: size }).where("id", "=", 1).execute();
  }

  async putLeaf(leaf: LogLeafRecord): Promise<void> {
    await this.h.db().insertInto("log_leaves").values({ leaf_index: leaf.index, leaf: leaf.leaf, appended_at: leaf.appendedAt }).execute();
  }

  async getLeaves(start: number, end: number): Promise<LogLeafRecord[]> {
    const rows = await this.h
      .db()
      .selectFrom("log_leaves")
      .selectAll()
      .where("leaf_index", ">=", start)
      .where("leaf_index", "<", end)
      .orderBy("leaf_index")
      .execute();
    return rows.map((r) => ({ index: int(r.leaf_index), leaf: bytes(r.leaf), appendedAt: int(r.appended_at) }));
  }

  async putNodes(nodes: readonly LogNode[]): Promise<void> {
    for (const part of chunk(nodes, 200)) {
      await this.h
        .db()
        .insertInto("log_nodes")
        .values(part.map((n) => ({ level: n.level, node_index: n.index, hash: n.hash })))
        .onConflict((oc) => oc.columns(["level", "node_index"]).doNothing())
        .execute();
    }
  }

  async getNodes(keys: readonly { level: number; index: number }[]): Promise<LogNode[]> {
    const out: LogNode[] = [];
    for (const part of chunk(keys, 100)) {
      const rows = await this.h
        .db()
        .selectFrom("log_nodes")
        .selectAll()
        .where((eb) => eb.or(part.map((k) => eb.and([eb("level", "=", k.level), eb("node_index", "=", k.index)]))))
        .execute();
      for (const r of rows) out.push({ level: int(r.level), index: int(r.node_index), hash: bytes(r.hash) });
    }
    return out;
  }

  async putTreeHead(head: TreeHeadRecord): Promise<void> {
    await this.h
      .db()
      .insertInto("log_tree_heads")
      .values({ tree_size: head.treeSize, timestamp: head.timestamp, root_hash: head.rootHash, signature: head.signature })
      .onConflict((oc) => oc.column("tree_size").doNothing())
      .execute();
  }

  async getTreeHead(treeSize?: number): Promise<TreeHeadRecord | undefined> {
    let q = this.h.db().selectFrom("log_tree_heads").selectAll();
    q = treeSize === undefined ? q.orderBy("tree_size", "desc").limit(1) : q.where("tree_size", "=", treeSize);
    const r = await q.executeTakeFirst();
    return (
      r && {
        treeSize: int(r.tree_size),
        timestamp: int(r.timestamp),
        rootHash: bytes(r.root_hash),
        signature: bytes(r.signature),
      }
    );
  }
}

class ServerKeys implements ServerKeyRepository {
  constructor(private readonly h: Handle) {}

  async get(name: string): Promise<ServerKeyRecord | undefined> {
    const r = await this.h.db().selectFrom("server_keys").selectAll().where("name", "=", name).executeTakeFirst();
    return (
      r && {
        name: r.name,
        algorithm: r.algorithm,
        privateKey: bytes(r.private_key),
        publicKey: bytes(r.public_key),
        certificate: r.certificate === null ? null : bytes(r.certificate),
        createdAt: int(r.created_at),
      }
    );
  }

  async putIfAbsent(k: ServerKeyRecord): Promise<ServerKeyRecord> {
    await this.h
      .db()
      .insertInto("server_keys")
      .values({
        name: k.name,
        algorithm: k.algorithm,
        private_key: k.privateKey,
        public_key: k.publicKey,
        certificate: k.certificate,
        created_at: k.createdAt,
      })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    const stored = await this.get(k.name);
    if (stored === undefined) throw new Error(`storage: server key ${k.name} vanished`);
    return stored;
  }
}

// ---------------------------------------------------------------------------

function repositories(h: Handle): Repositories {
  return {
    accounts: new Accounts(h),
    clients: new Clients(h),
    auth: new Auth(h),
    credentials: new Credentials(h),
    transparency: new Transparency(h),
    keys: new ServerKeys(h),
  };
}

/** Marks the async context of a running transaction callback. */
const insideTransaction = new AsyncLocalStorage<true>();

export class StoreMisuseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreMisuseError";
  }
}

/** A Store over a Kysely instance; `onClose` releases the engine (pool, file). */
export class KyselyStore implements Store {
  readonly accounts: AccountRepository;
  readonly clients: ClientRepository;
  readonly auth: AuthRepository;
  readonly credentials: CredentialRepository;
  readonly transparency: TransparencyRepository;
  readonly keys: ServerKeyRepository;
  private closed = false;

  constructor(
    readonly engine: StorageEngine,
    private readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void>,
  ) {
    const root: Handle = {
      engine,
      db: () => {
        if (insideTransaction.getStore() === true) {
          throw new StoreMisuseError("store used inside one of its own transactions: use the `tx` passed to the callback");
        }
        return db;
      },
    };
    ({
      accounts: this.accounts,
      clients: this.clients,
      auth: this.auth,
      credentials: this.credentials,
      transparency: this.transparency,
      keys: this.keys,
    } = repositories(root));
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (insideTransaction.getStore() === true) {
      return Promise.reject(new StoreMisuseError("nested store.transaction: call tx.transaction inside a transaction"));
    }
    return this.db.transaction().execute((trx) => {
      const handle: Handle = { engine: this.engine, db: () => trx };
      const tx: StoreTx = { ...repositories(handle), transaction: (inner) => inner(tx) };
      return insideTransaction.run(true, () => fn(tx));
    });
  }

  async ping(): Promise<void> {
    await this.transparency.size();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
    await this.onClose();
  }
}
