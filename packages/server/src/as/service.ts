/**
 * The Authentication Service (RFC 9750 §4) assembled: keys, client
 * authentication, accounts and clients, credentials, validation, the
 * transparency log. HTTP routes (http/routes/*.ts) are thin wrappers over this.
 */
import { toBase64Url, TRANSPARENCY_SUITE, type AsKeysResponse, type CreateInviteResponse } from "@conclave/api";
import type { CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import { ClientAuth } from "../auth/clientAuth.js";
import type { BucketStore } from "../http/rateLimit.js";
import type { Store } from "../storage/store.js";
import { AccountSweeper } from "./accountExpiry.js";
import { AccountLimits } from "./accountLimits.js";
import { resolveAccountOptions, type AccountOptions, type ResolvedAccountOptions } from "./accountOptions.js";
import { CredentialService } from "./credentials.js";
import { DeviceFeed } from "./deviceFeed.js";
import { DeviceManager } from "./devices.js";
import { loadOrCreateAsKeys, type AsKeys } from "./keys.js";
import { LegacyUpgrade } from "./legacyUpgrade.js";
import { createInvite, nameProofVerifier } from "./nameProof.js";
import { Registrar } from "./registration.js";
import { TransparencyLog } from "./transparencyLog.js";
import { CredentialValidator } from "./validation.js";

export interface AuthenticationServiceOptions {
  readonly store: Store;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly domain: string;
  readonly challengeTtlMs: number;
  readonly tokenTtlMs: number;
  readonly credentialTtlMs: number;
  /** Seals the AS private keys at rest (keyWrap.ts); 32 bytes. */
  readonly keyEncryptionKey?: Uint8Array;
  /** Name proofs, recovery codes, creation limits, expiry of unused accounts. */
  readonly accounts?: AccountOptions;
}

export class AuthenticationService {
  private constructor(
    readonly keys: AsKeys,
    readonly auth: ClientAuth,
    readonly registrar: Registrar,
    readonly devices: DeviceManager,
    /** Device changes as they commit: the DS pushes them on /v1/stream; issue 17's group removal may subscribe. */
    readonly deviceFeed: DeviceFeed,
    /** Devices registered before auth keys bind one (POST /v1/clients/upgrade). */
    readonly legacy: LegacyUpgrade,
    readonly sweeper: AccountSweeper,
    readonly accountOptions: ResolvedAccountOptions,
    readonly credentials: CredentialService,
    readonly validator: CredentialValidator,
    readonly log: TransparencyLog,
    readonly domain: string,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly limits: AccountLimits,
  ) {}

  static async create(o: AuthenticationServiceOptions): Promise<AuthenticationService> {
    const keys = await loadOrCreateAsKeys(o.store, o.crypto, o.domain, o.clock, o.keyEncryptionKey);
    const log = new TransparencyLog(keys.log.sign);
    await o.store.transaction((tx) => log.initialise(tx, o.clock()));
    const auth = new ClientAuth({ ...o, serverKey: keys.auth });
    const options = resolveAccountOptions(o.accounts);
    const limits = new AccountLimits(o.clock, options.creationPerIp, options.creationPerPrefix, options.recoveryAttempts);
    const feed = new DeviceFeed(o.store);
    const registrar = new Registrar({ store: o.store, auth, clock: o.clock, log, options, nameProof: nameProofVerifier(options.nameProof), limits, feed });
    const devices = new DeviceManager({ store: o.store, crypto: o.crypto, clock: o.clock, domain: o.domain, log, options, registrar, feed });
    const legacy = new LegacyUpgrade({ store: o.store, auth, clock: o.clock, options });
    const sweeper = new AccountSweeper(o.store, o.clock, options.unusedAccountTtlMs);
    const credentials = new CredentialService({ store: o.store, ca: keys.ca, log, clock: o.clock, domain: o.domain, credentialTtlMs: o.credentialTtlMs });
    const validator = new CredentialValidator(o.store, keys.ca, o.clock);
    return new AuthenticationService(keys, auth, registrar, devices, feed, legacy, sweeper, options, credentials, validator, log, o.domain, o.store, o.clock, limits);
  }

  /** Moves the account-creation and recovery-guess buckets into the server's shared rate-limit store. */
  shareLimits(store: BucketStore): void {
    this.limits.share(store);
  }

  /** A single-use invite token (admins; tests and tools in process). */
  createInvite(ttlMs = this.accountOptions.inviteTtlMs): Promise<CreateInviteResponse> {
    return this.store.transaction((tx) => createInvite(tx, this.clock(), ttlMs));
  }

  publicKeys(): AsKeysResponse {
    return {
      domain: this.domain,
      caCertificate: toBase64Url(this.keys.ca.rootCertificate),
      logPublicKey: toBase64Url(this.keys.log.publicKey),
      logCipherSuite: TRANSPARENCY_SUITE,
    };
  }
}
