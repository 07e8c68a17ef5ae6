/**
 * The device's DS queue (RFC 9750 §5: per-client durable fan-out) turned into
 * events: Welcomes join groups, handshakes advance them, application messages
 * are decrypted.
 *
 * Crash safety: decrypting a message deletes its ratchet key, so the decrypted
 * events must be kept as durably as the state that consumed them. Each batch
 * ends with one atomic write of a journal (the touched groups' states, the
 * events so far, the page's cursor); only then are the group records and the
 * DS acknowledgement written. A process killed anywhere in between finds the
 * journal on restart, applies it, acknowledges its cursor and hands its events
 * to the next sync: no message is lost and none is decrypted twice (the DS
 * sends again only what was never acknowledged, and acknowledgements only
 * move forward, so repeating one is harmless).
 */
import { fromBase64Url, toBase64Url, type GroupTreeResponse, type QueueCursor, type QueueEntryJson, type QueueResponse } from "@conclave/api";
import { Group, isMlsError } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { loadEvent, memberIdentity, storeEvent, type ClientEvent, type StoredEvent } from "./events.js";
import { GROUP_CONFIG, GroupBook, withGroupConfig } from "./groupBook.js";
import type { GroupCommits } from "./groupCommits.js";
import type { KeyPackageSupply, StoredKeyPackage } from "./keyPackageSupply.js";
import type { GroupPolicies } from "./policies.js";
import type { CredentialValidation } from "./credentialValidation.js";
import { getJson, putJson } from "./store.js";

const JOURNAL = "inbox-journal";
const dec = new TextDecoder();

interface Journal {
  /** The DS cursor of the page the journal covers. */
  ack: QueueCursor;
  /** Group id → serialized state after the batch (null: we were removed, the record goes). */
  groups: Record<string, string | null>;
  /** KeyPackages (by ref) whose private keys a Welcome of the batch used. */
  usedKeyPackages: string[];
  /** Every event of this sync so far, not yet returned to the application. */
  events: StoredEvent[];
}

/** What one batch changed besides the groups' in-memory state. */
interface Batch {
  readonly touched: Set<string>;
  readonly used: string[];
  joined: boolean;
}

export class Inbox {
  /** A journal whose events have not been returned yet (found at open, or left by a sync that failed after writing it). */
  #journal: Journal | undefined;

  constructor(
    private readonly ctx: ClientContext,
    private readonly keyPackages: KeyPackageSupply,
    private readonly commits: GroupCommits,
    private readonly policies: GroupPolicies,
    private readonly credentials: CredentialValidation,
  ) {}

  /** Completes a journal a crash interrupted. Runs before the groups are loaded. */
  async load(): Promise<void> {
    const j = await getJson<Journal>(this.ctx.store, JOURNAL);
    if (j !== undefined) {
      await this.#apply(j);
      this.#journal = j;
    }
  }

