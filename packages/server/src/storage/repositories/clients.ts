/** Clients (devices) with their signature keys. */
import type { CipherSuiteId } from "@conclave/mls";
import { bytes, int, intOrNull, type Handle } from "../handle.js";
import type { ClientId, ClientRecord, ClientRepository, CreateClientResult, NewClient } from "../store.js";

/** A clients row, as Kysely or a hand-written statement returns it (numbers may come as strings or bigints). */
export interface ClientRow {
  id: unknown;
  user_name: string;
  device_id: string;
  cipher_suite: unknown;
  signature_key: Uint8Array;
  created_at: unknown;
  revoked_at: unknown;
}

export function clientFromRow(r: ClientRow): ClientRecord {
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

export class Clients implements ClientRepository {
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

  async getBySignatureKey(signatureKey: Uint8Array): Promise<ClientRecord | undefined> {
    const r = await this.h.db().selectFrom("clients").selectAll().where("signature_key", "=", signatureKey).executeTakeFirst();
    return r && clientFromRow(r);
  }

  async getByName(user: string, device: string): Promise<ClientRecord | undefined> {
    const r = await this.h.db().selectFrom("clients").selectAll().where("user_name", "=", user).where("device_id", "=", device).executeTakeFirst();
    return r && clientFromRow(r);
  }

  async listByUser(user: string): Promise<ClientRecord[]> {
    const rows = await this.h.db().selectFrom("clients").selectAll().where("user_name", "=", user).orderBy("id").execute();
    return rows.map(clientFromRow);
  }

  async revoke(id: ClientId, at: number): Promise<boolean> {
    const r = await this.h.db().updateTable("clients").set({ revoked_at: at }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
