/**
 * Changing a group under the DS's strong commit ordering (RFC 9750 §5.2): the
 * DS accepts a handshake only for the group's current epoch and answers 409
 * (EPOCH_MISMATCH) otherwise. Every send here goes through one retry loop:
 * on 409, apply the missed handshakes from the DS log, then rebuild the
 * message in the new epoch and send again.
 */
import {
  ApiError,
  fromBase64Url,
  isApiError,
  toBase64Url,
  type AcceptedResponse,
  type HandshakeJson,
  type HandshakesResponse,
  type LeaveGroupResponse,
  type ReportCommitResponse,
} from "@conclave/api";
import { ContentType, isMlsError, type Group, type PendingCommitInfo, type StagedCommit } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { leafIdentity, memberIdentity, type ClientEvent } from "./events.js";
import { isOpaque } from "./groupBook.js";

/** How many 409s in a row we absorb before giving up on one operation. */
export const MAX_CONFLICTS = 5;

/** Runs `attempt` until the DS stops answering EPOCH_MISMATCH; `onConflict` catches up in between. */
export async function retryOnEpochMismatch<T>(what: string, attempt: () => Promise<T>, onConflict: () => Promise<void>): Promise<T> {
  for (let i = 0; i < MAX_CONFLICTS; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!isApiError(e, "EPOCH_MISMATCH")) throw e;
      await onConflict();
    }
  }
  throw new ApiError("EPOCH_MISMATCH", `gave up ${what} after ${MAX_CONFLICTS} conflicts`);
}

/** A commit to send: the DS derives the roster change from the commit itself. */
export interface CommitPlan {
  readonly pending: PendingCommitInfo;
}

export class GroupCommits {
  /** How many of our commits the DS refused with EPOCH_MISMATCH (each was caught up and retried). */
  conflicts = 0;
  /** Membership events of commits applied while catching up before a retry, for the next sync to report. */
  #missed: ClientEvent[] = [];

  constructor(private readonly ctx: ClientContext) {}

