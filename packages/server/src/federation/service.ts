/**
 * Federation assembled (issue 22): the domain key, peer keys and pins, the
 * request checker, the signed client, and the admin view. Installed by
 * createConclaveServer when `federation` options are given (index.ts).
 */
import { FEDERATION_VERSION, toBase64Url, type FederationAdminResponse, type FederationDocument } from "@conclave/api";
import type { CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";
import { loadOrCreateDomainKey, type DomainKey } from "./domainKey.js";
import { FederationStore } from "./federationStore.js";
import { resolveFederationOptions, type FederationOptions, type ResolvedFederationOptions } from "./options.js";
import { PeerClient } from "./peerClient.js";
import { PeerKeys } from "./peerKeys.js";
import { RemoteIdentity } from "./remoteIdentity.js";
import { RemoteMembers } from "./remoteMembers.js";
import { RequestAuth } from "./requestAuth.js";

export interface FederationServiceOptions {
  readonly store: Store;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly domain: string;
  readonly keyEncryptionKey?: Uint8Array;
  readonly options: FederationOptions;
  /** The AS transparency-log key, published with the domain key. */
  readonly logPublicKey: Uint8Array;
}

export class FederationService {
  /** Credentials of other domains, validated by their AS and checked against their logs. */
  readonly identity: RemoteIdentity;
  /** Other domains' members of groups hubbed here, as local stand-ins. */
  readonly members: RemoteMembers;

  private constructor(
    readonly domain: string,
    readonly options: ResolvedFederationOptions,
    readonly key: DomainKey,
    readonly store: FederationStore,
    readonly peers: PeerKeys,
    readonly auth: RequestAuth,
    readonly client: PeerClient,
    readonly clock: Clock,
    private readonly logPublicKey: Uint8Array,
    crypto: CryptoProvider,
    serverStore: Store,
  ) {
    this.identity = new RemoteIdentity(this, crypto);
    this.members = new RemoteMembers(this, serverStore, crypto);
  }

  static async create(o: FederationServiceOptions): Promise<FederationService> {
    const options = resolveFederationOptions(o.options);
    const key = await loadOrCreateDomainKey(o.store, o.crypto, o.clock, o.keyEncryptionKey);
    const store = new FederationStore(o.store);
    const peers = new PeerKeys(options, store, o.clock);
    await peers.applyConfigured();
    const auth = new RequestAuth(options, o.domain, key, peers, store, o.clock);
    const client = new PeerClient(options, o.domain, key, peers, o.clock);
    return new FederationService(o.domain, options, key, store, peers, auth, client, o.clock, o.logPublicKey, o.crypto, o.store);
  }

  document(): FederationDocument {
    return {
      version: FEDERATION_VERSION,
      domain: this.domain,
      signatureKey: toBase64Url(this.key.publicKey),
      endpoint: `${this.options.publicUrl}/federation/v1`,
      api: `${this.options.publicUrl}/v1`,
      logPublicKey: toBase64Url(this.logPublicKey),
    };
  }

  async adminView(): Promise<FederationAdminResponse> {
    const pins = new Map((await this.store.pins()).map((p) => [p.domain, p]));
    const domains = new Set([...this.options.peers.keys(), ...pins.keys()]);
    return {
      domain: this.domain,
      signatureKey: toBase64Url(this.key.publicKey),
      peers: [...domains].sort().map((d) => {
        const p = pins.get(d);
        return {
          domain: d,
          signatureKey: p === undefined ? null : toBase64Url(p.signatureKey),
          source: p?.source ?? null,
          pinnedAt: p?.pinnedAt ?? null,
          url: this.options.peers.get(d) ?? null,
          allowed: this.peers.isAllowed(d),
        };
      }),
      events: await this.store.events(),
    };
  }
}
