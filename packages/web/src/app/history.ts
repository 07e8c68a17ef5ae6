/**
 * The conversation as this device saw it, kept in its own encrypted store so
 * a reload shows it again (the SDK hands each message over once: its ratchet
 * key is gone after that, RFC 9420 §9.2).
 */
import type { ClientStore } from "@conclave/client";

/** Lines kept per group. */
const KEEP = 300;
const enc = new TextEncoder();
const dec = new TextDecoder();

export type Line =
  | { readonly kind: "message"; readonly sender: string; readonly text: string; readonly at: number; readonly own: boolean }
  | { readonly kind: "notice"; readonly text: string; readonly at: number }
  /** A message that broke the emoji rule: dropped, reported, never shown. */
  | { readonly kind: "dropped"; readonly sender: string; readonly at: number };

export class History {
  readonly #cache = new Map<string, Line[]>();
  /** Appends run one at a time: each rewrites the group's record. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: ClientStore) {}

  async lines(groupId: string): Promise<readonly Line[]> {
    let lines = this.#cache.get(groupId);
    if (lines === undefined) {
      const raw = await this.store.get(key(groupId));
      lines = raw === undefined ? [] : (JSON.parse(dec.decode(raw)) as Line[]);
      this.#cache.set(groupId, lines);
    }
    return lines;
  }

  append(groupId: string, line: Line): Promise<void> {
    const run = this.#queue.then(async () => {
      const lines = [...(await this.lines(groupId)), line].slice(-KEEP);
      this.#cache.set(groupId, lines);
      await this.store.put(key(groupId), enc.encode(JSON.stringify(lines)));
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

/** Group ids are base64url: already within the store's key alphabet. */
const key = (groupId: string) => `lines:${groupId}`;
