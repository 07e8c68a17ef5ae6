/**
 * The device's DS queue (RFC 9750 §5: per-client durable fan-out) turned into
 * events: Welcomes join groups, handshakes advance them, application messages
 * are decrypted. The state is persisted before the queue is acknowledged, so a
 * crash in between replays entries rather than losing them.
 */
import { fromBase64Url, type QueueEntryJson, type QueueResponse } from "@conclave/api";
import { Group } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { memberIdentity, type ClientEvent } from "./events.js";
import { GROUP_CONFIG } from "./groupBook.js";
import type { GroupCommits } from "./groupCommits.js";
import type { KeyPackageSupply } from "./keyPackageSupply.js";
import type { GroupPolicies } from "./policies.js";
import { getJson, putJson } from "./store.js";

const CURSOR = "cursor";
const dec = new TextDecoder();

export class Inbox {
  /** Id of the last queue entry processed and acknowledged. */
  cursor = 0;

  constructor(
    private readonly ctx: ClientContext,
    private readonly keyPackages: KeyPackageSupply,
    private readonly commits: GroupCommits,
    private readonly policies: GroupPolicies,
  ) {}

  async load(): Promise<void> {
    this.cursor = (await getJson<number>(this.ctx.store, CURSOR)) ?? 0;
  }

  /** Fetches and processes the queue until it is empty. */
  async drain(): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    for (;;) {
      const q = await this.ctx.session.call<QueueResponse>("fetchQueue", { query: { after: this.cursor, limit: 100 } });
      if (q.messages.length === 0) break;
      const touched = new Set<string>();
      let joined = false;
      for (const e of q.messages) {
        try {
          const ev = await this.#process(e, touched);
          if (ev !== undefined) {
            events.push(ev);
            if (ev.type === "joined") joined = true;
          }
        } catch (err) {
          events.push({ type: "error", groupId: e.groupId, entryId: e.id, error: err as Error });
        }
      }
      for (const gid of touched) {
        const g = this.ctx.groups.find(gid);
        if (g !== undefined) await this.ctx.groups.save(gid, g);
      }
      this.cursor = q.messages[q.messages.length - 1]!.id;
      await putJson(this.ctx.store, CURSOR, this.cursor);
      await this.ctx.session.call("ackQueue", { json: { upTo: this.cursor } });
      // A Welcome used one of our KeyPackages.
      if (joined) await this.keyPackages.ensure();
    }
    return events;
  }

  async #process(e: QueueEntryJson, touched: Set<string>): Promise<ClientEvent | undefined> {
    const bytes = fromBase64Url(e.message);
    if (e.kind === "welcome") return this.#join(e.groupId, bytes, touched);
    const g = this.ctx.groups.find(e.groupId);
    if (g === undefined || !g.isActive) return undefined;
    touched.add(e.groupId);
    if (e.kind === "handshake") {
      // Already applied while catching up before a retried commit.
      if (BigInt(e.epoch) < g.epoch) return undefined;
      return this.commits.processHandshake(e.groupId, g, bytes);
    }
    const r = await g.processMessage(bytes);
    if (r.kind !== "application") return undefined;
    this.policies.countMessage(e.groupId);
    const sender = g.member(r.sender);
    return { type: "message", groupId: e.groupId, sender: sender !== undefined ? memberIdentity(sender) : `leaf ${r.sender}`, epoch: r.epoch, data: r.data, text: dec.decode(r.data) };
  }

  async #join(groupId: string, welcome: Uint8Array, touched: Set<string>): Promise<ClientEvent | undefined> {
    if (this.ctx.groups.find(groupId)?.isActive === true) return undefined; // replayed after a crash
    const kps = await this.keyPackages.forJoin();
    const g = await Group.join(welcome, { provider: this.ctx.provider, keyPackages: kps, config: GROUP_CONFIG });
    touched.add(groupId);
    await this.ctx.groups.set(groupId, g);
    await this.policies.updated(groupId);
    await this.keyPackages.consumed(welcome, kps);
    return { type: "joined", groupId, epoch: g.epoch, members: g.members.map(memberIdentity) };
  }
}
