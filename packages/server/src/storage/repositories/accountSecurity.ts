/**
 * What keeps accounts from being taken over (issue 23): the devices' X25519
 * authentication keys, recovery-code hashes, admin invites, device approvals
 * and the per-account list of device changes; plus the sweep of accounts on
 * which no device ever registered. Tables: migration "account_security".
 */
import { bytes, int, type Handle } from "../handle.js";
import type { ClientId } from "../store.js";

/** The tables of this repository, merged into the schema's Database (TS declaration merging). */
declare module "../schema.js" {
  interface Database {
    client_auth_keys: ClientAuthKeysTable;
    account_recovery: AccountRecoveryTable;
    invites: InvitesTable;
    device_approvals: DeviceApprovalsTable;
    device_events: DeviceEventsTable;
  }
}

export interface ClientAuthKeysTable {
  client_id: number;
  auth_key: Uint8Array;
}

export interface AccountRecoveryTable {
  user_name: string;
  /** scrypt parameters, salt and hash (recoveryCode.ts). */
  code_hash: string;
  updated_at: number;
}

export interface InvitesTable {
  token_hash: Uint8Array;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

export interface DeviceApprovalsTable {
  id: import("kysely").Generated<number>;
  user_name: string;
  device_id: string;
  cipher_suite: number;
  signature_key: Uint8Array;
  auth_key: Uint8Array;
  approver_client_id: number;
  signature: Uint8Array;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface DeviceEventsTable {
  id: import("kysely").Generated<number>;
  user_name: string;
  device_id: string;
  /** "added" | "revoked" */
  kind: string;
  signature_key: Uint8Array;
  /** "device:<id>" or "recovery" */
  actor: string;
  log_index: number;
  created_at: number;
}

export interface NewDeviceApproval {
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: number;
  readonly signatureKey: Uint8Array;
  readonly authKey: Uint8Array;
  readonly approverClientId: ClientId;
  readonly signature: Uint8Array;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface DeviceEventRecord {
  readonly seq: number;
  readonly user: string;
  readonly device: string;
  readonly kind: "added" | "revoked";
  readonly signatureKey: Uint8Array;
  readonly actor: string;
  readonly logIndex: number;
  readonly createdAt: number;
}

export interface AccountSecurityRepository {
  putAuthKey(clientId: ClientId, authKey: Uint8Array): Promise<void>;
  getAuthKey(clientId: ClientId): Promise<Uint8Array | undefined>;
  /** Sets (or replaces) the account's recovery-code hash. */
  putRecoveryHash(user: string, codeHash: string, at: number): Promise<void>;
  getRecoveryHash(user: string): Promise<string | undefined>;
  putInvite(tokenHash: Uint8Array, createdAt: number, expiresAt: number): Promise<void>;
  /** Marks the invite used by `user`; true only if it existed, was unused and unexpired at `now`. */
  takeInvite(tokenHash: Uint8Array, now: number, user: string): Promise<boolean>;
  putApproval(a: NewDeviceApproval): Promise<void>;
  /**
   * Marks the matching unexpired approval used and drops its signature (kept
   * no longer than needed: the transparency log keeps its hash); returns the
   * approver and the signature, or undefined when there is none.
   */
  takeApproval(
    user: string,
    device: string,
    signatureKey: Uint8Array,
    authKey: Uint8Array,
    now: number,
  ): Promise<{ readonly approver: ClientId; readonly signature: Uint8Array } | undefined>;
  addDeviceEvent(e: Omit<DeviceEventRecord, "seq">): Promise<number>;
  listDeviceEvents(user: string, after: number, limit: number): Promise<DeviceEventRecord[]>;
  /** Deletes accounts created before `createdBefore` that never got a client; returns their names. */
  deleteUnusedAccounts(createdBefore: number, limit: number): Promise<string[]>;
  /** Removes expired invites and approvals. */
  purgeExpired(now: number): Promise<number>;
}

export class AccountSecurity implements AccountSecurityRepository {
  constructor(private readonly h: Handle) {}

  async putAuthKey(clientId: ClientId, authKey: Uint8Array): Promise<void> {
    await this.h.db().insertInto("client_auth_keys").values({ client_id: clientId, auth_key: authKey }).execute();
  }

  async getAuthKey(clientId: ClientId): Promise<Uint8Array | undefined> {
    const r = await this.h.db().selectFrom("client_auth_keys").select("auth_key").where("client_id", "=", clientId).executeTakeFirst();
    return r && bytes(r.auth_key);
  }

  async putRecoveryHash(user: string, codeHash: string, at: number): Promise<void> {
    await this.h
      .db()
      .insertInto("account_recovery")
      .values({ user_name: user, code_hash: codeHash, updated_at: at })
      .onConflict((oc) => oc.column("user_name").doUpdateSet({ code_hash: codeHash, updated_at: at }))
      .execute();
  }