  /**
   * Sends one commit built by `build` (undefined: nothing to commit). On
   * EPOCH_MISMATCH the pending commit is dropped, missed handshakes are
   * applied, and the commit is rebuilt against the new epoch.
   */
  async commit(groupId: string, build: (g: Group) => Promise<CommitPlan | undefined>): Promise<PendingCommitInfo | undefined> {
    const g = this.ctx.groups.get(groupId);
    await this.settlePending(groupId, g);
    return retryOnEpochMismatch(
      `committing to ${groupId}`,
      async () => {
        const plan = await build(g);
        if (plan === undefined) return undefined;
        const { pending } = plan;
        // Stored with its pending commit: if we die before the reply, the restarted client
        // recognises the commit in the DS log (settlePending, or an inbox gap) instead of forking.
        await this.ctx.groups.save(groupId, g);
        try {
          await this.ctx.session.call<AcceptedResponse>("postCommit", {
            params: { groupId },
            json: {
              commit: toBase64Url(pending.commit),
              ...(pending.welcome !== undefined ? { welcome: toBase64Url(pending.welcome) } : {}),
              groupInfo: toBase64Url(await pending.groupInfo()),
            },
          });
        } catch (e) {
          // The reply was lost (not a refusal): the DS may have accepted the commit.
          // Its handshake log tells: if our commit is the one that left this epoch, merge it.
          if (!(isApiError(e, "SERVICE_UNAVAILABLE") && (await this.#commitWasAccepted(groupId, g.epoch, pending.commit)))) {
            g.clearPendingCommit();
            throw e;
          }
        }
        // Opaque groups: the DS kept our commit, but an earlier valid one of the epoch wins (RFC 9750 §5.3).
        if (isOpaque(g) && (await this.#lostRace(groupId, g, pending.commit))) {
          await this.ctx.groups.save(groupId, g);
          throw new ApiError("EPOCH_MISMATCH", "another commit of this epoch came first");
        }
        g.mergePendingCommit();
        await this.ctx.groups.save(groupId, g);
        return pending;
      },
      async () => {
        this.conflicts++;
        this.#missed.push(...(await this.catchUp(groupId, g)));
        if (!g.isActive) throw new ApiError("NOT_GROUP_MEMBER", `removed from ${groupId} while committing`);
      },
    );
  }

  /**
   * Sends a message made by `make` in the group's current epoch (an application
   * message or a proposal); the state is persisted before the message leaves, so
   * a restart never reuses a ratchet key. `make` returns undefined when there is
   * nothing left to send after catching up.
   */
  async post(groupId: string, g: Group, make: () => Promise<Uint8Array | undefined>): Promise<void> {
    await retryOnEpochMismatch(
      `sending to ${groupId}`,
      async () => {
        const message = await make();
        if (message === undefined) return;
        await this.ctx.groups.save(groupId, g);
        await this.ctx.session.call<AcceptedResponse>("postMessage", { params: { groupId }, mls: message });
      },
      // A commit we have not seen: catch up, and `make` builds the message again in the new epoch.
      async () => void this.#missed.push(...(await this.catchUp(groupId, g))),
    );
  }

  /**
   * A commit left pending by an earlier run (the process died waiting for the DS) is
   * merged when the DS log shows it accepted, and dropped otherwise.
   */
  async settlePending(groupId: string, g: Group): Promise<void> {
    const p = g.pendingCommit;
    if (p === undefined) return;
    if (await this.#commitWasAccepted(groupId, g.epoch, p.commit)) g.mergePendingCommit();
    else g.clearPendingCommit();
    await this.ctx.groups.save(groupId, g);
  }

  /** Queues an event for the next sync (e.g. a device addUser refused). */
  report(ev: ClientEvent): void {
    this.#missed.push(ev);
  }

  /** The events of commits applied by catch-ups, and reported ones, since the last call. */
  takeMissed(): ClientEvent[] {
    const m = this.#missed;
    this.#missed = [];
    return m;
  }

  /** The DS handshake log from `epoch` on, page by page (pages are capped in count and bytes). */
  async *#handshakeLog(groupId: string, epoch: bigint): AsyncGenerator<HandshakeJson> {
    let afterSeq = 0;
    for (;;) {
      const log = await this.ctx.session.call<HandshakesResponse>("handshakes", { params: { groupId }, query: { sinceEpoch: Number(epoch), afterSeq } });
      yield* log.messages;
      const last = log.messages[log.messages.length - 1];
      if (!log.more || last === undefined) return;
      afterSeq = last.seq;
    }
  }

  /** True when the DS log shows `commit` as the commit that ended `epoch`; throws the original outage when the DS stays unreachable. */
  async #commitWasAccepted(groupId: string, epoch: bigint, commit: Uint8Array): Promise<boolean> {
    const ours = toBase64Url(commit);
    for await (const h of this.#handshakeLog(groupId, epoch)) {
      if (BigInt(h.epoch) > epoch) break;
      if (BigInt(h.epoch) === epoch && h.contentType === ContentType.commit) return h.message === ours;
    }
    return false;
  }

  /** Applies the DS handshake log from our epoch on (RFC 9750 §5.2: the DS orders commits). */
  async catchUp(groupId: string, g: Group, opts: { persist?: boolean } = {}): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    for await (const h of this.#handshakeLog(groupId, g.epoch)) {
      if (BigInt(h.epoch) !== g.epoch || !g.isActive) continue;
      const ev = await this.processHandshake(groupId, g, fromBase64Url(h.message), h.seq);
      if (ev !== undefined) events.push(ev);
    }
    // The inbox persists through its journal, with the events.
    if (opts.persist !== false) await this.ctx.groups.save(groupId, g);
    return events;
  }

  /**
   * Processes a proposal or commit of the group; a commit is merged and reported as a membership event.
   * In an opaque group (RFC 9750 §5.3) the DS keeps every commit of an epoch: one we cannot apply is
   * skipped (the next of the epoch may be the valid one) and reported to the DS with its disclosure.
   */
  async processHandshake(groupId: string, g: Group, bytes: Uint8Array, seq?: number): Promise<ClientEvent | undefined> {
    if (!isOpaque(g)) return this.#apply(groupId, g, bytes);
    // Disclosed before processing: processing spends the message's key.
    const disclosure = await g.disclosePrivateMessage(bytes).catch(() => undefined);
    try {
      const ev = await this.#apply(groupId, g, bytes);
      // Removed: the DS cannot see it in an encrypted commit, so we take ourselves off its roster.
      if (!g.isActive) await this.ctx.session.call<LeaveGroupResponse>("leaveGroup", { params: { groupId } }).catch(() => undefined);
      return ev;
    } catch (e) {
      if (!isMlsError(e)) throw e;
      if (disclosure !== undefined && seq !== undefined) await this.#report(groupId, seq, disclosure);
      return undefined;
    }
  }

  /**
   * Whether a commit of this epoch that we can apply precedes ours in the DS log;
   * if so it is applied (our pending commit is dropped) and reported as missed.
   */
  async #lostRace(groupId: string, g: Group, ours: Uint8Array): Promise<boolean> {
    const mine = toBase64Url(ours);
    for await (const h of this.#handshakeLog(groupId, g.epoch)) {
      if (BigInt(h.epoch) !== g.epoch || h.contentType !== ContentType.commit) continue;
      if (h.message === mine) return false;
      const bytes = fromBase64Url(h.message);
      const disclosure = await g.disclosePrivateMessage(bytes).catch(() => undefined);
      let r;
      try {
        r = await g.processMessage(bytes);
      } catch (e) {
        if (!isMlsError(e)) throw e;
        if (disclosure !== undefined) await this.#report(groupId, h.seq, disclosure);
        continue;
      }
      if (r.kind !== "commit") continue;
      g.clearPendingCommit();
      const ev = this.#merged(groupId, g, r.staged);
      this.#missed.push(ev);
      return true;
    }
    return false;
  }

