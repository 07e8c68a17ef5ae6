/**
 * The bridge between the DS's stored groups and their validated public state
 * (publicState/): loading and sealing the state, the AS check of every leaf
 * entering a tree, and the roster (client ids) a validated commit's tree
 * change means. The roster is derived from the tree, never from a client's
 * claim (issue 17 item 1).
 */
import { ApiError, formatClientIdentity, type PostingClient } from "@conclave/api";
import { bytesEqual, CredentialType, toHex, utf8, type Credential, type CredentialValidator, type CryptoProvider, type PublicGroup } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { Clock } from "../crypto.js";
import type { GroupRecord } from "../storage/dsStore.js";
import type { ClientId, Store, StoreTx } from "../storage/store.js";
import { loadPublicGroup, type HandshakeContext, type HandshakeLimits, type RosterDelta } from "./publicState/index.js";
import type { StateSeal } from "./publicState/stateSeal.js";

export interface GroupStateOptions {
  readonly provider: CryptoProvider;
  readonly seal: StateSeal;
  readonly domain: string;
  readonly clock: Clock;
  readonly limits?: Partial<HandshakeLimits>;
}

/** The roster change of a commit, in client ids. */
export interface RosterChange {
  readonly added: ClientId[];
  readonly removed: ClientId[];
  /** Added clients whose Welcome entry names this KeyPackageRef (hex): the Welcome goes to them only. */
  readonly welcomeRefs: ReadonlyMap<string, ClientId>;
}

/**
 * A roster client's identity: "user@domain#device" for this server's users; a
 * member of another domain (issue 22) is kept under the user name
 * "user@their-domain", so its identity is that name and the device.
 */
export function rosterIdentity(c: { readonly user: string; readonly device: string }, domain: string): string {
  return c.user.includes("@") ? `${c.user}#${c.device}` : formatClientIdentity({ user: c.user, domain, device: c.device });
}

export function postingClient(client: AuthenticatedClient): PostingClient {
  return { clientId: client.identity, signatureKey: client.signatureKey };
}

export class GroupState {
  constructor(private readonly o: GroupStateOptions) {}

  /**
   * RFC 9420 §5.3.1 "validated with the AS", done by the DS against its own
   * registry: the leaf's signature key is a registered client that is not
   * revoked, and a basic credential names exactly that client.
   */
  validator(repos: Store | StoreTx): CredentialValidator {
    return async (credential: Credential, signatureKey: Uint8Array): Promise<boolean> => {
      const c = await repos.clients.getBySignatureKey(signatureKey);
      if (c === undefined || c.revokedAt !== null) return false;
      if (credential.credentialType !== CredentialType.basic) return credential.credentialType === CredentialType.x509;
      return bytesEqual(credential.identity, utf8(rosterIdentity(c, this.o.domain)));
    };
  }

  context(repos: Store | StoreTx, client: AuthenticatedClient | PostingClient, groupId: Uint8Array): HandshakeContext {
    return {
      provider: this.o.provider,
      client: "clientId" in client ? client : postingClient(client),
      groupId,
      validateCredential: this.validator(repos),
      clock: () => BigInt(Math.floor(this.o.clock() / 1000)),
      ...(this.o.limits === undefined ? {} : { limits: this.o.limits }),
    };
  }

  /** The group's live public state; GROUP_STATE_MISSING for a group from before the DS kept one. */
  load(repos: Store | StoreTx, g: GroupRecord, client: AuthenticatedClient | PostingClient): PublicGroup {
    if (g.publicState === null) throw new ApiError("GROUP_STATE_MISSING", "this group predates validated group state: create a new group");
    const group = loadPublicGroup(this.open(g.groupId, g.publicState), this.context(repos, client, g.groupId));
    if (group.epoch !== BigInt(g.epoch)) throw new ApiError("INTERNAL", `the stored state is at epoch ${group.epoch}, the group at ${g.epoch}`);
    return group;
  }

  sealed(groupId: Uint8Array, state: Uint8Array): Uint8Array {
    return this.o.seal.seal(groupId, state);
  }

  open(groupId: Uint8Array, stored: Uint8Array): Uint8Array {
    return this.o.seal.open(groupId, stored);
  }

  /**
   * The clients a validated commit adds and removes. A resync (the same
   * client's key leaves and enters) changes nothing. Updated leaves keep their
   * client: the PublicGroup checks an Update keeps the sender's identity.
   */
  async rosterChange(tx: StoreTx, delta: RosterDelta): Promise<RosterChange> {
    const owner = async (key: Uint8Array): Promise<ClientId | undefined> => (await tx.clients.getBySignatureKey(key))?.id;
    const removed = new Set<ClientId>();
    for (const l of delta.removed) {
      const c = await owner(l.signatureKey);
      if (c !== undefined) removed.add(c);
    }
    const added: ClientId[] = [];
    const welcomeRefs = new Map<string, ClientId>();
    for (const l of delta.added) {
      const c = await owner(l.signatureKey);
      // The AS check in validation already refused unregistered keys; a resync re-enters its own client.
      if (c === undefined) throw new ApiError("INTERNAL", "a validated leaf has no registered client");
      if (l.keyPackageRef !== undefined) welcomeRefs.set(toHex(l.keyPackageRef), c);
      if (removed.delete(c)) continue;
      added.push(c);
    }
    return { added, removed: [...removed], welcomeRefs };
  }
}
