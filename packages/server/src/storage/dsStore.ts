/**
 * Repository interfaces of the Delivery Service (RFC 9750 §5): the KeyPackage
 * directory, groups with their roster and handshake log, and per-client
 * delivery queues. Implemented over Kysely in repositories/keyPackages.ts,
 * groups.ts and queues.ts.
 */
import type { ClientId } from "./store.js";

export interface NewKeyPackage {
  readonly ref: Uint8Array;
  readonly clientId: ClientId;
  readonly cipherSuite: number;
  readonly lastResort: boolean;
  /** MLSMessage(KeyPackage) bytes as uploaded. */
  readonly keyPackage: Uint8Array;
  readonly createdAt: number;
}

export interface KeyPackageRecord extends NewKeyPackage {
  readonly id: number;
}

export interface KeyPackageCount {
  readonly cipherSuite: number;
  /** Unclaimed, non-last-resort KeyPackages. */
  readonly count: number;
  readonly lastResort: boolean;
}

export interface KeyPackageRepository {
  /**
   * Stores the batch. A last-resort KeyPackage replaces the client's previous
   * one of that suite (at most one kept). Refs already stored are skipped.
   */
  insertBatch(kps: readonly NewKeyPackage[]): Promise<void>;
  counts(clientId: ClientId): Promise<KeyPackageCount[]>;
  /** Unclaimed KeyPackages of a client (and its last-resort ones), oldest first. */
  list(clientId: ClientId): Promise<KeyPackageRecord[]>;
  /** Deletes an unclaimed KeyPackage of the client; false when there was none. */
  delete(clientId: ClientId, ref: Uint8Array): Promise<boolean>;
  /**
   * Consumes one ordinary KeyPackage of (client, suite) atomically — concurrent
   * claimers never get the same one — or, when none remains, returns the
   * last-resort one without consuming it.
   */
  claim(clientId: ClientId, cipherSuite: number, now: number): Promise<KeyPackageRecord | undefined>;
  /** The uploading client of each known ref (claimed or not), keyed by hex ref. */
  owners(refs: readonly Uint8Array[]): Promise<Map<string, ClientId>>;
}

export interface GroupRecord {
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly createdBy: ClientId;
  readonly createdAt: number;
  /** The latest GroupInfo the DS accepted (verified against its public state). */
  readonly groupInfo: Uint8Array | null;
  /** The stored public state (ds/publicState, sealed at rest when the server has a KEK); null for a group from before it. */
  readonly publicState: Uint8Array | null;
  /** The cipher suite of an opaque group (encrypted handshakes, RFC 9750 §5.3); null when the DS validates the group. */
  readonly opaqueSuite: number | null;
  /** The position the next accepted message takes. */
  readonly nextSeq: number;
  /** The oldest position retention kept (everything before it is gone). */
  readonly firstSeq: number;
  readonly memberCount: number;
}

export interface PublicStateUpdate {
  readonly publicState: Uint8Array;
  readonly groupInfo?: Uint8Array;
}

/** A new group's first state: a validated group's public state, or an opaque group's suite (and its epoch-0 GroupInfo either way). */
export interface NewGroupState {
  readonly publicState?: Uint8Array;
  readonly groupInfo?: Uint8Array;
  readonly opaqueSuite?: number;
}

export type LogKind = "handshake" | "application";

/** A message in a group's log, at its position `seq`. */
export interface LogEntry {
  readonly groupId: Uint8Array;
  readonly seq: number;
  readonly kind: LogKind;
  readonly epoch: number;
  readonly contentType: number;
  readonly senderClientId: ClientId;
  readonly message: Uint8Array;
  readonly createdAt: number;
  /** Opaque groups: the GroupInfo a commit came with (signed by its poster). */
  readonly groupInfo?: Uint8Array;
}

