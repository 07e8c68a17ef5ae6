/** Authentication challenges and bearer-token hashes. */
import { bytes, int, type Handle } from "../handle.js";
import type { AuthRepository, ClientId, TokenRecord } from "../store.js";

export class Auth implements AuthRepository {
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
