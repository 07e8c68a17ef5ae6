/**
 * The domain's federation signing key (issue 22): one Ed25519 key pair
 * (cipher suite 1's signature scheme), kept in server_keys as
 * "federation-domain" and sealed at rest with the server's key-encryption key
 * like the AS keys (as/keys.ts), so every process of a deployment signs with
 * the same key. Its public half is published at the well-known URL.
 */
import { FEDERATION_SIGNATURE_LABEL, TRANSPARENCY_SUITE } from "@conclave/api";
import type { CipherSuite, CryptoProvider } from "@conclave/mls";
import { keyRecord } from "../as/keys.js";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";

export const FEDERATION_KEY_NAME = "federation-domain";

export interface DomainKey {
  readonly suite: CipherSuite;
  readonly publicKey: Uint8Array;
  sign(content: Uint8Array): Promise<Uint8Array>;
}

export async function loadOrCreateDomainKey(store: Store, crypto: CryptoProvider, clock: Clock, kek: Uint8Array | undefined): Promise<DomainKey> {
  const suite = crypto.suite(TRANSPARENCY_SUITE);
  const record = await keyRecord(store, kek, FEDERATION_KEY_NAME, async () => {
    const kp = await suite.signatureGenerateKeyPair();
    return { name: FEDERATION_KEY_NAME, algorithm: `mls-suite-${TRANSPARENCY_SUITE}`, privateKey: kp.privateKey, publicKey: kp.publicKey, certificate: null, createdAt: clock() };
  });
  const privateKey = record.privateKey;
  return { suite, publicKey: record.publicKey, sign: (content) => suite.signWithLabel(privateKey, FEDERATION_SIGNATURE_LABEL, content) };
}
