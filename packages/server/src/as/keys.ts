/**
 * The AS's own long-lived keys, kept in the store (table server_keys) so every
 * server process sharing a database uses the same ones: created on first
 * start (first writer wins when several processes start at once), loaded
 * afterwards.
 *
 * - "as-ca": the X.509 root (ECDSA P-256): PKCS#8 private key, SPKI, root DER.
 * - "transparency-log": the tree-head signing key, a signature key pair of
 *   cipher suite 1 (Ed25519), raw MLS form.
 *
 * The private keys sit in the database unencrypted: protect the database (or
 * its backups) as you would the keys. RFC 9750 §8.4.3 recommends an HSM for
 * the root key; that would replace this module.
 */
import { TRANSPARENCY_SUITE, type TreeHead } from "@conclave/api";
import { encodeTreeHeadTBS, TREE_HEAD_LABEL } from "@conclave/api";
import type { CipherSuite, CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";
import { CA_KEY_ALGORITHM_NAME, CertificateAuthority } from "./ca.js";

export const CA_KEY_NAME = "as-ca";
export const LOG_KEY_NAME = "transparency-log";

export interface LogKey {
  readonly suite: CipherSuite;
  readonly publicKey: Uint8Array;
  sign(head: TreeHead): Promise<Uint8Array>;
}

export interface AsKeys {
  readonly ca: CertificateAuthority;
  readonly log: LogKey;
}

export async function loadOrCreateAsKeys(store: Store, crypto: CryptoProvider, domain: string, clock: Clock): Promise<AsKeys> {
  let caRecord = await store.keys.get(CA_KEY_NAME);
  if (caRecord === undefined) {
    const fresh = await CertificateAuthority.create(domain, clock());
    caRecord = await store.keys.putIfAbsent({
      name: CA_KEY_NAME,
      algorithm: CA_KEY_ALGORITHM_NAME,
      privateKey: fresh.material.privateKey,
      publicKey: fresh.material.publicKey,
      certificate: fresh.material.certificate,
      createdAt: clock(),
    });
  }
  if (caRecord.certificate === null) throw new Error("server key as-ca has no certificate");
  const ca = await CertificateAuthority.load({ privateKey: caRecord.privateKey, publicKey: caRecord.publicKey, certificate: caRecord.certificate });

  const suite = crypto.suite(TRANSPARENCY_SUITE);
  let logRecord = await store.keys.get(LOG_KEY_NAME);
  if (logRecord === undefined) {
    const kp = await suite.signatureGenerateKeyPair();
    logRecord = await store.keys.putIfAbsent({
      name: LOG_KEY_NAME,
      algorithm: `mls-suite-${TRANSPARENCY_SUITE}`,
      privateKey: kp.privateKey,
      publicKey: kp.publicKey,
      certificate: null,
      createdAt: clock(),
    });
  }
  const logPrivate = logRecord.privateKey;
  const log: LogKey = {
    suite,
    publicKey: logRecord.publicKey,
    sign: (head) => suite.signWithLabel(logPrivate, TREE_HEAD_LABEL, encodeTreeHeadTBS(head)),
  };
  return { ca, log };
}
