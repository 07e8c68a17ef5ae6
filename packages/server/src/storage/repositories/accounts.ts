/** Accounts: user names and the hashes of their account secrets. */
import { bytes, int, type Handle } from "../handle.js";
import type { AccountRecord, AccountRepository } from "../store.js";

export class Accounts implements AccountRepository {
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
