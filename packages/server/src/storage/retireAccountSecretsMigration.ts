/**
 * Migration "0006_retire_account_secrets" (issue 23): the in-place upgrade of
 * a database from before the account-security changes.
 *
 * Before migration 0004 an account had an account secret (accounts.secret_hash)
 * that alone added and revoked devices, and a device logged in with a
 * signature by its MLS key. Nothing accepts an account secret any more, so
 * their hashes are zeroed here: a copy of the database no longer carries a
 * guessable verifier of secrets users may have reused elsewhere. Every other
 * old row keeps working as it is:
 * - clients, credentials, tokens, KeyPackages and groups are unchanged (an old
 *   device's unexpired bearer tokens keep working);
 * - an old device (a client with no client_auth_keys row) binds an X25519
 *   auth key once with POST /v1/clients/upgrade, proving its registered
 *   signature key (as/legacyUpgrade.ts), and an account without a recovery
 *   code gets one then;
 * - an old account on which no device was ever registered expires like any
 *   unused account (as/accountExpiry.ts): without a device or a recovery code
 *   nothing could use it.
 */
import { sql, type Kysely, type Migration } from "kysely";

export function retireAccountSecretsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // The NOT NULL column stays (dropping it would rebuild the table on SQLite); new accounts write zeros too.
      await sql`update accounts set secret_hash = ${Buffer.alloc(32)}`.execute(db);
    },
  };
}
