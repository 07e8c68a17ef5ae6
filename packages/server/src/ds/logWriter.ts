/**
 * Group commit of application messages (DESIGN: DS delivery): the messages
 * that arrive while a write is in progress are appended together, in one
 * transaction, by the next one. Each message is still checked on its own —
 * the sender on the group's roster and the epoch window, read under the
 * group's lock in that same transaction — and answered only once the
 * transaction committed, so a 202 still means "stored".
 *
 * Why batching keeps the log's guarantees (queueDelivery.ts): positions are
 * taken under the group's lock in the transaction that writes them, run on
 * from the group's next_seq without a gap, and become visible at its commit,
 * before the lock passes to the next writer. Groups are locked in a fixed
 * order (their id), so two processes' batches cannot deadlock.
 */
import { ApiError, type AcceptedResponse } from "@conclave/api";
import { toHex } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { LogEntry } from "../storage/dsStore.js";
import { withGroupLog, type GroupLogWriterRepository } from "../storage/repositories/groupLog.js";
import type { ClientId, Store } from "../storage/store.js";
import { EpochMismatchError } from "./errors.js";
import { groupTopic, type Notifier } from "./notifier.js";

export interface LogWriterOptions {
  readonly store: Store;
  readonly notifier: Notifier;
  /** Application messages are accepted for the current epoch and this many before it. */
  readonly pastEpochs: number;
}

/** An application message whose framing the caller checked (group id, content type, wire format). */
export interface ApplicationMessage {
  readonly client: AuthenticatedClient;
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: number;
  readonly message: Uint8Array;
  readonly createdAt: number;
}

/** A queued message, kept as given (not copied), with its group id's hex computed once. */
interface Pending {
  readonly m: ApplicationMessage;
  readonly hex: string;
  readonly resolve: (r: AcceptedResponse) => void;
  readonly reject: (e: unknown) => void;
}

type Outcome = { readonly ok: AcceptedResponse } | { readonly error: unknown };

/** Messages per transaction at most: bounds how long one batch holds the lock. */
const MAX_BATCH = 512;

export class GroupLogWriter {
  private queue: Pending[] = [];
  private running = false;

  constructor(private readonly o: LogWriterOptions) {}

  /** Resolves once the message is committed to its group's log (or rejects with why it was refused). */
  append(m: ApplicationMessage): Promise<AcceptedResponse> {
    return new Promise((resolve, reject) => {
      this.queue.push({ m, hex: toHex(m.groupId), resolve, reject });
      if (!this.running) {
        this.running = true;
        // After the I/O phase that brought this request: the requests read with it join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
        this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
        await this.write(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async write(batch: readonly Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await withGroupLog(this.o.store, (log) => this.apply(log, batch));
    } catch (e) {
      // A storage failure: alone, the message gets it; in a batch, each message is retried on its own,
      // so one message's failure is never another's.
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      for (const p of batch) await this.write([p]);
      return;
    }
    const woken = new Map<string, Uint8Array>();
    batch.forEach((p, i) => {
      if ("ok" in outcomes[i]!) woken.set(p.hex, p.m.groupId);
    });
    if (woken.size > 0) {
      try {
        // One notification per group and batch. The messages are committed: a failing notification must not
        // turn an answer into an error (streams catch up at their next wake-up or reconnect).
        await this.o.notifier.publish([...woken.values()].map(groupTopic));
      } catch {
        // See above.
      }
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if ("ok" in o) p.resolve(o.ok);
      else p.reject(o.error);
    });
  }

  /** Checks and appends every message of the batch; the outcomes in batch order. */
  private async apply(log: GroupLogWriterRepository, batch: readonly Pending[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = new Array<Outcome>(batch.length);
    const byGroup = new Map<string, number[]>();
    batch.forEach((p, i) => {
      const list = byGroup.get(p.hex);
      if (list === undefined) byGroup.set(p.hex, [i]);
      else list.push(i);
    });
    // A fixed lock order across processes (see the file comment).
    for (const hex of [...byGroup.keys()].sort()) {
      const indexes = byGroup.get(hex)!;
      const groupId = batch[indexes[0]!]!.m.groupId;
      const g = await log.lockForAppend(groupId);
      if (g === undefined) {
        for (const i of indexes) outcomes[i] = { error: new ApiError("GROUP_NOT_FOUND", "no such group") };
        continue;
      }
      // The roster as of the lock: a removal committed before it refuses the removed member's messages.
      const members = await log.currentMembers(groupId, [...new Set(indexes.map((i) => batch[i]!.m.client.id))]);
      const entries: LogEntry[] = [];
      const oldest = g.epoch - this.o.pastEpochs;
      const current = BigInt(g.epoch);
      for (const i of indexes) {
        const p = batch[i]!.m;
        if (!members.has(p.client.id as ClientId)) {
          outcomes[i] = { error: new ApiError("NOT_GROUP_MEMBER", "you are not in this group's roster") };
        } else if (p.epoch > current || Number(p.epoch) < oldest) {
          outcomes[i] = { error: new EpochMismatchError(g.epoch, p.epoch) };
        } else {
          const seq = g.nextSeq + entries.length;
          entries.push({ groupId, seq, kind: "application", epoch: Number(p.epoch), contentType: p.contentType, senderClientId: p.client.id, message: p.message, createdAt: p.createdAt });
          outcomes[i] = { ok: { epoch: g.epoch, delivered: g.memberCount - 1 } };
        }
      }
      await log.appendMany(groupId, entries);
    }
    return outcomes;
  }
}

const writers = new WeakMap<LogWriterOptions, GroupLogWriter>();

/** The writer of a DS instance (keyed by its options object: one queue per GroupDelivery). */
export function logWriterFor(o: LogWriterOptions): GroupLogWriter {
  let w = writers.get(o);
  if (w === undefined) writers.set(o, (w = new GroupLogWriter(o)));
  return w;
}
