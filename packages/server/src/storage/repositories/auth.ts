/** Authentication challenges and bearer-token hashes. */
import { toHex, type CipherSuiteId } from "@conclave/mls";
import { bytes, findHandle, int, intOrNull, runSql, type Handle } from "../handle.js";
import type { AuthRepository, ClientId, ClientRecord, Store, TokenRecord } from "../store.js";
import { clientFromRow, type ClientRow } from "./clients.js";

interface TokenClientRow extends ClientRow {
  token_hash: Uint8Array;
  token_created_at: unknown;
  token_expires_at: unknown;
}

/** A bearer token with its client. */
export interface TokenClient {
  readonly token: TokenRecord;
  readonly client: ClientRecord;
}

/** Token hashes per statement at most (well under either engine's parameter limit). */
export const MAX_TOKENS_PER_LOOKUP = 64;

const TOKEN_CLIENT_COLUMNS = `t.token_hash, c.id, c.user_name, c.device_id, c.cipher_suite, c.signature_key, c.created_at, c.revoked_at,
       t.created_at as token_created_at, t.expires_at as token_expires_at
     from auth_tokens t join clients c on c.id = t.client_id`;

/** Statement texts by the number of hashes (SQLite: one prepared statement per count; PostgreSQL: an array). */
const sqliteTexts = new Map<number, string>();
function sqliteText(n: number): string {
  let t = sqliteTexts.get(n);
  if (t === undefined) sqliteTexts.set(n, (t = `select ${TOKEN_CLIENT_COLUMNS} where t.token_hash in (${Array.from({ length: n }, () => "?").join(", ")})`));
  return t;
}
const PG_TEXT = `select ${TOKEN_CLIENT_COLUMNS} where t.token_hash = any(?::bytea[])`;

/**
 * Bearer tokens with their clients, several in one statement (auth/tokenLookups.ts
 * batches the requests that arrive together; authentication runs on every
 * request and nothing is cached, so a logout or a revocation by any process
 * sharing the database refuses the very next request). Keyed by the hash's hex;
 * unknown tokens are absent. At most {@link MAX_TOKENS_PER_LOOKUP} hashes.
 */
export async function tokenClients(store: Store, tokenHashes: readonly Uint8Array[]): Promise<Map<string, TokenClient>> {
  const out = new Map<string, TokenClient>();
  if (tokenHashes.length > MAX_TOKENS_PER_LOOKUP) throw new Error(`storage: at most ${MAX_TOKENS_PER_LOOKUP} tokens per lookup`);
  const h = findHandle(store);
  if (h === undefined) {
    // Another Store implementation: its own two lookups per token.
    for (const tokenHash of tokenHashes) {
      const token = await store.auth.getToken(tokenHash);
      const client = token === undefined ? undefined : await store.clients.get(token.clientId);
      if (token !== undefined && client !== undefined) out.set(toHex(tokenHash), { token, client });
    }
    return out;
  }
  if (tokenHashes.length === 0) return out;
  const { rows } =
    h.engine === "postgres"
      ? await runSql<TokenClientRow>(h, PG_TEXT, [tokenHashes.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength))])
      : await runSql<TokenClientRow>(h, sqliteText(tokenHashes.length), tokenHashes);
  for (const r of rows) {
    const client = clientFromRow(r);
    const tokenHash = bytes(r.token_hash);
    out.set(toHex(tokenHash), { token: { tokenHash, clientId: client.id, createdAt: int(r.token_created_at), expiresAt: int(r.token_expires_at) }, client });
  }
  return out;
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
