/**
 * Client: one device of one user (RFC 9750 §3). It owns the device's signature
 * key, registers with the AS by signing a challenge, keeps the DS stocked with
 * KeyPackages (keeping their private keys until a Welcome uses them), creates
 * and evolves groups with the DS's strong commit ordering (409 → catch up →
 * retry), and turns its DS queue into events. All state goes through a
 * ClientStore and is written before the DS queue is acknowledged.
 */
import {
  ApiError,
  AuthPurpose,
  fromBase64Url,
  isApiError,
  signAuthChallenge,
  toBase64Url,
  type AcceptedResponse,
  type ChallengeResponse,
  type ClaimKeyPackagesResponse,
  type CreateAccountResponse,
  type GroupInfoResponse,
  type GroupResponse,
  type HandshakesResponse,
  type KeyPackageCountsResponse,
  type QueueEntryJson,
  type QueueResponse,
  type TokenResponse,
  type UploadKeyPackagesResponse,
} from "@conclave/api";
import {
  ContentType,
  createKeyPackage,
  CredentialType,
  decode,
  ExtensionType,
  Group,
  lifetimeFrom,
  mlsMessageCodec,
  ProposalType,
  PublicRatchetTree,
  WireFormat,
  type CipherSuiteId,
  type CryptoProvider,
  type GroupConfig,
  type GroupMember,
  type JoinKeyPackage,
  type KeyPackageBundle,
  type LeafIndex,
  type PendingCommitInfo,
  type SigningIdentity,
} from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";
import type { ClientStore } from "./store.js";
import { HttpTransport } from "./transport.js";

export interface ClientOptions {
  readonly serverUrl: string;
  readonly store: ClientStore;
  readonly provider?: CryptoProvider;
  /** Upload more KeyPackages when fewer than this many are left on the DS. */
  readonly keyPackageLowWater?: number;
  readonly keyPackageBatch?: number;
  /**
   * Key update policy (RFC 9750 §8.2.2 post-compromise security): sync commits an
   * Update (empty commit with a path) for a group whose last own update is older than this.
   */
  readonly keyUpdateIntervalMs?: number;
  /** Also commit an Update after this many application messages (sent or received) in a group since our last update. */
  readonly keyUpdateAfterMessages?: number;
  /** Milliseconds since the epoch; injected by tests of the key update schedule. */
  readonly now?: () => number;
}

export type ClientEvent =
  | { readonly type: "message"; readonly groupId: string; readonly sender: string; readonly epoch: bigint; readonly data: Uint8Array; readonly text: string }
  | { readonly type: "joined"; readonly groupId: string; readonly epoch: bigint; readonly members: string[] }
  | { readonly type: "membership"; readonly groupId: string; readonly epoch: bigint; readonly by: string; readonly added: string[]; readonly removed: string[]; readonly updated: string[]; readonly selfRemoved: boolean }
  | { readonly type: "error"; readonly groupId: string; readonly entryId: number; readonly error: Error };

interface IdentityRecord {
  user: string;
  device: string;
  domain: string;
  cipherSuite: number;
  signaturePublicKey: string;
  signaturePrivateKey: string;
  accountSecret: string;
  token?: string;
  tokenExpiresAt?: number;
}

interface KeyPackageRecord {
  message: string;
  initPrivateKey: string;
  encryptionPrivateKey: string;
  lastResort: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Lifetimes are checked against the wall clock (RFC 9420 §7.2). */
const GROUP_CONFIG: Partial<GroupConfig> = { clock: () => BigInt(Math.floor(Date.now() / 1000)) };
/** Our leaves list SelfRemove (draft-ietf-mls-extensions) so our groups are self-remove-capable and `leave` works. */
const LEAF_CAPABILITIES = { proposals: [ProposalType.selfRemove] };
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
const unjson = <T>(b: Uint8Array): T => JSON.parse(dec.decode(b)) as T;

/** The client identity ("user@domain#device") named by a member's basic credential. */
export function memberIdentity(m: GroupMember): string {
  return m.credential.credentialType === CredentialType.basic ? dec.decode(m.credential.identity) : `x509-leaf-${m.leafIndex}`;
}

const leafIdentity = (r: { leafIndex: LeafIndex; leafNode: GroupMember["leafNode"] }): string =>
  memberIdentity({ leafIndex: r.leafIndex, credential: r.leafNode.credential, signatureKey: r.leafNode.signatureKey, leafNode: r.leafNode });

export class Client {
  readonly transport: HttpTransport;
  readonly #store: ClientStore;
  readonly #provider: CryptoProvider;
  readonly #low: number;
  readonly #batch: number;
  #id: IdentityRecord | undefined;
  readonly #groups = new Map<string, Group>();
  #cursor = 0;
  readonly #keyUpdateMs: number | undefined;
  readonly #keyUpdateMsgs: number | undefined;
  /** Application messages per group since our last update (in memory: a restart starts the count again). */
  readonly #messagesSinceUpdate = new Map<string, number>();
  readonly #now: () => number;
  /** Groups we asked to leave: the SelfRemove is re-sent each epoch until a commit removes us. */
  readonly #leaving = new Set<string>();
  /** When we last refreshed our leaf in each group (ms), for the key update policy. */
  readonly #lastUpdate = new Map<string, number>();
  /** How many of our commits the DS refused with EPOCH_MISMATCH (each was caught up and retried). */
  commitConflicts = 0;
  /** Serializes state changes: the queue, commits and sends never interleave. */
  #lock: Promise<unknown> = Promise.resolve();

