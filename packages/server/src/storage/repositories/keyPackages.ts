/** The DS KeyPackage directory (RFC 9750 §5.1). */
import { toHex } from "@conclave/mls";
import { bytes, chunk, int, type Handle } from "../handle.js";
import type { KeyPackageCount, KeyPackageRecord, KeyPackageRepository, NewKeyPackage } from "../dsStore.js";
import type { ClientId } from "../store.js";

interface Row {
  id: number;
  ref: Uint8Array;
  client_id: number;
  cipher_suite: number;
  last_resort: number;
  key_package: Uint8Array;
  created_at: number;
  claimed_at: number | null;
}

function fromRow(r: Row): KeyPackageRecord {
  return {
    id: int(r.id),
    ref: bytes(r.ref),
    clientId: int(r.client_id) as ClientId,
    cipherSuite: int(r.cipher_suite),
    lastResort: int(r.last_resort) === 1,
    keyPackage: bytes(r.key_package),
    createdAt: int(r.created_at),
  };
}

export class KeyPackages implements KeyPackageRepository {
  constructor(private readonly h: Handle) {}

  async insertBatch(kps: readonly NewKeyPackage[]): Promise<void> {
    const db = this.h.db();
    for (const k of kps) {
      if (k.lastResort) {
        // At most one last-resort KeyPackage per client and suite: the newest wins.
        await db.deleteFrom("key_packages").where("client_id", "=", k.clientId).where("cipher_suite", "=", k.cipherSuite).where("last_resort", "=", 1).execute();
      }
    }
    for (const part of chunk(kps, 100)) {
      await db
        .insertInto("key_packages")
        .values(
          part.map((k) => ({
            ref: k.ref,
            client_id: k.clientId,
            cipher_suite: k.cipherSuite,
            last_resort: k.lastResort ? 1 : 0,
            key_package: k.keyPackage,
            created_at: k.createdAt,
            claimed_at: null,
          })),
        )
        .onConflict((oc) => oc.column("ref").doNothing())
        .execute();
    }
  }

  async counts(clientId: ClientId): Promise<KeyPackageCount[]> {
    const rows = await this.h
      .db()
      .selectFrom("key_packages")
      .select(["cipher_suite", "last_resort", (eb) => eb.fn.countAll().as("n")])
      .where("client_id", "=", clientId)
      .where("claimed_at", "is", null)
      .groupBy(["cipher_suite", "last_resort"])
      .execute();
    const bySuite = new Map<number, { count: number; lastResort: boolean }>();
    for (const r of rows) {
      const suite = int(r.cipher_suite);
      const e = bySuite.get(suite) ?? { count: 0, lastResort: false };
      if (int(r.last_resort) === 1) e.lastResort = true;
      else e.count += int(r.n);
      bySuite.set(suite, e);
    }
    return [...bySuite.entries()].sort((a, b) => a[0] - b[0]).map(([cipherSuite, e]) => ({ cipherSuite, ...e }));
  }

  async list(clientId: ClientId): Promise<KeyPackageRecord[]> {
    const rows = await this.h.db().selectFrom("key_packages").selectAll().where("client_id", "=", clientId).where("claimed_at", "is", null).orderBy("id").execute();
    return rows.map(fromRow);
  }

  async delete(clientId: ClientId, ref: Uint8Array): Promise<boolean> {
    const r = await this.h.db().deleteFrom("key_packages").where("client_id", "=", clientId).where("ref", "=", ref).where("claimed_at", "is", null).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }

  async claim(clientId: ClientId, cipherSuite: number, now: number): Promise<KeyPackageRecord | undefined> {
    const db = this.h.db();
    const pg = this.h.engine === "postgres";
    // One statement picks and marks the row: on SQLite statements are atomic;
    // on PostgreSQL FOR UPDATE SKIP LOCKED makes concurrent claimers take different rows.
    const claimed = await db
      .updateTable("key_packages")
      .set({ claimed_at: now })
      .where("id", "=", (eb) => {
        let q = eb
          .selectFrom("key_packages")
          .select("id")
          .where("client_id", "=", clientId)
          .where("cipher_suite", "=", cipherSuite)
          .where("last_resort", "=", 0)
          .where("claimed_at", "is", null)
          .orderBy("id")
          .limit(1);
        if (pg) q = q.forUpdate().skipLocked();
        return q;
      })
      .where("claimed_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (claimed !== undefined) {
      // Handed out once: only the ref and the owner stay (Welcome routing), not the signed KeyPackage (docs/security.md §2).
      await db
        .updateTable("key_packages")
        .set({ key_package: new Uint8Array(0) })
        .where("id", "=", claimed.id)
        .execute();
      return fromRow(claimed);
    }
    const lastResort = await db
      .selectFrom("key_packages")
      .selectAll()
      .where("client_id", "=", clientId)
      .where("cipher_suite", "=", cipherSuite)
      .where("last_resort", "=", 1)
      .orderBy("id", "desc")
      .executeTakeFirst();
    return lastResort && fromRow(lastResort);
  }

  async owners(refs: readonly Uint8Array[]): Promise<Map<string, ClientId>> {
    const out = new Map<string, ClientId>();
    for (const part of chunk(refs, 200)) {
      if (part.length === 0) continue;
      const rows = await this.h.db().selectFrom("key_packages").select(["ref", "client_id"]).where("ref", "in", part).execute();
      for (const r of rows) out.set(toHex(bytes(r.ref)), int(r.client_id) as ClientId);
    }
    return out;
  }
}
