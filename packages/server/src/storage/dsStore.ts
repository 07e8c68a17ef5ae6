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
  readonly groupInfo: Uint8Array | null;
  readonly ratchetTree: Uint8Array | null;
}

export interface HandshakeRecord {
  readonly id: number;
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly contentType: number;
  readonly senderClientId: ClientId;
  readonly message: Uint8Array;
  readonly createdAt: number;
}

export type NewHandshake = Omit<HandshakeRecord, "id">;

export interface GroupRepository {
  /** Creates the group at epoch 0 with `creator` as its only member; false when the id is taken. */
  create(groupId: Uint8Array, creator: ClientId, now: number): Promise<boolean>;
  get(groupId: Uint8Array): Promise<GroupRecord | undefined>;
  /** Reads the group and locks it against concurrent changes until the transaction ends (call inside one). */
  lock(groupId: Uint8Array): Promise<GroupRecord | undefined>;
  /** Moves the epoch from `from` to `from + 1`; false when it was no longer `from`. */
  advanceEpoch(groupId: Uint8Array, from: number): Promise<boolean>;
  setGroupInfo(groupId: Uint8Array, groupInfo: Uint8Array, ratchetTree: Uint8Array | null): Promise<void>;
  members(groupId: Uint8Array): Promise<ClientId[]>;
  isMember(groupId: Uint8Array, clientId: ClientId): Promise<boolean>;
  addMembers(groupId: Uint8Array, clients: readonly ClientId[], epoch: number): Promise<void>;
  removeMembers(groupId: Uint8Array, clients: readonly ClientId[]): Promise<void>;
  appendHandshake(h: NewHandshake): Promise<number>;
  /** Handshake messages of epochs >= `sinceEpoch`, in acceptance order. */
  handshakesSince(groupId: Uint8Array, sinceEpoch: number, limit: number): Promise<HandshakeRecord[]>;
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

export interface QueueRepository {
  enqueue(entries: readonly NewQueueEntry[]): Promise<void>;
  /** Entries of the client with id > `after`, oldest first. */
  fetch(clientId: ClientId, after: number, limit: number): Promise<QueueEntry[]>;
  /** Deletes the client's entries with id <= `upTo`; returns how many went. */
  ack(clientId: ClientId, upTo: number): Promise<number>;
}
