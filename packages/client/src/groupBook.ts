/**
 * The groups this device holds, kept in memory and written through to the
 * store (one record per group: the serialized Group, pending commit included).
 */
import { ApiError, GROUP_POLICY_EXTENSION_TYPE, readGroupPolicy } from "@conclave/api";
import { Group, ProposalType, type CryptoProvider, type GroupConfig } from "@conclave/mls";
import type { ClientStore } from "./store.js";

/** Lifetimes are checked against the wall clock (RFC 9420 §7.2). */
/**
 * Handshakes travel as PublicMessage so the DS can validate them against its
 * public state of the group (issue 17; RFC 9750 §6 allows it when group
 * operations need not be hidden from the DS); commits carry no ratchet tree:
 * joiners take it from the DS and check it against the Welcome's tree hash.
 */
export const GROUP_CONFIG: Partial<GroupConfig> = { clock: () => BigInt(Math.floor(Date.now() / 1000)), handshakeWireFormat: "public", ratchetTreeExtension: false };
/**
 * Opaque groups (RFC 9750 §5.3, policy handshakes "private"): handshakes travel
 * as PrivateMessage, and the Welcome carries the tree (the DS cannot serve it).
 */
export const OPAQUE_GROUP_CONFIG: Partial<GroupConfig> = { ...GROUP_CONFIG, handshakeWireFormat: "private", ratchetTreeExtension: true };

/** Whether the group's policy asks for encrypted handshakes. */
export function isOpaque(g: Group): boolean {
  try {
    return readGroupPolicy(g.extensions).handshakes === "private";
  } catch {
    return false;
  }
}

/** The group with the config its policy calls for (the config is not part of the serialized state). */
export function withGroupConfig(g: Group, provider: CryptoProvider): Group {
  return isOpaque(g) ? Group.deserialize(g.serialize(), provider, OPAQUE_GROUP_CONFIG) : g;
}

/**
 * Our leaves list SelfRemove (draft-ietf-mls-extensions) so our groups are self-remove-capable and `leave` works,
 * and Conclave's policy extension so we can be in groups that carry one.
 */
export const LEAF_CAPABILITIES = { proposals: [ProposalType.selfRemove], extensions: [GROUP_POLICY_EXTENSION_TYPE] };

const PREFIX = "group:";

export class GroupBook {
  readonly #groups = new Map<string, Group>();

  constructor(
    private readonly store: ClientStore,
    private readonly provider: CryptoProvider,
  ) {}

  async load(): Promise<void> {
    for (const key of await this.store.keys(PREFIX)) {
      const bytes = await this.store.get(key);
      if (bytes !== undefined) this.#groups.set(key.slice(PREFIX.length), withGroupConfig(Group.deserialize(bytes, this.provider, GROUP_CONFIG), this.provider));
    }
  }

  /** Ids of the groups this device is an active member of. */
  get active(): string[] {
    return [...this.#groups].filter(([, g]) => g.isActive).map(([k]) => k);
  }

  entries(): IterableIterator<[string, Group]> {
    return this.#groups.entries();
  }

  /** The group, whether or not we are still a member. */
  find(groupId: string): Group | undefined {
    return this.#groups.get(groupId);
  }

  /** A group we are an active member of: GROUP_NOT_FOUND / NOT_GROUP_MEMBER otherwise. */
  get(groupId: string): Group {
    const g = this.#groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", `not a member of group ${groupId}`);
    if (!g.isActive) throw new ApiError("NOT_GROUP_MEMBER", `no longer a member of group ${groupId}`);
    return g;
  }

  /** Adds or replaces a group and persists it. */
  async set(groupId: string, g: Group): Promise<void> {
    this.adopt(groupId, g);
    await this.save(groupId, g);
  }

  /** Adds or replaces a group in memory only: the caller persists it (the inbox, through its journal). */
  adopt(groupId: string, g: Group): void {
    this.#groups.set(groupId, g);
  }

  /** Persists a group; one we were removed from is deleted (its state holds no leaf of ours to restore). */
  async save(groupId: string, g: Group): Promise<void> {
    await this.saveBytes(groupId, GroupBook.record(g));
  }

  /** What `save` writes: the serialized state, or null for a group we left. */
  static record(g: Group): Uint8Array | null {
    return g.isActive ? g.serialize() : null;
  }

  async saveBytes(groupId: string, state: Uint8Array | null): Promise<void> {
    if (state === null) await this.store.delete(`${PREFIX}${groupId}`);
    else await this.store.put(`${PREFIX}${groupId}`, state);
  }
}