  private constructor(opts: ClientOptions) {
    this.transport = new HttpTransport(opts.serverUrl);
    this.#store = opts.store;
    this.#provider = opts.provider ?? nodeCryptoProvider;
    this.#low = opts.keyPackageLowWater ?? 5;
    this.#batch = opts.keyPackageBatch ?? 10;
    this.#keyUpdateMs = opts.keyUpdateIntervalMs;
    this.#keyUpdateMsgs = opts.keyUpdateAfterMessages;
    this.#now = opts.now ?? Date.now;
  }

  /** Opens a client from its store: an empty store gives an unregistered client. */
  static async open(opts: ClientOptions): Promise<Client> {
    const c = new Client(opts);
    const id = await c.#store.get("identity");
    if (id !== undefined) c.#id = unjson<IdentityRecord>(id);
    const cur = await c.#store.get("cursor");
    if (cur !== undefined) c.#cursor = unjson<number>(cur);
    for (const key of await c.#store.keys("group:")) {
      const bytes = await c.#store.get(key);
      if (bytes !== undefined) c.#groups.set(key.slice(6), Group.deserialize(bytes, c.#provider, GROUP_CONFIG));
    }
    const leaving = await c.#store.get("leaving");
    if (leaving !== undefined) for (const gid of unjson<string[]>(leaving)) c.#leaving.add(gid);
    for (const key of await c.#store.keys("upd:")) {
      const b = await c.#store.get(key);
      if (b !== undefined) c.#lastUpdate.set(key.slice(4), unjson<number>(b));
    }
    return c;
  }

  get registered(): boolean {
    return this.#id !== undefined;
  }
  get user(): string {
    return this.#need().user;
  }
  /** "user@domain#device" */
  get identity(): string {
    const id = this.#need();
    return `${id.user}@${id.domain}#${id.device}`;
  }
  /** Ids (base64url) of the groups this device is an active member of. */
  get groups(): string[] {
    return [...this.#groups].filter(([, g]) => g.isActive).map(([k]) => k);
  }

  #need(): IdentityRecord {
    if (this.#id === undefined) throw new ApiError("AUTH_REQUIRED", "client is not registered");
    return this.#id;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #signing(): SigningIdentity {
    const id = this.#need();
    return {
      credential: { credentialType: CredentialType.basic, identity: enc.encode(this.identity) },
      signaturePrivateKey: fromBase64Url(id.signaturePrivateKey),
      signaturePublicKey: fromBase64Url(id.signaturePublicKey),
    };
  }

  // ---------------------------------------------------------------------------
  // Registration and tokens (AS, RFC 9750 §4)

  /**
   * Registers this device: creates the account unless `accountSecret` is given
   * (a further device of an existing user), proves possession of a fresh
   * signature key, and stocks the DS with KeyPackages.
   */
  async register(user: string, device: string, opts: { accountSecret?: string; cipherSuite?: CipherSuiteId } = {}): Promise<{ accountSecret: string }> {
    if (this.#id !== undefined) throw new ApiError("CLIENT_EXISTS", `this store already holds ${this.identity}`);
    const cipherSuite = opts.cipherSuite ?? 1;
    let accountSecret = opts.accountSecret;
    if (accountSecret === undefined) {
      const acc = await this.transport.request<CreateAccountResponse>("createAccount", { json: { user } });
      accountSecret = acc.accountSecret;
    }
    const keys = await this.#provider.suite(cipherSuite).signatureGenerateKeyPair();
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const signature = await this.#signChallenge(ch, AuthPurpose.register, { user, device, cipherSuite, publicKey: keys.publicKey, privateKey: keys.privateKey });
    const tok = await this.transport.request<TokenResponse>("registerClient", {
      json: { user, device, cipherSuite, signatureKey: toBase64Url(keys.publicKey), accountSecret, nonce: ch.nonce, signature },
    });
    this.#id = {
      user,
      device,
      domain: ch.domain,
      cipherSuite,
      signaturePublicKey: toBase64Url(keys.publicKey),
      signaturePrivateKey: toBase64Url(keys.privateKey),
      accountSecret,
      token: tok.token,
      tokenExpiresAt: tok.expiresAt,
    };
    await this.#store.put("identity", json(this.#id));
    await this.ensureKeyPackages();
    return { accountSecret };
  }

  async #signChallenge(ch: ChallengeResponse, purpose: AuthPurpose, d: { user: string; device: string; cipherSuite: number; publicKey: Uint8Array; privateKey: Uint8Array }): Promise<string> {
    const sig = await signAuthChallenge(this.#provider.suite(d.cipherSuite), d.privateKey, fromBase64Url(ch.nonce), {
      domain: ch.domain,
      purpose,
      user: d.user,
      device: d.device,
      cipherSuite: d.cipherSuite as CipherSuiteId,
      signatureKey: d.publicKey,
    });
    return toBase64Url(sig);
  }

