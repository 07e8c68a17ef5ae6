/**
 * WebSocket push fan-out (DESIGN: DS delivery): a group's new log entries are
 * read once per process and round, and handed to every stream of that
 * process whose client is in the group, instead of one store read per
 * stream (ds/stream.ts). Each entry's "message" frame is encoded once.
 *
 * A feed keeps the entries of its recent rounds (bounded), the position it
 * has read through (`seen`), and the group's current roster read after those
 * entries. A stream may take entries from the feed only when it knows it has
 * sent everything of the group up to a position `p` the feed still covers,
 * and its client's stay began at or before `p` and had not ended when the
 * roster was read (so every entry after `p` was sent while it was a member);
 * otherwise it reads the store as before. Loss-freedom rests on the log's
 * order: positions are gap-free and visible in order (queueDelivery.ts), so
 * reading "after `seen`" never skips an entry a later commit fills in.
 */
import { toBase64Url } from "@conclave/api";
import { toHex } from "@conclave/mls";
import type { CurrentRoster, GroupFeedReader } from "../storage/repositories/groupFeed.js";
import type { ClientId } from "../storage/store.js";

/**
 * An entry as the feed hands it out: its position, its sender and its frame,
 * encoded once; null for a dropped commit of an opaque group (ds/opaqueGroups.ts),
 * which is skipped as the store's reads skip it. A commit dropped after a round
 * read it may still reach a stream behind that round: members reject it anyway.
 */
export interface FeedEntry {
  readonly seq: number;
  readonly sender: ClientId;
  readonly frame: string | null;
}

/** What a feed holds after a round. */
export interface FeedState {
  /** The feed holds every entry after this position, through `seen`. */
  readonly from: number;
  readonly seen: number;
  /** Entries `from + 1 .. seen`, in order. */
  readonly entries: readonly FeedEntry[];
  /** Current stays as read after the entries. */
  readonly roster: CurrentRoster;
  /** The round stopped at its read limit: more entries may be waiting. */
  readonly more: boolean;
}

/** Entries read per round at most (as many as a stream's own page: queueDelivery.ts). */
const ROUND_LIMIT = 200;
/** Entries a feed keeps for streams a round or two behind, and their frames' size at most (beyond the newest one). */
const KEEP = 2048;
const KEEP_CHARS = 8 * 1024 * 1024;

class Feed {
  subscribers = 0;
  state: FeedState | undefined;
  private queued: Promise<FeedState> | undefined;
  private current: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly groupId: Uint8Array,
    private readonly reader: GroupFeedReader,
  ) {}

  /** A round that starts after this call; callers before it starts share it. */
  next(): Promise<FeedState> {
    if (this.queued !== undefined) return this.queued;
    const p = this.current.then(() => {
      this.queued = undefined; // from here on, callers need a newer round
      return this.read();
    });
    this.queued = p;
    this.current = p.catch(() => undefined);
    return p;
  }

  private async read(): Promise<FeedState> {
    const before = this.state;
    if (before === undefined) {
      // First round: start at the log's end; streams catch up to it from the store.
      const last = (await this.reader.lastSeq(this.groupId)) ?? 0;
      return (this.state = { from: last, seen: last, entries: [], roster: new Map(), more: false });
    }
    const rows = await this.reader.entriesAfter(this.groupId, before.seen, ROUND_LIMIT);
    if (rows.length === 0) return before;
    // The roster after the entries: a removal committed at a position we read is in it.
    const roster = await this.reader.roster(this.groupId);
    const last = rows[rows.length - 1]!.seq;
    const more = rows.length === ROUND_LIMIT;
    if (rows[0]!.seq !== before.seen + 1 || last !== before.seen + rows.length) {
      // A hole (retention deleted entries nobody had read): the feed restarts after them; streams read the store.
      return (this.state = { from: last, seen: last, entries: [], roster, more });
    }
    let entries: FeedEntry[] = [...before.entries];
    let from = before.from;
    const groupId = toBase64Url(this.groupId);
    for (const e of rows) {
      if (e.dropped) {
        entries.push({ seq: e.seq, sender: e.senderClientId, frame: null });
        continue;
      }
      const entry = { source: "group", seq: e.seq, kind: e.kind, groupId, epoch: e.epoch, message: toBase64Url(e.message), createdAt: e.createdAt };
      entries.push({ seq: e.seq, sender: e.senderClientId, frame: JSON.stringify({ type: "message", entry }) });
    }
    // Bounded in entries and in bytes (older rounds go first; a stream behind them reads the store).
    let drop = Math.max(0, entries.length - KEEP);
    let chars = 0;
    for (let i = entries.length - 1; i >= drop; i--) {
      chars += entries[i]!.frame?.length ?? 0;
      if (chars > KEEP_CHARS && i < entries.length - 1) {
        drop = i + 1;
        break;
      }
    }
    if (drop > 0) {
      entries = entries.slice(drop);
      from = entries[0]!.seq - 1;
    }
    return (this.state = { from, seen: last, entries, roster, more });
  }
}

/** The feeds of one process, one per group some stream listens to. */
export class GroupFeeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(private readonly reader: GroupFeedReader) {}

  /** Registers a listener of the group's feed; returns the release function. */
  open(groupId: Uint8Array): () => void {
    const hex = toHex(groupId);
    let f = this.feeds.get(hex);
    if (f === undefined) this.feeds.set(hex, (f = new Feed(groupId, this.reader)));
    f.subscribers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--f.subscribers === 0) this.feeds.delete(hex);
    };
  }

  /** The position the group's feed has read through (undefined before its first round). */
  seen(hex: string): number | undefined {
    return this.feeds.get(hex)?.state?.seen;
  }

  /** The feed after a round started after this call (undefined when nobody listens to the group). */
  next(hex: string): Promise<FeedState> | undefined {
    return this.feeds.get(hex)?.next();
  }
}
