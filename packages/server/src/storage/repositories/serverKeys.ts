/** The server's own long-lived keys. */
import { bytes, int, type Handle } from "../handle.js";
import type { ServerKeyRecord, ServerKeyRepository } from "../store.js";

export class ServerKeys implements ServerKeyRepository {
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

  async replacePrivateKey(name: string, expected: Uint8Array, next: Uint8Array): Promise<boolean> {
    const r = await this.h.db().updateTable("server_keys").set({ private_key: next }).where("name", "=", name).where("private_key", "=", expected).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
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