  async getRecoveryHash(user: string): Promise<string | undefined> {
    const r = await this.h.db().selectFrom("account_recovery").select("code_hash").where("user_name", "=", user).executeTakeFirst();
    return r?.code_hash;
  }

  async putInvite(tokenHash: Uint8Array, createdAt: number, expiresAt: number): Promise<void> {
    await this.h.db().insertInto("invites").values({ token_hash: tokenHash, created_at: createdAt, expires_at: expiresAt, used_at: null, used_by: null }).execute();
  }

  async takeInvite(tokenHash: Uint8Array, now: number, user: string): Promise<boolean> {
    const r = await this.h
      .db()
      .updateTable("invites")
      .set({ used_at: now, used_by: user })
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async putApproval(a: NewDeviceApproval): Promise<void> {
    await this.h
      .db()
      .insertInto("device_approvals")
      .values({
        user_name: a.user,
        device_id: a.device,
        cipher_suite: a.cipherSuite,
        signature_key: a.signatureKey,
        auth_key: a.authKey,
        approver_client_id: a.approverClientId,
        signature: a.signature,
        created_at: a.createdAt,
        expires_at: a.expiresAt,
        used_at: null,
      })
      .execute();
  }

  async takeApproval(user: string, device: string, signatureKey: Uint8Array, authKey: Uint8Array, now: number): Promise<{ approver: ClientId; signature: Uint8Array } | undefined> {
    const db = this.h.db();
    const found = await db
      .selectFrom("device_approvals")
      .select(["id", "approver_client_id", "signature"])
      .where("user_name", "=", user)
      .where("device_id", "=", device)
      .where("signature_key", "=", signatureKey)
      .where("auth_key", "=", authKey)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .orderBy("id", "desc")
      .executeTakeFirst();
    if (found === undefined) return undefined;
    // Compare-and-set: of two registrations racing for one approval, one wins.
    const r = await db
      .updateTable("device_approvals")
      .set({ used_at: now, signature: new Uint8Array(0) })
      .where("id", "=", found.id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? { approver: int(found.approver_client_id) as ClientId, signature: bytes(found.signature) } : undefined;
  }

  async addDeviceEvent(e: Omit<DeviceEventRecord, "seq">): Promise<number> {
    const r = await this.h
      .db()
      .insertInto("device_events")
      .values({ user_name: e.user, device_id: e.device, kind: e.kind, signature_key: e.signatureKey, actor: e.actor, log_index: e.logIndex, created_at: e.createdAt })
      .returning("id")
      .executeTakeFirstOrThrow();
    return int(r.id);
  }

  async listDeviceEvents(user: string, after: number, limit: number): Promise<DeviceEventRecord[]> {
    const rows = await this.h.db().selectFrom("device_events").selectAll().where("user_name", "=", user).where("id", ">", after).orderBy("id").limit(limit).execute();
    return rows.map((r) => ({
      seq: int(r.id),
      user: r.user_name,
      device: r.device_id,
      kind: r.kind === "revoked" ? "revoked" : "added",
      signatureKey: bytes(r.signature_key),
      actor: r.actor,
      logIndex: int(r.log_index),
      createdAt: int(r.created_at),
    }));
  }

  async deleteUnusedAccounts(createdBefore: number, limit: number): Promise<string[]> {
    const db = this.h.db();
    const rows = await db
      .selectFrom("accounts")
      .select("user_name")
      .where("created_at", "<", createdBefore)
      .where((eb) => eb.not(eb.exists(eb.selectFrom("clients").select("id").whereRef("clients.user_name", "=", "accounts.user_name"))))
      .orderBy("created_at")
      .limit(limit)
      .execute();
    const names = rows.map((r) => r.user_name);
    if (names.length === 0) return [];
    // A client may have registered since the select: the NOT EXISTS again keeps that account.
    const gone = (
      await db
        .deleteFrom("accounts")
        .where("user_name", "in", names)
        .where((eb) => eb.not(eb.exists(eb.selectFrom("clients").select("id").whereRef("clients.user_name", "=", "accounts.user_name"))))
        .returning("user_name")
        .execute()
    ).map((r) => r.user_name);
    if (gone.length === 0) return [];
    await db.deleteFrom("account_recovery").where("user_name", "in", gone).execute();
    await db.deleteFrom("device_approvals").where("user_name", "in", gone).execute();
    await db.deleteFrom("device_events").where("user_name", "in", gone).execute();
    return gone;
  }

  async purgeExpired(now: number): Promise<number> {
    const a = await this.h.db().deleteFrom("invites").where("expires_at", "<=", now).where("used_at", "is", null).executeTakeFirst();
    const b = await this.h.db().deleteFrom("device_approvals").where("expires_at", "<=", now).executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows);
  }
}
