/** Authentication challenges and bearer-token hashes. */
import type { CipherSuiteId } from "@conclave/mls";
import { bytes, findHandle, int, intOrNull, runSql, type Handle } from "../handle.js";
import type { AuthRepository, ClientId, ClientRecord, Store, TokenRecord } from "../store.js";
import { clientFromRow, type ClientRow } from "./clients.js";

interface TokenClientRow extends ClientRow {
  token_created_at: unknown;
  token_expires_at: unknown;
}

/**
 * A bearer token with its client, in one statement built once (authentication
 * runs it on every request; nothing is cached, so a logout or a revocation by
 * any process sharing the database refuses the very next request).
 */
export async function tokenClient(store: Store, tokenHash: Uint8Array): Promise<{ token: TokenRecord; client: ClientRecord } | undefined> {
  const h = findHandle(store);
  if (h === undefined) {
    // Another Store implementation: its own two lookups.
    const token = await store.auth.getToken(tokenHash);
    const client = token === undefined ? undefined : await store.clients.get(token.clientId);
    return token === undefined || client === undefined ? undefined : { token, client };
  }
  const { rows } = await runSql<TokenClientRow>(
    h,
    `select c.id, c.user_name, c.device_id, c.cipher_suite, c.signature_key, c.created_at, c.revoked_at,
       t.created_at as token_created_at, t.expires_at as token_expires_at
     from auth_tokens t join clients c on c.id = t.client_id where t.token_hash = ?`,
    [tokenHash],
  );
  const r = rows[0];
  if (r === undefined) return undefined;
  const client = clientFromRow(r);
  return { token: { tokenHash: bytes(tokenHash), clientId: client.id, createdAt: int(r.token_created_at), expiresAt: int(r.token_expires_at) }, client };
}

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
    await this.h.db().insertInto("auth_tokens").values({ token_hash: t.tokenHash, client_id: t.clientId, created_at: t.createdAt, expires_at: t.expiresAt }).execute();
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
