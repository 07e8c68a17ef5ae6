/**
 * Client: one device of one user (RFC 9750 §3). It owns the device's signature
 * key, registers with the AS (session.ts), keeps the DS stocked with
 * KeyPackages (keyPackageSupply.ts), creates and evolves groups with the DS's
 * strong commit ordering (groupCommits.ts: 409 → catch up → retry), turns its
 * DS queue into events (inbox.ts) and runs its group policies (policies.ts).
 * All state goes through a ClientStore; every operation runs alone, in order.
 */
import {
  ApiError,
  DEVICE_ADDED_LEAF_TYPE,
  DEVICE_REVOKED_LEAF_TYPE,
  fromBase64Url,
  groupPolicyExtension,
  isApiError,
  toBase64Url,
  type ClaimKeyPackagesResponse,
  type ExternalSenderResponse,
  type GroupResponse,
  type HandshakePolicy,
  type NameProof,
  type RevokeClientResponse,
} from "@conclave/api";
import { decode, ExtensionType, Group, mlsMessageCodec, WireFormat, type CipherSuiteId, type CryptoProvider, type LeafIndex } from "@conclave/mls";
import { defaultProvider, openStream } from "#platform";
import type { ClientContext } from "./context.js";
import { CredentialValidation } from "./credentialValidation.js";
import { auditDevices, type DeviceAuditResult } from "./deviceAudit.js";
import { memberIdentity, safetyNumber, type ClientEvent, type DeviceChangeEvent } from "./events.js";
import { GROUP_CONFIG, GroupBook, LEAF_CAPABILITIES, OPAQUE_GROUP_CONFIG } from "./groupBook.js";
import { GroupCommits } from "./groupCommits.js";
import { Inbox } from "./inbox.js";
import { KeyPackageSupply } from "./keyPackageSupply.js";
import { GroupPolicies } from "./policies.js";
import { rejoinByExternalCommit } from "./recovery.js";
import { Session } from "./session.js";
import type { ClientStore } from "./store.js";
import { HttpTransport } from "./transport.js";

/** Options of {@link Client.open}: only `serverUrl` and `store` are required. */
export interface ClientOptions {
  /** Base URL of the Conclave server, e.g. "https://chat.example.org" (the routes add /v1/...). */
  readonly serverUrl: string;
  /** Where the device's keys, groups and cursors persist (FileStore, IndexedDbStore, MemoryStore). */
  readonly store: ClientStore;
  /** MLS crypto provider (default: the platform's, node or WebCrypto). */
  readonly provider?: CryptoProvider;
  /** Upload more KeyPackages when fewer than this many are left on the DS (default 5). */
  readonly keyPackageLowWater?: number;
  /** How many KeyPackages one upload brings (default 10). */
  readonly keyPackageBatch?: number;
  /**
   * sync() also checks the DS supply at most this often (default 10 minutes):
   * KeyPackages claimed by adders who never sent a Welcome are noticed and
   * replaced, not only those used by joins. 0: on every sync.
   */
  readonly keyPackageCheckIntervalMs?: number;
  /**
   * Key update policy (RFC 9750 §8.2.2 post-compromise security): sync commits an
   * Update (empty commit with a path) for a group whose last own update is older than this.
   */
  readonly keyUpdateIntervalMs?: number;
  /** Also commit an Update after this many application messages (sent or received) in a group since our last update. */
  readonly keyUpdateAfterMessages?: number;
  /**
   * Validate members' credentials with the AS (default true): addUser refuses devices whose credential
   * is not valid, and sync reports members brought in by others as "untrusted" events.
   */
  readonly validateCredentials?: boolean;
  /**
   * With onDeviceChange listeners, sync() reads the account's device changes
   * when the stream pushes one, on the first sync after open (what happened
   * while offline), and at least this often otherwise (default 5 minutes).
   */
  readonly deviceCheckIntervalMs?: number;
  /** Milliseconds since the epoch; injected by tests of the key update schedule. */
  readonly now?: () => number;
}

const enc = new TextEncoder();

/**
 * One device of a user: its identity with the AS, its KeyPackages on the DS,
 * its groups and their messages (RFC 9750 §3-§6). Open one with
 * {@link Client.open}; calls that change state run one at a time.
 *
 * Errors: methods reject with {@link ApiError}. Calls that reach the server
 * carry the server's stable code (see ErrorCode in @conclave/api, and the
 * OpenAPI document for each route's codes); besides those listed per method,
 * any of them may reject with `SERVICE_UNAVAILABLE` (server unreachable),
 * `RATE_LIMITED`, `AUTH_TOKEN_INVALID` or `CLIENT_REVOKED` (this device was
 * revoked), and with an MlsError code when the server sent MLS data the
 * library refused. A store that cannot be read or written rejects with
 * {@link StoreError}.
 */
