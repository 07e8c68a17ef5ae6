/**
 * The Authentication Service (RFC 9750 §4) assembled: keys, client
 * authentication, accounts and clients, credentials, validation, the
 * transparency log. HTTP routes (http/routes/*.ts) are thin wrappers over this.
 */
import { toBase64Url, TRANSPARENCY_SUITE, type AsKeysResponse } from "@conclave/api";
import type { CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import { ClientAuth } from "../auth/clientAuth.js";
import type { Store } from "../storage/store.js";
import { CredentialService } from "./credentials.js";
import { loadOrCreateAsKeys, type AsKeys } from "./keys.js";
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
}

export class AuthenticationService {
  private constructor(
    readonly keys: AsKeys,
    readonly auth: ClientAuth,
    readonly registrar: Registrar,
    readonly credentials: CredentialService,
    readonly validator: CredentialValidator,
    readonly log: TransparencyLog,
    readonly domain: string,
  ) {}

  static async create(o: AuthenticationServiceOptions): Promise<AuthenticationService> {
    const keys = await loadOrCreateAsKeys(o.store, o.crypto, o.domain, o.clock, o.keyEncryptionKey);
    const log = new TransparencyLog(keys.log.sign);
    await o.store.transaction((tx) => log.initialise(tx, o.clock()));
    const auth = new ClientAuth(o);
    const registrar = new Registrar(o.store, auth, o.clock);
    const credentials = new CredentialService({ store: o.store, ca: keys.ca, log, clock: o.clock, domain: o.domain, credentialTtlMs: o.credentialTtlMs });
    const validator = new CredentialValidator(o.store, keys.ca, o.clock);
    return new AuthenticationService(keys, auth, registrar, credentials, validator, log, o.domain);
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
