/**
 * The client's group policies, run after each sync:
 * - leaving: our SelfRemove proposal (draft-ietf-mls-extensions) is re-sent in each epoch until a commit removes us;
 * - others leaving: a member receiving a SelfRemove includes it in a commit (and must commit before sending);
 * - key updates (RFC 9750 §8.2.2, post-compromise security): an Update commit when our last one is older
 *   than `keyUpdateIntervalMs` or `keyUpdateAfterMessages` application messages went by.
 */
import { ProposalType, SenderType, type Group } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { ownCommitEvent, type ClientEvent } from "./events.js";
import type { GroupCommits } from "./groupCommits.js";
import { getJson, putJson } from "./store.js";

export interface PolicyOptions {
  readonly keyUpdateIntervalMs?: number | undefined;
  readonly keyUpdateAfterMessages?: number | undefined;
  readonly now: () => number;
}

const UPDATED = "upd:";
const LEAVING = "leaving";

/** Proposals we commit at once: a member's SelfRemove, and the DS's Remove of a revoked device (RFC 9420 §12.1.8.1). */
const othersLeaving = (g: Group) =>
  g.pendingProposals.some(
    (p) => !p.own && (p.proposal.proposalType === ProposalType.selfRemove || (p.sender.senderType === SenderType.external && p.proposal.proposalType === ProposalType.remove)),
  );
const ownSelfRemovePending = (g: Group) => g.pendingProposals.some((p) => p.own && p.proposal.proposalType === ProposalType.selfRemove);

export class GroupPolicies {
  /** Groups we asked to leave. */
  readonly #leaving = new Set<string>();
  /** When we last refreshed our leaf in each group (ms). */
  readonly #lastUpdate = new Map<string, number>();
  /** Application messages per group since our last update (in memory: a restart starts the count again). */
  readonly #messagesSinceUpdate = new Map<string, number>();

  constructor(
    private readonly ctx: ClientContext,
    private readonly commits: GroupCommits,
    private readonly opts: PolicyOptions,
  ) {}

  async load(): Promise<void> {
    for (const gid of (await getJson<string[]>(this.ctx.store, LEAVING)) ?? []) this.#leaving.add(gid);
    for (const key of await this.ctx.store.keys(UPDATED)) {
      const t = await getJson<number>(this.ctx.store, key);
      if (t !== undefined) this.#lastUpdate.set(key.slice(UPDATED.length), t);
    }
  }

  /** Our leaf in `groupId` was just refreshed (joined, created, committed with a path). */
  async updated(groupId: string): Promise<void> {
    const t = this.opts.now();
    this.#lastUpdate.set(groupId, t);
    this.#messagesSinceUpdate.delete(groupId);
    await putJson(this.ctx.store, `${UPDATED}${groupId}`, t);
  }

  countMessage(groupId: string): void {
    this.#messagesSinceUpdate.set(groupId, (this.#messagesSinceUpdate.get(groupId) ?? 0) + 1);
  }

  /**
   * Proposes our removal; we stay a member until another member commits it. In a group that is not
   * self-remove-capable this fails now (PROPOSAL_UNSUPPORTED_TYPE) instead of every sync retrying forever.
   */
  async leave(groupId: string): Promise<void> {
    await this.#sendSelfRemove(groupId, this.ctx.groups.get(groupId));
    this.#leaving.add(groupId);
    await this.#saveLeaving();
  }

  async #sendSelfRemove(groupId: string, g: Group): Promise<void> {
    // After a catch-up that removed us there is nothing left to propose.
    await this.commits.post(groupId, g, async () => (g.isActive ? (await g.proposeSelfRemove()).message : undefined));
  }

  async #saveLeaving(): Promise<void> {
    await putJson(this.ctx.store, LEAVING, [...this.#leaving]);
  }

  #keyUpdateDue(groupId: string, last: number): boolean {
    const { keyUpdateIntervalMs: ms, keyUpdateAfterMessages: n, now } = this.opts;
    return (ms !== undefined && now() - last >= ms) || (n !== undefined && (this.#messagesSinceUpdate.get(groupId) ?? 0) >= n);
  }

  async run(): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    for (const [groupId, g] of this.ctx.groups.entries()) {
      if (!g.isActive) {
        if (this.#leaving.delete(groupId)) await this.#saveLeaving();
        continue;
      }
      try {
        if (this.#leaving.has(groupId)) {
          if (!ownSelfRemovePending(g)) await this.#sendSelfRemove(groupId, g);
          continue;
        }
        let last = this.#lastUpdate.get(groupId);
        if (last === undefined) {
          // A group from before the policy was on: its interval starts now.
          await this.updated(groupId);
          last = this.opts.now();
        }
        const due = this.#keyUpdateDue(groupId, last);
        if (!othersLeaving(g) && !due) continue;
        const pending = await this.commits.commit(groupId, async (x) => (othersLeaving(x) || due ? { pending: await x.createCommit() } : undefined));
        if (pending === undefined) continue;
        // Every commit we build carries a path (it covers a SelfRemove or is empty), so it refreshes our leaf.
        await this.updated(groupId);
        events.push(ownCommitEvent(groupId, this.ctx.session.identity, pending));
      } catch (err) {
        events.push({ type: "error", groupId, entryId: -1, error: err as Error });
      }
    }
    return events;
  }
}
