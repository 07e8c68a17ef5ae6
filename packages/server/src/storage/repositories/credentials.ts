/** Issued credentials and revocations. */
import { bytes, int, intOrNull, type Handle } from "../handle.js";
import type { ClientId, CredentialRecord, CredentialRepository, IssuedCredentialType, NewCredential, RevocationRecord } from "../store.js";

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

export class Credentials implements CredentialRepository {
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
    const rows = await this.h.db().selectFrom("credentials").selectAll().where("credential_hash", "=", credentialHash).orderBy("issued_at", "desc").orderBy("id", "desc").execute();
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