export class Client {
  /** The HTTP transport to the server (for calls the Client has no method for). */
  readonly transport: HttpTransport;
  readonly #ctx: ClientContext;
  readonly #session: Session;
  readonly #groups: GroupBook;
  readonly #keyPackages: KeyPackageSupply;
  readonly #commits: GroupCommits;
  readonly #policies: GroupPolicies;
  readonly #inbox: Inbox;
  readonly #credentials: CredentialValidation;
  /** Serializes state changes: the queue, commits and sends never interleave. */
  #lock: Promise<unknown> = Promise.resolve();
  readonly #deviceListeners = new Set<(e: DeviceChangeEvent) => void>();
  /** A device change is waiting to be read: none read since open, or the stream pushed one. */
  #devicesDue = true;
  #devicesCheckedAt = Number.NEGATIVE_INFINITY;
  readonly #deviceCheckIntervalMs: number;
  readonly #now: () => number;

  private constructor(opts: ClientOptions) {
    this.transport = new HttpTransport(opts.serverUrl);
    const provider = opts.provider ?? defaultProvider;
    this.#session = new Session(this.transport, opts.store, provider);
    this.#groups = new GroupBook(opts.store, provider);
    this.#ctx = { store: opts.store, provider, session: this.#session, groups: this.#groups };
    this.#keyPackages = new KeyPackageSupply(this.#ctx, opts.keyPackageLowWater ?? 5, opts.keyPackageBatch ?? 10, {
      checkIntervalMs: opts.keyPackageCheckIntervalMs ?? 10 * 60_000,
      now: opts.now ?? Date.now,
    });
    this.#commits = new GroupCommits(this.#ctx);
    this.#policies = new GroupPolicies(this.#ctx, this.#commits, {
      keyUpdateIntervalMs: opts.keyUpdateIntervalMs,
      keyUpdateAfterMessages: opts.keyUpdateAfterMessages,
      now: opts.now ?? Date.now,
    });
    this.#credentials = new CredentialValidation(this.#ctx, opts.validateCredentials ?? true);
    this.#inbox = new Inbox(this.#ctx, this.#keyPackages, this.#commits, this.#policies, this.#credentials);
    this.#deviceCheckIntervalMs = opts.deviceCheckIntervalMs ?? 5 * 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Opens a client from its store: an empty store gives an unregistered client. */
  static async open(opts: ClientOptions): Promise<Client> {
    const c = new Client(opts);
    await c.#session.load();
    await c.#inbox.load();
    await c.#groups.load();
    await c.#policies.load();
    return c;
  }

  /** Whether this store holds a registered device. */
  get registered(): boolean {
    return this.#session.registered;
  }
  /**
   * The user name of this device's account.
   * @throws ApiError `AUTH_REQUIRED` (not registered yet).
   */
  get user(): string {
    return this.#session.need().user;
  }
  /** "user@domain#device" */
  get identity(): string {
    return this.#session.identity;
  }
  /** Ids (base64url) of the groups this device is an active member of. */
  get groups(): string[] {
    return this.#groups.active;
  }
  /** How many of our commits the DS refused with EPOCH_MISMATCH (each was caught up and retried). */
  get commitConflicts(): number {
    return this.#commits.conflicts;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------------------
  // Registration, tokens and KeyPackages (AS, RFC 9750 §4; DS, §5.1)

  /**
   * Registers this device: claims the user name with `proof` (the server's
   * verifier decides which kind it takes: an invite token by default) unless
   * `recoveryCode` is given (rejoining an account whose devices are all lost),
   * proves possession of fresh keys, has the AS issue its credential (checked
   * in the transparency log), and stocks the DS with KeyPackages. Returns the
   * account's recovery code: show it once, for the user to keep offline.
   * Further devices join by linking (requestLink / approveDevice / completeLink).
   * @throws ApiError `CLIENT_EXISTS` (this store already holds a device), `INVALID_NAME`, `ACCOUNT_EXISTS`,
   * `NAME_PROOF_INVALID`, `RECOVERY_CODE_INVALID`, `CLIENT_EXISTS` (the device name is taken), `SIGNATURE_KEY_IN_USE`,
   * `AUTH_SIGNATURE_INVALID` (the AS's credential or log proof does not check out).
   */
  async register(user: string, device: string, opts: { proof?: NameProof; recoveryCode?: string; cipherSuite?: CipherSuiteId } = {}): Promise<{ recoveryCode: string }> {
    const r = await this.#session.register(user, device, opts);
    await this.#afterRegistration();
    return r;
  }

  async #afterRegistration(): Promise<void> {
    await this.#credentials.issueOwn();
    await this.#keyPackages.ensure();
  }

  /**
   * Device linking, on the new device: its QR payload and the short code to compare (session.ts).
   * @throws ApiError `CLIENT_EXISTS` (this store already holds a device).
   */
  requestLink(user: string, device: string, cipherSuite?: CipherSuiteId): Promise<{ payload: string; code: string }> {
    return this.#session.requestLink(user, device, cipherSuite);
  }

  /**
   * Device linking, on the new device once an existing one approved it: registers, gets its credential and KeyPackages.
   * @throws ApiError `DEVICE_NOT_APPROVED` (no link request pending here, or no valid approval on the server), `CLIENT_EXISTS`.
   */
  async completeLink(): Promise<void> {
    await this.#session.completeLink();
    await this.#afterRegistration();
  }

  /**
   * Device linking, on an existing device: approves the scanned payload; returns the device name and short code to compare.
   * @throws ApiError `AUTH_REQUIRED` (not registered), `BAD_REQUEST` (not a link request), `FORBIDDEN` (a request for another user),
   * `CLIENT_EXISTS` (the device name is taken).
   */
  approveDevice(payload: string): Promise<{ device: string; code: string; expiresAt: number }> {
    return this.#session.approveDevice(payload);
  }

  /**
   * Revokes another device of this account (its credentials and tokens with it).
   * @throws ApiError `AUTH_REQUIRED` (not registered), `CLIENT_NOT_FOUND`.
   */
  revokeDevice(device: string): Promise<RevokeClientResponse> {
    return this.#session.revokeDevice(device);
  }

  /** Replaces the account's recovery code; returns the new one. */
  rotateRecoveryCode(): Promise<string> {
    return this.#session.rotateRecoveryCode();
  }

  /**
   * Reads every transparency-log leaf added since the last audit, checks they
   * make up the AS's signed tree, and returns this account's device changes
   * the log holds but the AS did not list (deviceAudit.ts): each is an alarm.
   */
  auditDevices(): Promise<DeviceAuditResult> {
    return auditDevices(this.#ctx, this.#credentials);
  }

  /**
   * Devices added to or revoked from this account since the last call (the
   * first call reports all so far): check them, a device you do not know is
   * an alarm. Poll it, e.g. beside events().
   */
  deviceChanges(): Promise<DeviceChangeEvent[]> {
    return this.#session.deviceChanges((c, identity) =>
      this.#credentials.inLog(
        c.logIndex,
        (leaf) =>
          leaf.identity === identity &&
          leaf.credentialType === (c.kind === "added" ? DEVICE_ADDED_LEAF_TYPE : DEVICE_REVOKED_LEAF_TYPE) &&
          toBase64Url(leaf.signatureKey) === c.signatureKey &&
          leaf.timestamp === c.at,
      ),
    );
  }

  /**
   * Calls `listener` with each device added to or revoked from this account
   * (issue 23), as sync() and events() learn of them: pushed by the DS stream,
   * and read on the first sync after open for clients that were offline.
   * While any listener is registered, sync() consumes the changes that
   * deviceChanges() would otherwise return. Returns the unsubscribe function.
   */
  onDeviceChange(listener: (e: DeviceChangeEvent) => void): () => void {
    this.#deviceListeners.add(listener);
    return () => {
      this.#deviceListeners.delete(listener);
    };
  }

  async #reportDeviceChanges(): Promise<void> {
    if (this.#deviceListeners.size === 0) return;
    const now = this.#now();
    if (!this.#devicesDue && now - this.#devicesCheckedAt < this.#deviceCheckIntervalMs) return;
    this.#devicesDue = false;
    this.#devicesCheckedAt = now;
    let changes: DeviceChangeEvent[];
    try {
      changes = await this.deviceChanges();
    } catch (e) {
      this.#devicesDue = true;
      throw e;
    }
    for (const e of changes) for (const l of [...this.#deviceListeners]) l(e);
  }

  /**
   * A device registered before auth keys (issue 23) binds one, proving its
   * signature key; it also happens by itself at its first login. Returns the
   * account's first recovery code if the upgrade brought one (an account from
   * before recovery codes): show it once, for the user to keep offline.
   */
  upgrade(): Promise<{ recoveryCode?: string }> {
    return this.#session.upgrade();
  }

  /** Obtains a fresh bearer token with the deniable login handshake. */
  login(): Promise<void> {
    return this.#session.login();
  }

  /** The current bearer token (for the WebSocket stream). */
  token(): Promise<string> {
    return this.#session.token();
  }

  /** Tops up the DS: a batch when below the low-water mark, and a last-resort KeyPackage if none is there. */
  ensureKeyPackages(): Promise<number> {
    return this.#keyPackages.ensure();
  }

  // ---------------------------------------------------------------------------
  // Groups

  /**
   * The Group object (read-only use: epoch, members, exporter).
   * @throws ApiError `GROUP_NOT_FOUND` (not a group of this device), `NOT_GROUP_MEMBER` (removed from it).
   */
  group(groupId: string): Group {
    return this.#groups.get(groupId);
  }

  /**
   * The client identities ("user@domain#device") of the group's members.
   * @throws ApiError `GROUP_NOT_FOUND`, `NOT_GROUP_MEMBER`, as {@link Client.group}.
   */
  members(groupId: string): string[] {
    return this.#groups.get(groupId).members.map(memberIdentity);
  }

  /**
   * Creates a one-member group and registers it with the DS. Returns its id (base64url).
   * With `handshakes: "private"` the group is opaque (RFC 9750 §5.3): its handshakes are
   * encrypted, the DS keeps every commit of an epoch, and members apply the first valid one
   * and report the others (docs/security.md says what this mode can and cannot prevent).
   * @throws ApiError `AUTH_REQUIRED` (not registered), `GROUP_EXISTS` (an id collision).
   */
  createGroup(options: { readonly handshakes?: HandshakePolicy } = {}): Promise<string> {
    return this.#exclusive(async () => {
      // The DS is an external sender of our groups (RFC 9420 §12.1.8.1): it proposes the removal of revoked devices.
      const ds = await this.#session.call<ExternalSenderResponse>("externalSender", { query: { cipherSuite: String(this.#session.cipherSuite) } });
      const opaque = options.handshakes === "private";
      const g = await Group.create({
        provider: this.#ctx.provider,
        cipherSuite: this.#session.cipherSuite,
        identity: this.#session.signing(),
        capabilities: LEAF_CAPABILITIES,
        extensions: [
          { extensionType: ExtensionType.externalSenders, extensionData: fromBase64Url(ds.extension) },
          ...(opaque ? [groupPolicyExtension({ externalJoin: "closed", handshakes: "private" })] : []),
        ],
        config: opaque ? OPAQUE_GROUP_CONFIG : GROUP_CONFIG,
      });
      const groupId = toBase64Url(g.groupId);
      // The DS starts its public state of the group from this GroupInfo (issue 17).
      await this.#session.call<GroupResponse>("createGroup", { json: { groupId, groupInfo: toBase64Url(await g.groupInfo({ ratchetTree: true })) } });
      await this.#groups.set(groupId, g);
      await this.#policies.updated(groupId);
      return groupId;
    });
  }

  /**
   * Adds every device of `user` (RFC 9750 §3: a user is all its clients) in
   * one commit. Devices already in the group are skipped, so adding a user
   * again brings in their new devices. Returns the identities added.
   * @throws ApiError `GROUP_NOT_FOUND` / `NOT_GROUP_MEMBER` (not our group), `KEY_PACKAGE_NOT_FOUND` (no device of `user`
   * has a KeyPackage), `LEAF_NODE_INVALID_CREDENTIAL` (the AS vouches for none of them), `EPOCH_MISMATCH` (gave up after
   * repeated conflicting commits).
   */
  addUser(groupId: string, user: string): Promise<string[]> {
    return this.#exclusive(async () => {
      this.#groups.get(groupId); // unknown group: fail before claiming anyone's KeyPackages
      const claimed = await this.#session.call<ClaimKeyPackagesResponse>("claimKeyPackages", { params: { user }, json: { cipherSuites: [this.#session.cipherSuite] } });
      const { trusted, refused } = await this.#trustedKeyPackages(groupId, user, claimed);
      const pending = await this.#commits.commit(groupId, async (g) => {
        const present = new Set(g.members.map(memberIdentity));
        const kps = trusted.filter((k) => !present.has(k.identity) && k.identity !== this.identity);
        if (kps.length === 0) return undefined;
        return { pending: await g.createCommit({ add: kps.map((k) => fromBase64Url(k.keyPackage)) }) };
      });
      if (pending === undefined) {
        if (claimed.keyPackages.length === 0) throw new ApiError("KEY_PACKAGE_NOT_FOUND", `no KeyPackages available for ${user}`);
        if (refused.length > 0 && trusted.length === 0) throw new ApiError("LEAF_NODE_INVALID_CREDENTIAL", `the AS does not vouch for ${refused.join(", ")}`);
        return [];
      }
      const g = this.#groups.get(groupId);
      return pending.added.map((a) => memberIdentity(g.member(a.leafIndex)!));
    });
  }

  /**
   * The claimed KeyPackages whose credential the AS validates against `user` (RFC 9750 §4); each
   * refused device is reported as an "untrusted" event by the next sync.
   */
  async #trustedKeyPackages(groupId: string, user: string, claimed: ClaimKeyPackagesResponse) {
    const trusted: ClaimKeyPackagesResponse["keyPackages"] = [];
    const refused: string[] = [];
    const g = this.#groups.get(groupId);
    const domain = this.#session.need().domain;
    for (const k of claimed.keyPackages) {
      if (this.#credentials.enabled) {
        const m = decode(mlsMessageCodec, fromBase64Url(k.keyPackage));
        const leaf = m.wireFormat === WireFormat.keyPackage ? m.keyPackage.leafNode : undefined;
        const v = leaf === undefined ? undefined : await this.#credentials.validate(leaf, g.cipherSuite, user.includes("@") ? user : `${user}@${domain}`);
        if (v?.valid !== true) {
          refused.push(`${k.identity} (${v?.failure ?? "not a KeyPackage"})`);
          this.#commits.report({ type: "untrusted", groupId, epoch: g.epoch, member: k.identity, reason: v?.failure ?? "invalid" });
          continue;
        }
      }
      trusted.push(k);
    }
    return { trusted, refused };
  }

  /**
   * Device-add flow: brings this user's other devices (e.g. a newly
   * registered laptop) into every group this device is in. Returns, per
   * group, the identities added.
   * @throws ApiError as {@link Client.addUser}, except `KEY_PACKAGE_NOT_FOUND` (no other device: nothing added).
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

  /**
   * Removes every device of `who`: a user name ("bob"), a user of a domain ("bob@b.example"), or one client
   * identity ("bob@domain#phone").
   * @throws ApiError `INVALID_ROSTER_CHANGE` (`who` is not in the group), `GROUP_NOT_FOUND` / `NOT_GROUP_MEMBER`, `EPOCH_MISMATCH`.
   */
  removeMember(groupId: string, who: string): Promise<string[]> {
    return this.#exclusive(async () => {
      let gone: string[] = [];
      await this.#commits.commit(groupId, async (g) => {
        const targets = g.members.filter((m) => {
          const id = memberIdentity(m);
          // "bob" is a user of any domain; "bob@b.example" one user of b.example (federation); else one client.
          return id !== this.identity && (id === who || id.startsWith(who.includes("@") ? `${who}#` : `${who}@`));
        });
        if (targets.length === 0) throw new ApiError("INVALID_ROSTER_CHANGE", `${who} is not in group ${groupId}`);
        gone = targets.map(memberIdentity);
        return { pending: await g.createCommit({ remove: targets.map((m) => m.leafIndex as LeafIndex) }) };
      });
      return gone;
    });
  }

  /**
   * An empty commit with a path: rotates our leaf keys and the group's epoch secrets (RFC 9420 §12.4).
   * @throws ApiError `GROUP_NOT_FOUND` / `NOT_GROUP_MEMBER`, `EPOCH_MISMATCH`.
   */
  update(groupId: string): Promise<bigint> {
    return this.#exclusive(async () => {
      await this.#commits.commit(groupId, async (g) => ({ pending: await g.createCommit() }));
      await this.#policies.updated(groupId);
      return this.#groups.get(groupId).epoch;
    });
  }

  /**
   * Leaves the group with a SelfRemove proposal (draft-ietf-mls-extensions): we cannot commit our own
   * removal, so another member's client commits it. Until then we stay a member; sync re-sends the
   * proposal in each new epoch that did not remove us. The removal arrives as a `membership` event
   * with `selfRemoved: true`.
   */
  leave(groupId: string): Promise<void> {
    return this.#exclusive(() => this.#policies.leave(groupId));
  }

  /**
   * Recovery after local state loss (RFC 9750 §6.6): rejoins `groupId` by external commit from the
   * GroupInfo the DS keeps, removing the leaf our lost state occupied (resync, RFC 9420 §12.4.3.2).
   * Messages of the epochs we lost stay unreadable. Returns the new epoch.
   * @throws ApiError `GROUP_INFO_NOT_FOUND` (the DS has no GroupInfo of the group), `UNEXPECTED_WIRE_FORMAT`, `RESYNC_REFUSED`,
   * `GROUP_CLOSED`; MlsError codes of a GroupInfo that does not verify (e.g. `GROUP_INFO_INVALID_SIGNATURE`).
   */
  recover(groupId: string): Promise<bigint> {
    return this.#exclusive(async () => {
      const group = await rejoinByExternalCommit(this.#ctx, this.#commits, groupId);
      await this.#policies.updated(groupId);
      return group.epoch;
    });
  }

  /**
   * Encrypts and sends an application message.
   * @throws ApiError `GROUP_NOT_FOUND` / `NOT_GROUP_MEMBER` (also when the epoch the message was retried in removed us),
   * `PAYLOAD_TOO_LARGE`.
   */
  send(groupId: string, message: string | Uint8Array): Promise<void> {
    return this.#exclusive(async () => {
      const g = this.#groups.get(groupId);
      const data = typeof message === "string" ? enc.encode(message) : message;
      this.#policies.countMessage(groupId);
      // Re-encrypted in the new epoch after a 409; NOT_GROUP_MEMBER if that epoch removed us.
      await this.#commits.post(groupId, g, () => this.#groups.get(groupId).encryptApplicationMessage(data));
    });
  }

  /** Safety number material: the epoch authenticator (RFC 9420 §8.7), equal for every member of the epoch. */
  epochAuthenticator(groupId: string): Uint8Array {
    return this.#groups.get(groupId).epochAuthenticator;
  }

  /** A short decimal rendering of the epoch authenticator for comparing out of band. */
  safetyNumber(groupId: string): string {
    return safetyNumber(this.epochAuthenticator(groupId));
  }

  // ---------------------------------------------------------------------------
  // Receiving

  /**
   * Fetches the DS queue, processes every entry, persists the state and only
   * then acknowledges; then runs the group policies. Also reports the commits
   * applied while catching up before a retried commit of ours.
   * @throws ApiError `AUTH_REQUIRED` (not registered). A message that does not process becomes an event, not an error.
   */
  sync(): Promise<ClientEvent[]> {
    return this.#exclusive(async () => {
      await this.#reportDeviceChanges();
      const received = await this.#inbox.drain();
      await this.#keyPackages.ensureNowAndThen();
      return [...this.#commits.takeMissed(), ...received, ...(await this.#policies.run())];
    });
  }

  /**
   * Received events as an async iterator: woken by the DS WebSocket stream
   * when it is available, and by polling every `pollMs` otherwise.
   */
  async *events(opts: { signal?: AbortSignal; pollMs?: number } = {}): AsyncGenerator<ClientEvent> {
    const pollMs = opts.pollMs ?? 1000;
    let wake: (() => void) | undefined;
    // A frame that arrives while a sync runs finds no waiter: remembered, the next wait ends at once.
    let woken = false;
    let ws: { close(): void } | undefined;
    try {
      // #platform: `ws` with a header on Node, the browser's WebSocket with ?token= in browsers.
      ws = await openStream(this.transport.wsUrl("/v1/stream"), await this.token(), (frame) => {
        if (isDeviceFrame(frame)) this.#devicesDue = true;
        woken = true;
        wake?.();
      });
    } catch {
      ws = undefined;
    }
    const onAbort = () => wake?.();
    opts.signal?.addEventListener("abort", onAbort);
    try {
      while (opts.signal?.aborted !== true) {
        woken = false;
        for (const ev of await this.sync()) yield ev;
        await new Promise<void>((resolve) => {
          if (opts.signal?.aborted === true || woken) return resolve(); // aborted or woken while syncing: its wake found no waiter
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

/** A `{ "type": "device", change }` frame of the DS stream (StreamServerFrame). */
function isDeviceFrame(frame: string): boolean {
  try {
    return (JSON.parse(frame) as { type?: unknown }).type === "device";
  } catch {
    return false;
  }
}
