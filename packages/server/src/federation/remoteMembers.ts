/**
 * Members of another domain in a group this server is the hub of (issue 22,
 * MIMI's hub model). The hub keeps each one as a local stand-in client under
 * the user name "user@their-domain" (no local user name can hold "@", and a
 * stand-in has no auth key: it can never log in here). With a stand-in the
 * DS's machinery applies unchanged: the roster is derived from the tree, the
 * sender of a handshake is checked against its leaf, and what the member is
 * owed sits in its queue until the follower domain acknowledges it
 * (hubPush.ts).
 *
 * A stand-in is created only after the member's own domain's AS validated the
 * credential, with its log's proofs (remoteIdentity.ts).
 *
 * An opaque group's Welcome names only KeyPackage refs (RFC 9420 §12.4.3.1),
 * whose owners the DS adds to the roster (opaqueGroups.ts); the remote
 * KeyPackages a client here claims are therefore remembered as claimed
 * KeyPackages of their stand-ins, so a remote member can join an opaque group
 * hubbed here.
 */
import { randomBytes } from "node:crypto";
import { ApiError, fromBase64Url, parseClientIdentity, toBase64Url, type ClaimedKeyPackage } from "@conclave/api";
import { constantTimeEqual, credentialCodec, encode, makeKeyPackageRef, MlsError, type CipherSuite, type CipherSuiteId, type CryptoProvider } from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { UnknownRemoteLeaf } from "../ds/groupDelivery.js";
import { readKeyPackage } from "../ds/mlsHeader.js";
import { handleOf, int, runSql } from "../storage/handle.js";
import type { ClientRecord, Store } from "../storage/store.js";
import type { FederationService } from "./service.js";

/** Stand-ins created by other processes on the same database are picked up within this time. */
const STAND_IN_CACHE_MS = 5_000;

export class RemoteMembers {
  #cache: { at: number; byDomain: Map<string, ClientRecord[]> } | undefined;

  constructor(
    private readonly fed: FederationService,
    private readonly store: Store,
    private readonly crypto: CryptoProvider,
  ) {}

  /** Validates each leaf with its domain's AS and keeps a stand-in for those it vouches for. */
  async resolve(leaves: readonly UnknownRemoteLeaf[]): Promise<void> {
    for (const leaf of leaves) {
      const text = new TextDecoder().decode(leaf.credential.credentialType === 1 ? leaf.credential.identity : new Uint8Array(0));
      const id = parseClientIdentity(text);
      this.fed.peers.checkAllowed(id.domain);
      const presented = { credential: toBase64Url(encode(credentialCodec, leaf.credential)), signatureKey: toBase64Url(leaf.signatureKey), cipherSuite: leaf.suite };
      const verdict = await this.fed.identity.validate(id.domain, presented, `${id.user}@${id.domain}`);
      // Not vouched for: no stand-in, so the DS's own validation refuses the leaf.
      if (verdict.valid) await this.standIn(`${id.user}@${id.domain}`, id.device, leaf.suite, leaf.signatureKey);
    }
  }

  /**
   * Remembers remote KeyPackages a client here claimed (claimRemote) as claimed
   * KeyPackages of their owners' stand-ins, for opaque Welcomes to name. Best
   * effort: one whose AS does not vouch for it (or cannot be asked now) is not
   * remembered, and an opaque Welcome naming it is refused (INVALID_ROSTER_CHANGE).
   */
  async rememberClaimed(claimed: readonly ClaimedKeyPackage[]): Promise<void> {
    for (const k of claimed) {
      try {
        await this.rememberOne(k);
      } catch (e) {
        // Not remembered (an unreadable KeyPackage, an AS that does not answer): only an opaque group's Welcome needs it.
        if (!(e instanceof ApiError || e instanceof MlsError)) throw e;
      }
    }
  }