  async #apply(j: Journal): Promise<void> {
    for (const [gid, state] of Object.entries(j.groups)) await this.ctx.groups.saveBytes(gid, state === null ? null : fromBase64Url(state));
    // RFC 9420 §16.8: the init keys a Welcome used are deleted.
    for (const ref of j.usedKeyPackages) await this.keyPackages.delete(ref);
  }

  /** Fetches and processes the queue until it is empty; returns the events, including those a crash kept from being returned. */
  async drain(): Promise<ClientEvent[]> {
    let events: StoredEvent[] = [];
    if (this.#journal !== undefined) {
      events = this.#journal.events;
      await this.ctx.session.call("ackQueue", { json: this.#journal.ack });
    }
    for (;;) {
      const q = await this.ctx.session.call<QueueResponse>("fetchQueue", { query: { limit: 100 } });
      if (q.messages.length === 0 && q.gaps.length === 0 && q.cursor.groups.length === 0) break;
      // Messages the DS's retention deleted before we read them (the group may need a resync).
      for (const gap of q.gaps) {
        const error = Object.assign(new Error(`messages ${gap.from}..${gap.to} of this group expired on the DS before this device read them`), { code: "MESSAGES_EXPIRED" });
        events.push(storeEvent({ type: "error", groupId: gap.groupId, entryId: gap.from, error }));
      }
      const batch: Batch = { touched: new Set(), used: [], joined: false };
      for (let i = 0; i < q.messages.length;) {
        // A run of application messages for groups already at their epoch is decrypted concurrently (the
        // signatures then share both cores); its events keep queue order. Anything else goes one by one.
        const run = this.#applicationRun(q.messages, i);
        const outcomes = await Promise.allSettled(run.map(async (e) => this.#vetted(await this.#process(e, batch))));
        outcomes.forEach((o, k) => {
          if (o.status === "fulfilled") for (const ev of o.value) events.push(storeEvent(ev));
          else events.push(storeEvent({ type: "error", groupId: run[k]!.groupId, entryId: run[k]!.seq, error: o.reason as Error }));
        });
        i += run.length;
      }
      const groups: Record<string, string | null> = {};
      for (const gid of batch.touched) {
        const g = this.ctx.groups.find(gid);
        if (g === undefined) continue;
        const rec = GroupBook.record(g);
        groups[gid] = rec === null ? null : toBase64Url(rec);
      }
      const j: Journal = { ack: q.cursor, groups, usedKeyPackages: batch.used, events };
      // The commit point of the batch.
      await putJson(this.ctx.store, JOURNAL, j);
      this.#journal = j;
      await this.#apply(j);
      await this.ctx.session.call("ackQueue", { json: j.ack });
      // A Welcome used one of our KeyPackages.
      if (batch.joined) await this.keyPackages.ensure();
      if (!q.more) break;
    }
    if (this.#journal !== undefined) {
      await this.ctx.store.delete(JOURNAL);
      this.#journal = undefined;
    }
    return events.map(loadEvent);
  }

  /**
   * The entries from `start` that can be processed together: consecutive
   * application messages, each for an active group already at the message's
   * epoch (no catch-up, no handshake in between that could change it). At
   * least the entry at `start` itself.
   */
  #applicationRun(entries: readonly QueueEntryJson[], start: number): QueueEntryJson[] {
    let end = start + 1;
    const concurrent = (e: QueueEntryJson): boolean => {
      if (e.kind !== "application") return false;
      const g = this.ctx.groups.find(e.groupId);
      return g !== undefined && g.isActive && BigInt(e.epoch) === g.epoch;
    };
    if (concurrent(entries[start]!)) while (end < entries.length && concurrent(entries[end]!)) end++;
    return entries.slice(start, end);
  }

  /** The events, each followed by "untrusted" events for members it brought in whose credential the AS does not vouch for. */
  async #vetted(evs: ClientEvent[]): Promise<ClientEvent[]> {
    const out: ClientEvent[] = [];
    for (const ev of evs) {
      out.push(ev);
      const brought = ev.type === "joined" ? ev.members : ev.type === "membership" ? ev.added : [];
      const g = this.ctx.groups.find(ev.groupId);
      if (g !== undefined && brought.length > 0) out.push(...(await this.credentials.vet(ev.groupId, g, brought)));
    }
    return out;
  }

  async #process(e: QueueEntryJson, batch: Batch): Promise<ClientEvent[]> {
    const bytes = fromBase64Url(e.message);
    if (e.kind === "welcome") return this.#join(e.groupId, e.epoch, bytes, batch);
    const g = this.ctx.groups.find(e.groupId);
    if (g === undefined || !g.isActive) return [];
    batch.touched.add(e.groupId);
    const epoch = BigInt(e.epoch);
    const out: ClientEvent[] = [];
    // A gap: a commit of ours whose acceptance we never recorded (the process died after sending it),
    // or one we missed. The DS log fills it; our own commit is recognised from the pending state.
    if (epoch > g.epoch) out.push(...(await this.commits.catchUp(e.groupId, g, { persist: false })));
    if (e.kind === "handshake") {
      // Already applied while catching up.
      if (epoch < g.epoch || !g.isActive) return out;
      const ev = await this.commits.processHandshake(e.groupId, g, bytes, e.seq);
      return ev === undefined ? out : [...out, ev];
    }
    if (!g.isActive) return out;
    const r = await g.processMessage(bytes);
    if (r.kind !== "application") return out;
    this.policies.countMessage(e.groupId);
    const sender = g.member(r.sender);
    out.push({ type: "message", groupId: e.groupId, sender: sender !== undefined ? memberIdentity(sender) : `leaf ${r.sender}`, epoch: r.epoch, data: r.data, text: dec.decode(r.data) });
    return out;
  }

  async #join(groupId: string, epoch: number, welcome: Uint8Array, batch: Batch): Promise<ClientEvent[]> {
    if (this.ctx.groups.find(groupId)?.isActive === true) return []; // replayed
    const kps: StoredKeyPackage[] = await this.keyPackages.forJoin();
    const join = (ratchetTree?: Uint8Array) =>
      Group.join(welcome, { provider: this.ctx.provider, keyPackages: kps, config: GROUP_CONFIG, ...(ratchetTree === undefined ? {} : { ratchetTree }) });
    let g: Group;
    try {
      g = await join();
    } catch (err) {
      if (!isMlsError(err, "WELCOME_MISSING_RATCHET_TREE")) throw err;
      // Group metadata assistance (issue 17 item 4): the DS keeps the tree of the Welcome's epoch;
      // Group.join checks it against the tree hash in the Welcome's signed GroupInfo.
      const t = await this.ctx.session.call<GroupTreeResponse>("groupTree", { params: { groupId }, query: { epoch } });
      g = await join(fromBase64Url(t.tree));
    }
    g = withGroupConfig(g, this.ctx.provider);
    this.ctx.groups.adopt(groupId, g);
    batch.touched.add(groupId);
    batch.joined = true;
    batch.used.push(...this.keyPackages.usedBy(welcome, kps));
    await this.policies.updated(groupId);
    return [{ type: "joined", groupId, epoch: g.epoch, members: g.members.map(memberIdentity) }];
  }
}