  /** Obtains a fresh bearer token by signing a login challenge. */
  async login(): Promise<void> {
    const id = this.#need();
    const ch = await this.transport.request<ChallengeResponse>("createChallenge");
    const signature = await this.#signChallenge(ch, AuthPurpose.login, {
      ...id,
      publicKey: fromBase64Url(id.signaturePublicKey),
      privateKey: fromBase64Url(id.signaturePrivateKey),
    });
    const tok = await this.transport.request<TokenResponse>("login", { json: { user: id.user, device: id.device, nonce: ch.nonce, signature } });
    id.token = tok.token;
    id.tokenExpiresAt = tok.expiresAt;
    await this.#store.put("identity", json(id));
  }

  async #token(): Promise<string> {
    const id = this.#need();
    if (id.token === undefined || (id.tokenExpiresAt ?? 0) < Date.now() + 30_000) await this.login();
    return id.token!;
  }

  /** An authenticated request; an expired or revoked token is refreshed once. */
  async #call<T>(route: Parameters<HttpTransport["request"]>[0], opts: Omit<Parameters<HttpTransport["request"]>[1] & object, "token"> = {}): Promise<T> {
    try {
      return await this.transport.request<T>(route, { ...opts, token: await this.#token() });
    } catch (e) {
      if (!isApiError(e, "AUTH_TOKEN_INVALID")) throw e;
      await this.login();
      return this.transport.request<T>(route, { ...opts, token: await this.#token() });
    }
  }

  /** The current bearer token (for the WebSocket stream). */
  token(): Promise<string> {
    return this.#token();
  }

  // ---------------------------------------------------------------------------
  // KeyPackages (RFC 9750 §5.1, RFC 9420 §10)

  async #newKeyPackage(lastResort: boolean): Promise<KeyPackageBundle> {
    const now = BigInt(Math.floor(Date.now() / 1000));
    const kp = await createKeyPackage({
      suite: this.#provider.suite(this.#need().cipherSuite),
      identity: this.#signing(),
      lifetime: lifetimeFrom(now - 3600n, 90n * 24n * 3600n),
      capabilities: LEAF_CAPABILITIES,
      ...(lastResort ? { lastResort: true } : {}),
    });
    // Private keys are stored before the public half is published: a Welcome can never name a key we lost.
    const rec: KeyPackageRecord = {
      message: toBase64Url(kp.message),
      initPrivateKey: toBase64Url(kp.initPrivateKey),
      encryptionPrivateKey: toBase64Url(kp.encryptionPrivateKey),
      lastResort,
    };
    await this.#store.put(`kp:${toBase64Url(kp.ref)}`, json(rec));
    return kp;
  }

  /** Tops up the DS: a batch when below the low-water mark, and a last-resort KeyPackage if none is there. */
  async ensureKeyPackages(): Promise<number> {
    const suite = this.#need().cipherSuite;
    const counts = await this.#call<KeyPackageCountsResponse>("countKeyPackages");
    const c = counts.counts.find((x) => x.cipherSuite === suite);
    const fresh: KeyPackageBundle[] = [];
    if ((c?.count ?? 0) < this.#low) for (let i = 0; i < this.#batch; i++) fresh.push(await this.#newKeyPackage(false));
    if (c?.lastResort !== true) fresh.push(await this.#newKeyPackage(true));
    if (fresh.length > 0) await this.#call<UploadKeyPackagesResponse>("uploadKeyPackages", { json: { keyPackages: fresh.map((k) => toBase64Url(k.message)) } });
    return fresh.length;
  }

  async #joinKeyPackages(): Promise<(JoinKeyPackage & { ref: Uint8Array; lastResort: boolean })[]> {
    const out: (JoinKeyPackage & { ref: Uint8Array; lastResort: boolean })[] = [];
    const sig = fromBase64Url(this.#need().signaturePrivateKey);
    for (const key of await this.#store.keys("kp:")) {
      const b = await this.#store.get(key);
      if (b === undefined) continue;
      const r = unjson<KeyPackageRecord>(b);
      const m = decode(mlsMessageCodec, fromBase64Url(r.message));
      if (m.wireFormat !== WireFormat.keyPackage) continue;
      out.push({
        keyPackage: m.keyPackage,
        initPrivateKey: fromBase64Url(r.initPrivateKey),
        encryptionPrivateKey: fromBase64Url(r.encryptionPrivateKey),
        signaturePrivateKey: sig,
        ref: fromBase64Url(key.slice(3)),
        lastResort: r.lastResort,
      });
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Groups

  #group(groupId: string): Group {
    const g = this.#groups.get(groupId);
    if (g === undefined) throw new ApiError("GROUP_NOT_FOUND", `not a member of group ${groupId}`);
    if (!g.isActive) throw new ApiError("NOT_GROUP_MEMBER", `no longer a member of group ${groupId}`);
    return g;
  }

  /** The Group object (read-only use: epoch, members, exporter). */
  group(groupId: string): Group {
    return this.#group(groupId);
  }

  members(groupId: string): string[] {
    return this.#group(groupId).members.map(memberIdentity);
  }

  async #saveGroup(groupId: string, g: Group): Promise<void> {
    await this.#store.put(`group:${groupId}`, g.serialize());
  }

  /** Creates a one-member group and registers it with the DS. Returns its id (base64url). */
  createGroup(): Promise<string> {
    return this.#exclusive(async () => {
      const g = await Group.create({
        provider: this.#provider,
        cipherSuite: this.#need().cipherSuite as CipherSuiteId,
        identity: this.#signing(),
        capabilities: LEAF_CAPABILITIES,
        config: GROUP_CONFIG,
      });
      const groupId = toBase64Url(g.groupId);
      await this.#call<GroupResponse>("createGroup", { json: { groupId } });
      this.#groups.set(groupId, g);
      await this.#saveGroup(groupId, g);
      await this.#updated(groupId);
      return groupId;
    });
  }

  /**
   * Sends one commit with the DS's ordering: on EPOCH_MISMATCH the pending
   * commit is dropped, missed handshakes are applied from the DS log, and the
   * commit is rebuilt against the new epoch.
   */
  async #commit(groupId: string, build: (g: Group) => Promise<{ pending: PendingCommitInfo; removed?: string[] } | undefined>): Promise<PendingCommitInfo | undefined> {
    const g = this.#group(groupId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const built = await build(g);
      if (built === undefined) return undefined;
      const { pending, removed } = built;
      try {
        await this.#call<AcceptedResponse>("postCommit", {
          params: { groupId },
          json: {
            commit: toBase64Url(pending.commit),
            ...(pending.welcome !== undefined ? { welcome: toBase64Url(pending.welcome) } : {}),
            groupInfo: toBase64Url(pending.groupInfo),
            ratchetTree: toBase64Url(pending.ratchetTree),
            ...(removed !== undefined && removed.length > 0 ? { removed } : {}),
          },
        });
      } catch (e) {
        // The reply was lost (not a refusal): the DS may have accepted the commit.
        // Its handshake log tells: if our commit is the one that left this epoch, merge it.
        if (isApiError(e, "SERVICE_UNAVAILABLE") && (await this.#commitWasAccepted(groupId, g.epoch, pending.commit))) {
          g.mergePendingCommit();
          await this.#saveGroup(groupId, g);
          return pending;
        }
        g.clearPendingCommit();
        if (!isApiError(e, "EPOCH_MISMATCH")) throw e;
        this.commitConflicts++;
        await this.#catchUp(groupId, g);
        if (!g.isActive) throw new ApiError("NOT_GROUP_MEMBER", `removed from ${groupId} while committing`);
        continue;
      }
      g.mergePendingCommit();
      await this.#saveGroup(groupId, g);
      return pending;
    }
    throw new ApiError("EPOCH_MISMATCH", `gave up committing to ${groupId} after 5 conflicts`);
  }

  /** True when the DS log shows `commit` as the commit that ended `epoch`; throws the original outage when the DS stays unreachable. */
  async #commitWasAccepted(groupId: string, epoch: bigint, commit: Uint8Array): Promise<boolean> {
    const log = await this.#call<HandshakesResponse>("handshakes", { params: { groupId }, query: { sinceEpoch: Number(epoch) } });
    const ours = toBase64Url(commit);
    return log.messages.some((h) => BigInt(h.epoch) === epoch && h.contentType === ContentType.commit && h.message === ours);
  }

  /** Applies the DS handshake log from our epoch on (RFC 9750 §5.2: the DS orders commits). */
  async #catchUp(groupId: string, g: Group): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    const log = await this.#call<HandshakesResponse>("handshakes", { params: { groupId }, query: { sinceEpoch: Number(g.epoch) } });
    for (const h of log.messages) {
      if (BigInt(h.epoch) !== g.epoch || !g.isActive) continue;
      const ev = await this.#processHandshake(groupId, g, fromBase64Url(h.message));
      if (ev !== undefined) events.push(ev);
    }
    await this.#saveGroup(groupId, g);
    return events;
  }

  async #processHandshake(groupId: string, g: Group, bytes: Uint8Array): Promise<ClientEvent | undefined> {
    const r = await g.processMessage(bytes);
    if (r.kind !== "commit") return undefined;
    const s = r.staged;
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

  /**
   * Adds every device of `user` (RFC 9750 §3: a user is all its clients) in
   * one commit. Devices already in the group are skipped, so adding a user
   * again brings in their new devices. Returns the identities added.
   */
  addUser(groupId: string, user: string): Promise<string[]> {
    return this.#exclusive(async () => {
      const suite = this.#need().cipherSuite;
      const claimed = await this.#call<ClaimKeyPackagesResponse>("claimKeyPackages", { params: { user }, json: { cipherSuites: [suite] } });
      const pending = await this.#commit(groupId, async (g) => {
        const present = new Set(g.members.map(memberIdentity));
        const kps = claimed.keyPackages.filter((k) => !present.has(k.identity) && k.identity !== this.identity);
        if (kps.length === 0) return undefined;
        return { pending: await g.createCommit({ add: kps.map((k) => fromBase64Url(k.keyPackage)) }) };
      });
      if (pending === undefined) {
        if (claimed.keyPackages.length === 0) throw new ApiError("KEY_PACKAGE_NOT_FOUND", `no KeyPackages available for ${user}`);
        return [];
      }
      const g = this.#group(groupId);
      return pending.added.map((a) => memberIdentity(g.member(a.leafIndex)!));
    });
  }

  /**
   * Device-add flow: brings this user's other devices (e.g. a newly
   * registered laptop) into every group this device is in. Returns, per
   * group, the identities added.
   */
  async addOwnDevices(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const g of this.groups) {
      try {
        out[g] = await this.addUser(g, this.user);
      } catch (e) {
        // Nothing to claim: no other device has KeyPackages on the DS.
        if (!isApiError(e, "KEY_PACKAGE_NOT_FOUND")) throw e;
        out[g] = [];
      }
    }
    return out;
  }

  /** Removes every device of `who`: a user name ("bob") or one client identity ("bob@domain#phone"). */
  removeMember(groupId: string, who: string): Promise<string[]> {
    return this.#exclusive(async () => {
      let gone: string[] = [];
      await this.#commit(groupId, async (g) => {
        const targets = g.members.filter((m) => {
          const id = memberIdentity(m);
          return id !== this.identity && (id === who || id.startsWith(`${who}@`));
        });
        if (targets.length === 0) throw new ApiError("INVALID_ROSTER_CHANGE", `${who} is not in group ${groupId}`);
        gone = targets.map(memberIdentity);
        return { pending: await g.createCommit({ remove: targets.map((m) => m.leafIndex as LeafIndex) }), removed: gone };
      });
      return gone;
    });
  }

  /** An empty commit with a path: rotates our leaf keys and the group's epoch secrets (RFC 9420 §12.4). */
  update(groupId: string): Promise<bigint> {
    return this.#exclusive(async () => {
      await this.#commit(groupId, async (g) => this.#withRemoved(await g.createCommit()));
      await this.#updated(groupId);
      return this.#group(groupId).epoch;
    });
  }

  /** The bundle of a commit that may cover pending proposals: the DS roster drops every client it removes. */
  #withRemoved(pending: PendingCommitInfo): { pending: PendingCommitInfo; removed: string[] } {
    return { pending, removed: pending.removed.map(leafIdentity) };
  }

  async #updated(groupId: string): Promise<void> {
    const t = this.#now();
    this.#lastUpdate.set(groupId, t);
    this.#messagesSinceUpdate.delete(groupId);
    await this.#store.put(`upd:${groupId}`, json(t));
  }

  #countMessage(groupId: string): void {
    this.#messagesSinceUpdate.set(groupId, (this.#messagesSinceUpdate.get(groupId) ?? 0) + 1);
  }

  async #saveLeaving(): Promise<void> {
    await this.#store.put("leaving", json([...this.#leaving]));
  }

  /**
   * Leaves the group with a SelfRemove proposal (draft-ietf-mls-extensions): we cannot commit our own
   * removal, so another member's client commits it. Until then we stay a member; sync re-sends the
   * proposal in each new epoch that did not remove us. The removal arrives as a `membership` event
   * with `selfRemoved: true`.
   */
  leave(groupId: string): Promise<void> {
    return this.#exclusive(async () => {
      const g = this.#group(groupId);
      // Checked first: in a group that is not self-remove-capable, leave fails now (PROPOSAL_UNSUPPORTED_TYPE)
      // instead of sync retrying forever.
      await this.#sendSelfRemove(groupId, g);
      this.#leaving.add(groupId);
      await this.#saveLeaving();
    });
  }

  async #sendSelfRemove(groupId: string, g: Group): Promise<void> {
    for (let attempt = 0; attempt < 5 && g.isActive; attempt++) {
      const sent = await g.proposeSelfRemove();
      await this.#saveGroup(groupId, g);
      try {
        await this.#call<AcceptedResponse>("postMessage", { params: { groupId }, mls: sent.message });
        return;
      } catch (e) {
        if (!isApiError(e, "EPOCH_MISMATCH")) throw e;
        // A commit we have not seen: our proposal was for a past epoch. Catch up and propose again.
        await this.#catchUp(groupId, g);
      }
    }
    if (g.isActive) throw new ApiError("EPOCH_MISMATCH", `gave up proposing to leave ${groupId} after 5 conflicts`);
  }

  /**
   * The client's policies, run after each sync: re-send our SelfRemove where we are leaving, commit
   * SelfRemove proposals received from others (draft-ietf-mls-extensions: a member receiving one
   * includes it in a commit, and must commit before sending), and rotate our leaf when the key update
   * interval has passed.
   */
  async #runPolicies(): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    for (const [groupId, g] of this.#groups) {
      if (!g.isActive) {
        if (this.#leaving.delete(groupId)) await this.#saveLeaving();
        continue;
      }
      try {
        if (this.#leaving.has(groupId)) {
          const proposed = g.pendingProposals.some((p) => p.own && p.proposal.proposalType === ProposalType.selfRemove);
          if (!proposed) await this.#sendSelfRemove(groupId, g);
          continue;
        }
        const othersLeaving = (x: Group) => x.pendingProposals.some((p) => !p.own && p.proposal.proposalType === ProposalType.selfRemove);
        let last = this.#lastUpdate.get(groupId);
        if (last === undefined) {
          // A group from before the policy was on: its interval starts now.
          await this.#updated(groupId);
          last = this.#now();
        }
        const due =
          (this.#keyUpdateMs !== undefined && this.#now() - last >= this.#keyUpdateMs) ||
          (this.#keyUpdateMsgs !== undefined && (this.#messagesSinceUpdate.get(groupId) ?? 0) >= this.#keyUpdateMsgs);
        if (!othersLeaving(g) && !due) continue;
        const me = this.identity;
        const pending = await this.#commit(groupId, async (x) => (othersLeaving(x) || due ? this.#withRemoved(await x.createCommit()) : undefined));
        if (pending === undefined) continue;
        // Every commit we build carries a path (it covers a SelfRemove or is empty), so it refreshes our leaf.
        await this.#updated(groupId);
        events.push({
          type: "membership",
          groupId,
          epoch: pending.epoch,
          by: me,
          added: pending.added.map((a) => leafIdentity({ leafIndex: a.leafIndex, leafNode: a.keyPackage.leafNode })),
          removed: pending.removed.map(leafIdentity),
          updated: [],
          selfRemoved: false,
        });
      } catch (err) {
        events.push({ type: "error", groupId, entryId: -1, error: err as Error });
      }
    }
    return events;
  }

  /**
   * Recovery after local state loss (RFC 9750 §6.6): rejoins `groupId` by external commit from the
   * GroupInfo the DS keeps, removing the leaf our lost state occupied (resync, RFC 9420 §12.4.3.2).
   * Messages of the epochs we lost stay unreadable. Returns the new epoch.
   */
  recover(groupId: string): Promise<bigint> {
    return this.#exclusive(async () => {
      const signing = this.#signing();
      for (let attempt = 0; attempt < 5; attempt++) {
        const info = await this.#call<GroupInfoResponse>("groupInfo", { params: { groupId } });
        const giBytes = fromBase64Url(info.groupInfo);
        const m = decode(mlsMessageCodec, giBytes);
        if (m.wireFormat !== WireFormat.groupInfo) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "the DS returned no GroupInfo");
        const given = info.ratchetTree === null ? undefined : fromBase64Url(info.ratchetTree);
        const treeBytes = m.groupInfo.extensions.find((e) => e.extensionType === ExtensionType.ratchetTree)?.extensionData ?? given;
        // Our old leaf is the one with our signature key: the identity survived, only the group state was lost.
        const old = treeBytes === undefined ? undefined : PublicRatchetTree.decode(this.#provider.suite(m.groupInfo.groupContext.cipherSuite), treeBytes).findLeafBySignatureKey(signing.signaturePublicKey);
        const { group, commit, groupInfo } = await Group.joinExternal(giBytes, {
          provider: this.#provider,
          identity: signing,
          capabilities: LEAF_CAPABILITIES,
          ...(given === undefined ? {} : { ratchetTree: given }),
          ...(old === undefined ? {} : { removeLeaf: old }),
          config: GROUP_CONFIG,
        });
        try {
          await this.#call<AcceptedResponse>("postCommit", {
            params: { groupId },
            json: { commit: toBase64Url(commit), groupInfo: toBase64Url(groupInfo), ratchetTree: toBase64Url(group.ratchetTree()) },
          });
        } catch (e) {
          // Another commit came first: the GroupInfo is stale, fetch the new one.
          if (isApiError(e, "EPOCH_MISMATCH")) {
            this.commitConflicts++;
            continue;
          }
          throw e;
        }
        this.#groups.set(groupId, group);
        await this.#saveGroup(groupId, group);
        await this.#updated(groupId);
        return group.epoch;
      }
      throw new ApiError("EPOCH_MISMATCH", `gave up rejoining ${groupId} after 5 conflicts`);
    });
  }

  /** Encrypts and sends an application message. */
  send(groupId: string, message: string | Uint8Array): Promise<void> {
    return this.#exclusive(async () => {
      const g = this.#group(groupId);
      const data = typeof message === "string" ? enc.encode(message) : message;
      const ct = await g.encryptApplicationMessage(data);
      this.#countMessage(groupId);
      // The ratchet advanced: persist before the ciphertext leaves, so a restart never reuses a key.
      await this.#saveGroup(groupId, g);
      try {
        await this.#call<AcceptedResponse>("postMessage", { params: { groupId }, mls: ct });
      } catch (e) {
        if (!isApiError(e, "EPOCH_MISMATCH")) throw e;
        // A commit we have not seen yet: catch up and re-encrypt in the new epoch.
        await this.#catchUp(groupId, g);
        const again = await this.#group(groupId).encryptApplicationMessage(data);
        await this.#saveGroup(groupId, g);
        await this.#call<AcceptedResponse>("postMessage", { params: { groupId }, mls: again });
      }
    });
  }

  /** Safety number material: the epoch authenticator (RFC 9420 §8.7), equal for every member of the epoch. */
  epochAuthenticator(groupId: string): Uint8Array {
    return this.#group(groupId).epochAuthenticator;
  }

  /** A short decimal rendering of the epoch authenticator for comparing out of band. */
  safetyNumber(groupId: string): string {
    const a = this.epochAuthenticator(groupId);
    const groups: string[] = [];
    for (let i = 0; i + 4 <= Math.min(a.length, 24); i += 4) groups.push(String(((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0).padStart(10, "0").slice(-5));
    return groups.join(" ");
  }

  // ---------------------------------------------------------------------------
  // Receiving

  /**
   * Fetches the DS queue, processes every entry, persists the state and only
   * then acknowledges: a crash in between replays entries rather than losing them.
   */
  sync(): Promise<ClientEvent[]> {
    return this.#exclusive(async () => {
      const events: ClientEvent[] = [];
      for (;;) {
        const q = await this.#call<QueueResponse>("fetchQueue", { query: { after: this.#cursor, limit: 100 } });
        if (q.messages.length === 0) break;
        const touched = new Set<string>();
        let joined = false;
        for (const e of q.messages) {
          try {
            const ev = await this.#processEntry(e, touched);
            if (ev !== undefined) {
              events.push(ev);
              if (ev.type === "joined") joined = true;
            }
          } catch (err) {
            events.push({ type: "error", groupId: e.groupId, entryId: e.id, error: err as Error });
          }
        }
        for (const gid of touched) {
          const g = this.#groups.get(gid);
          if (g !== undefined) await this.#saveGroup(gid, g);
        }
        this.#cursor = q.messages[q.messages.length - 1]!.id;
        await this.#store.put("cursor", json(this.#cursor));
        await this.#call("ackQueue", { json: { upTo: this.#cursor } });
        if (joined) await this.ensureKeyPackages();
      }
      events.push(...(await this.#runPolicies()));
      return events;
    });
  }

  async #processEntry(e: QueueEntryJson, touched: Set<string>): Promise<ClientEvent | undefined> {
    const bytes = fromBase64Url(e.message);
    if (e.kind === "welcome") {
      if (this.#groups.get(e.groupId)?.isActive === true) return undefined; // replayed after a crash
      const kps = await this.#joinKeyPackages();
      const g = await Group.join(bytes, { provider: this.#provider, keyPackages: kps, config: GROUP_CONFIG });
      this.#groups.set(e.groupId, g);
      touched.add(e.groupId);
      await this.#saveGroup(e.groupId, g);
      await this.#updated(e.groupId);
      // RFC 9420 §16.8: delete the init key once used (last-resort ones are reused).
      const m = decode(mlsMessageCodec, bytes);
      if (m.wireFormat === WireFormat.welcome) {
        for (const s of m.welcome.secrets) {
          const k = kps.find((x) => toBase64Url(x.ref) === toBase64Url(s.newMember));
          if (k !== undefined && !k.lastResort) await this.#store.delete(`kp:${toBase64Url(k.ref)}`);
        }
      }
      return { type: "joined", groupId: e.groupId, epoch: g.epoch, members: g.members.map(memberIdentity) };
    }
    const g = this.#groups.get(e.groupId);
    if (g === undefined || !g.isActive) return undefined;
    touched.add(e.groupId);
    if (e.kind === "handshake") {
      // Already applied while catching up before a retried commit.
      if (BigInt(e.epoch) < g.epoch) return undefined;
      return this.#processHandshake(e.groupId, g, bytes);
    }
    const r = await g.processMessage(bytes);
    if (r.kind !== "application") return undefined;
    this.#countMessage(e.groupId);
    const sender = g.member(r.sender);
    return { type: "message", groupId: e.groupId, sender: sender !== undefined ? memberIdentity(sender) : `leaf ${r.sender}`, epoch: r.epoch, data: r.data, text: dec.decode(r.data) };
  }

  /**
   * Received events as an async iterator: woken by the DS WebSocket stream
   * when it is available, and by polling every `pollMs` otherwise.
   */
  async *events(opts: { signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<ClientEvent> {
    const pollMs = opts.pollMs ?? 1000;
    let wake: (() => void) | undefined;
    let ws: { close(): void } | undefined;
    try {
      const { WebSocket } = await import("ws");
      const sock = new WebSocket(this.transport.wsUrl(`/v1/stream?after=${this.#cursor}`), { headers: { authorization: `Bearer ${await this.#token()}` } });
      sock.on("message", () => wake?.());
      sock.on("error", () => undefined);
      ws = sock;
    } catch {
      ws = undefined;
    }
    const onAbort = () => wake?.();
    opts.signal?.addEventListener("abort", onAbort);
    try {
      while (opts.signal?.aborted !== true) {
        for (const ev of await this.sync()) yield ev;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      ws?.close();
    }
  }
}