  /** Reports a commit we could not apply; the DS drops it when the disclosure proves it invalid. */
  async #report(groupId: string, seq: number, disclosure: Uint8Array): Promise<void> {
    try {
      await this.ctx.session.call<ReportCommitResponse>("reportCommit", { params: { groupId }, json: { seq, disclosure: toBase64Url(disclosure) } });
    } catch (e) {
      // Unprovable (a well-formed, correctly signed commit we still cannot apply) or not a commit: skipping it is all we can do.
      if (!isApiError(e)) throw e;
    }
  }

  async #apply(groupId: string, g: Group, bytes: Uint8Array): Promise<ClientEvent | undefined> {
    const r = await g.processMessage(bytes);
    if (r.kind !== "commit") return undefined;
    return this.#merged(groupId, g, r.staged);
  }

  /** Merges a staged commit and describes it as a membership event. */
  #merged(groupId: string, g: Group, s: StagedCommit): ClientEvent {
    const before = new Map(g.members.map((m) => [m.leafIndex as number, memberIdentity(m)]));
    const by = s.sender.senderType === 1 ? (before.get(s.sender.leafIndex as number) ?? "?") : "external";
    const removed = s.removed.map((x) => before.get(x.leafIndex as number) ?? `leaf ${x.leafIndex}`);
    const updated = s.updated.map((x) => before.get(x.leafIndex as number) ?? `leaf ${x.leafIndex}`);
    g.mergeStagedCommit(s);
    const after = new Map(g.isActive ? g.members.map((m) => [m.leafIndex as number, memberIdentity(m)]) : []);
    const added = s.added.map((x) => after.get(x.leafIndex as number) ?? `leaf ${x.leafIndex}`);
    // An external commit adds its sender (a new member, or an old one resyncing: RFC 9420 §12.4.3.2).
    if (s.externalJoiner !== undefined) added.push(leafIdentity(s.externalJoiner));
    return { type: "membership", groupId, epoch: s.epoch, by, added, removed, updated, selfRemoved: s.selfRemoved };
  }
}