  private async rememberOne(k: ClaimedKeyPackage): Promise<void> {
    const message = fromBase64Url(k.keyPackage, "keyPackage");
    const kp = readKeyPackage(message);
    const suite = kp.cipherSuite as CipherSuiteId;
    let cs: CipherSuite;
    try {
      cs = this.crypto.suite(suite);
    } catch {
      return; // a suite this server does not run: no group here can use it
    }
    await this.resolve([{ credential: kp.leafNode.credential, signatureKey: kp.leafNode.signatureKey, suite }]);
    // The stand-in its AS vouched for, and the one the answer named.
    const owner = await this.store.clients.getBySignatureKey(kp.leafNode.signatureKey);
    if (owner === undefined || `${owner.user}#${owner.device}` !== k.identity) return;
    // MLSMessage header: version (2) + wire_format (2); the ref hashes the KeyPackage itself (RFC 9420 §5.2).
    const ref = makeKeyPackageRef(cs, message.subarray(4));
    const now = this.fed.clock();
    await runSql(
      handleOf(this.store),
      "insert into key_packages (ref, client_id, cipher_suite, last_resort, key_package, created_at, claimed_at) values (?, ?, ?, 0, ?, ?, ?) on conflict do nothing",
      [ref, owner.id, suite, new Uint8Array(0), now, now],
    );
  }

  private async standIn(user: string, device: string, suite: CipherSuiteId, signatureKey: Uint8Array): Promise<void> {
    const h = handleOf(this.store);
    const now = this.fed.clock();
    await runSql(h, "insert into accounts (user_name, secret_hash, created_at) values (?, ?, ?) on conflict do nothing", [user, new Uint8Array(32), now]);
    await runSql(h, "insert into clients (user_name, device_id, cipher_suite, signature_key, created_at) values (?, ?, ?, ?, ?) on conflict do nothing", [
      user,
      device,
      suite,
      signatureKey,
      now,
    ]);
    this.#cache = undefined;
  }

  /** Stand-in clients of other domains, by domain (cached briefly: the pusher asks several times a second). */
  async byDomain(): Promise<Map<string, ClientRecord[]>> {
    const now = Date.now();
    if (this.#cache !== undefined && now - this.#cache.at < STAND_IN_CACHE_MS) return this.#cache.byDomain;
    const byDomain = await this.load();
    this.#cache = { at: now, byDomain };
    return byDomain;
  }

  private async load(): Promise<Map<string, ClientRecord[]>> {
    const { rows } = await runSql<{ id: unknown }>(handleOf(this.store), "select id from clients where user_name like '%@%' and revoked_at is null order by id", []);
    const out = new Map<string, ClientRecord[]>();
    for (const r of rows) {
      const c = await this.store.clients.get(int(r.id) as ClientRecord["id"]);
      if (c === undefined) continue;
      const domain = c.user.slice(c.user.indexOf("@") + 1);
      out.set(domain, [...(out.get(domain) ?? []), c]);
    }
    return out;
  }

  /**
   * The stand-in a follower domain acts as for one of its users: the identity
   * must be of that domain and the key the member's leaf key.
   * @throws ApiError FEDERATION_NOT_PARTICIPANT
   */
  async actor(peer: string, identity: string, signatureKey: Uint8Array): Promise<AuthenticatedClient> {
    let id;
    try {
      id = parseClientIdentity(identity);
    } catch {
      throw new ApiError("FEDERATION_NOT_PARTICIPANT", "not a client identity");
    }
    if (id.domain !== peer) throw new ApiError("FEDERATION_NOT_PARTICIPANT", `${peer} may act only for its own users`);
    const user = `${id.user}@${id.domain}`;
    const c = (await this.store.clients.listByUser(user)).find((x) => x.device === id.device && x.revokedAt === null);
    if (c === undefined || !constantTimeEqual(c.signatureKey, signatureKey)) throw new ApiError("FEDERATION_NOT_PARTICIPANT", `${identity} is in no group of this hub`);
    return { id: c.id, user, device: c.device, identity, cipherSuite: c.cipherSuite, signatureKey: c.signatureKey, tokenHash: randomBytes(32) };
  }
}