export interface GroupRepository {
  /** Creates the group at epoch 0 with `creator` as its only member and its first public state; false when the id is taken. */
  create(groupId: Uint8Array, creator: ClientId, now: number, initial?: NewGroupState): Promise<boolean>;
  get(groupId: Uint8Array): Promise<GroupRecord | undefined>;
  /**
   * Locks the group until the transaction ends and takes the next log position
   * for the message being accepted (call inside a transaction). A rolled-back
   * transaction gives the position back, so positions stay gap-free; a second
   * writer waits for the lock, so they become visible in order.
   */
  reserve(groupId: Uint8Array): Promise<{ readonly group: GroupRecord; readonly seq: number } | undefined>;
  /** Moves the epoch from `from` to `from + 1`; false when it was no longer `from`. */
  advanceEpoch(groupId: Uint8Array, from: number): Promise<boolean>;
  /** Replaces the public state, and the GroupInfo when one is given (a proposal changes the state, not the GroupInfo). */
  setPublicState(groupId: Uint8Array, update: PublicStateUpdate): Promise<void>;
  /** Keeps the tree of `epoch` for the joiners of its Welcome (first write wins). */
  putWelcomeTree(groupId: Uint8Array, epoch: number, tree: Uint8Array, now: number): Promise<void>;
  welcomeTree(groupId: Uint8Array, epoch: number): Promise<Uint8Array | undefined>;
  /** Writes the message at the position `reserve` gave. */
  append(entry: LogEntry): Promise<void>;
  /** Handshake messages of epochs >= `sinceEpoch` after position `afterSeq`, in log order (dropped commits left out). */
  handshakes(groupId: Uint8Array, sinceEpoch: number, afterSeq: number, limit: number): Promise<LogEntry[]>;
  /** The entry at `seq` with when it was dropped (null: it stands), if retention kept it. */
  entry(groupId: Uint8Array, seq: number): Promise<(LogEntry & { readonly droppedAt: number | null }) | undefined>;
  /** Opaque groups: marks the commit at `seq` dropped (no reader gets it any more). */
  drop(groupId: Uint8Array, seq: number, now: number): Promise<void>;
  /** Opaque groups: the commits of `epoch` still standing. */
  standingCommits(groupId: Uint8Array, epoch: number): Promise<number>;
  /** Opaque groups: sets the epoch back (after the only standing commit of the previous one was dropped). */
  setEpoch(groupId: Uint8Array, epoch: number): Promise<void>;
  /** Opaque groups: the GroupInfo of `epoch` (> 0) its first standing commit came with, if any. */
  commitGroupInfo(groupId: Uint8Array, epoch: number): Promise<Uint8Array | undefined>;
}

/** A client's stay in a group as its reader sees it (group_membership joined with groups). */
export interface MembershipCursor {
  readonly groupId: Uint8Array;
  readonly joinedSeq: number;
  readonly leftSeq: number | null;
  readonly ackedSeq: number;
  /** The group's last position now. */
  readonly lastSeq: number;
  readonly firstSeq: number;
}

/** A log entry as a reader gets it: its own messages come without their bytes. */
export interface ReadEntry extends Omit<LogEntry, "message"> {
  readonly message: Uint8Array | null;
}

export interface MembershipRepository {
  /** Current roster of the group, by client id. */
  members(groupId: Uint8Array): Promise<ClientId[]>;
  isMember(groupId: Uint8Array, clientId: ClientId): Promise<boolean>;
  /** Starts the clients' stays after position `seq` (they read what comes after it); keeps member_count. */
  join(groupId: Uint8Array, clients: readonly ClientId[], epoch: number, seq: number): Promise<void>;
  /** Ends the clients' stays at position `seq` (they still read up to it, their removal); keeps member_count. */
  leave(groupId: Uint8Array, clients: readonly ClientId[], seq: number): Promise<void>;
  /** Groups the client is in now. */
  groupsOf(clientId: ClientId): Promise<Uint8Array[]>;
  /** Revoked clients still on some group's roster (the revocation sweep's work list), by id. */
  revokedMembers(): Promise<ClientId[]>;
  /** The client's stays that have something it has not acknowledged, in group order. */
  unread(clientId: ClientId): Promise<MembershipCursor[]>;
  /** Log entries in (after, through], oldest first; entries sent by `reader` come without bytes. */
  read(groupId: Uint8Array, after: number, through: number, limit: number, reader: ClientId): Promise<ReadEntry[]>;
  /** Moves the client's cursors in the group up to `upTo` (never back, never past the log's end); true when one moved. */
  ack(clientId: ClientId, groupId: Uint8Array, upTo: number): Promise<boolean>;
  /** Unread positions summed over every stay (own messages included). */
  unreadTotal(): Promise<number>;
}

export type QueueKind = "handshake" | "application" | "welcome";

export interface NewQueueEntry {
  readonly clientId: ClientId;
  readonly kind: QueueKind;
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly message: Uint8Array;
  readonly createdAt: number;
}

export interface QueueEntry extends NewQueueEntry {
  readonly id: number;
}

/** Entries for one client alone (Welcomes; and copies queued before store-once delivery). */
export interface QueueRepository {
  enqueue(entries: readonly NewQueueEntry[]): Promise<void>;
  /** Entries of the client with id > `after`, oldest first. */
  fetch(clientId: ClientId, after: number, limit: number): Promise<QueueEntry[]>;
  /** Deletes the client's entries with id <= `upTo`; returns how many went. */
  ack(clientId: ClientId, upTo: number): Promise<number>;
  /** Entries waiting in all direct queues. */
  size(): Promise<number>;
}

/** What retention deleted in one pass. */
export interface RetentionResult {
  readonly logEntries: number;
  readonly queueEntries: number;
  readonly memberships: number;
}

export interface RetentionRepository {
  /**
   * Deletes log entries every reader acknowledged that are older than
   * `readBefore`, and any entry or queued entry older than `unreadBefore`;
   * moves each group's first_seq; drops finished stays of removed clients.
   */
  prune(readBefore: number, unreadBefore: number): Promise<RetentionResult>;
}
