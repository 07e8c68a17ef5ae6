/**
 * Bearer-token lookups batched: the requests that arrive together (read in
 * the same I/O phase) share one statement instead of one each. On PostgreSQL
 * that is one round trip (and one pooled connection) for many requests; on
 * SQLite one prepared statement for many. Nothing is cached between batches:
 * each request still reads the token and its client as committed when its
 * batch runs, so a logout or a revocation by any process is refused from the
 * next batch on.
 */
import { toHex } from "@conclave/mls";
import { MAX_TOKENS_PER_LOOKUP, tokenClients, type TokenClient } from "../storage/repositories/auth.js";
import type { Store } from "../storage/store.js";

interface Waiter {
  readonly resolve: (found: TokenClient | undefined) => void;
  readonly reject: (e: unknown) => void;
}

export class TokenLookups {
  /** Hashes waiting for the next batch, by hex (the same token twice shares the lookup). */
  private pending = new Map<string, { readonly hash: Uint8Array; readonly waiters: Waiter[] }>();
  private scheduled = false;

  constructor(private readonly store: Store) {}

  /** The token and its client, or undefined for an unknown token. */
  lookup(tokenHash: Uint8Array): Promise<TokenClient | undefined> {
    return new Promise((resolve, reject) => {
      const hex = toHex(tokenHash);
      const p = this.pending.get(hex);
      if (p === undefined) this.pending.set(hex, { hash: tokenHash, waiters: [{ resolve, reject }] });
      else p.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O phase that brought this request: the requests read with it join the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = [...this.pending.entries()];
    this.pending = new Map();
    for (let i = 0; i < batch.length; i += MAX_TOKENS_PER_LOOKUP) void this.run(batch.slice(i, i + MAX_TOKENS_PER_LOOKUP));
  }

  private async run(part: readonly [string, { readonly hash: Uint8Array; readonly waiters: Waiter[] }][]): Promise<void> {
    let found: Map<string, TokenClient>;
    try {
      found = await tokenClients(
        this.store,
        part.map(([, p]) => p.hash),
      );
    } catch (e) {
      for (const [, p] of part) for (const w of p.waiters) w.reject(e);
      return;
    }
    for (const [hex, p] of part) for (const w of p.waiters) w.resolve(found.get(hex));
  }
}
