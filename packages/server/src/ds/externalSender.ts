/**
 * The DS as an external sender (RFC 9420 §12.1.8.1; issue 17 item 3): one
 * signature key per cipher suite, kept in server_keys like the AS keys (so
 * every process of the deployment signs with the same key, sealed under the
 * KEK). A group that lists it in `external_senders` lets the DS propose the
 * removal of a revoked client; its members commit the proposal.
 */
import { formatClientIdentity } from "@conclave/api";
import { CredentialType, utf8, type CipherSuiteId, type CryptoProvider, type ExternalSender } from "@conclave/mls";
import { keyRecord } from "../as/keys.js";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";
import type { DsSigningKey } from "./publicState/index.js";

export interface DsSender extends DsSigningKey {
  /** The `external_senders` entry a group lists to give the DS this power. */
  readonly sender: ExternalSender;
}

export class DsExternalSenders {
  readonly #keys = new Map<CipherSuiteId, Promise<DsSender>>();

  constructor(private readonly o: { readonly store: Store; readonly crypto: CryptoProvider; readonly clock: Clock; readonly domain: string; readonly keyEncryptionKey?: Uint8Array }) {}

  /** The DS's key for `suite`, created on first use (first writer wins across processes). */
  forSuite(suite: CipherSuiteId): Promise<DsSender> {
    let k = this.#keys.get(suite);
    if (k === undefined) {
      k = this.#load(suite);
      this.#keys.set(suite, k);
      k.catch(() => this.#keys.delete(suite));
    }
    return k;
  }

  async #load(suite: CipherSuiteId): Promise<DsSender> {
    const s = this.o.crypto.suite(suite);
    const name = `ds-external-sender-${suite}`;
    const r = await keyRecord(this.o.store, this.o.keyEncryptionKey, name, async () => {
      const kp = await s.signatureGenerateKeyPair();
      return { name, algorithm: `mls-suite-${suite}`, privateKey: kp.privateKey, publicKey: kp.publicKey, certificate: null, createdAt: this.o.clock() };
    });
    const identity = formatClientIdentity({ user: "delivery-service", domain: this.o.domain, device: "ds" });
    return {
      signaturePublicKey: r.publicKey,
      signaturePrivateKey: r.privateKey,
      sender: { signatureKey: r.publicKey, credential: { credentialType: CredentialType.basic, identity: utf8(identity) } },
    };
  }
}
