/**
 * The AS's own long-lived keys, kept in the store (table server_keys) so every
 * server process sharing a database uses the same ones: created on first
 * start (first writer wins when several processes start at once), loaded
 * afterwards.
 *
 * - "as-ca": the X.509 root (ECDSA P-256): PKCS#8 private key, SPKI, root DER.
 * - "transparency-log": the tree-head signing key, a signature key pair of
 *   cipher suite 1 (Ed25519), raw MLS form.
 * - "ds-auth": the static X25519 key of the deniable client handshake
 *   (@conclave/api auth.ts), raw RFC 7748 form.
 *
 * With a key-encryption key the private keys are stored sealed (keyWrap.ts);
 * without one they sit in the database in the clear, and the server says so
 * at start-up. RFC 9750 §8.4.3 recommends an HSM for the root key; that would
 * replace this module.
 */
import { TRANSPARENCY_SUITE, x25519GenerateKeyPair, type TreeHead, type X25519KeyPair } from "@conclave/api";
import { encodeTreeHeadTBS, TREE_HEAD_LABEL } from "@conclave/api";
import type { CipherSuite, CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { Store } from "../storage/store.js";
import type { ServerKeyRecord } from "../storage/store.js";
import { CA_KEY_ALGORITHM_NAME, CertificateAuthority } from "./ca.js";
import { isSealed, openPrivateKey, sealPrivateKey } from "./keyWrap.js";

export const CA_KEY_NAME = "as-ca";
export const LOG_KEY_NAME = "transparency-log";
export const AUTH_KEY_NAME = "ds-auth";

export interface LogKey {
  readonly suite: CipherSuite;
  readonly publicKey: Uint8Array;
  sign(head: TreeHead): Promise<Uint8Array>;
}

export interface AsKeys {
  readonly ca: CertificateAuthority;
  readonly log: LogKey;
  /** The server's static X25519 key for client authentication. */
  readonly auth: X25519KeyPair;
}

/** The stored record of `name`, created by `make` when absent; returns it with its private key opened. */
export async function keyRecord(store: Store, kek: Uint8Array | undefined, name: string, make: () => Promise<ServerKeyRecord>): Promise<ServerKeyRecord> {
  let record = await store.keys.get(name);
  if (record === undefined) {
    const fresh = await make();
    const stored = kek === undefined ? fresh : { ...fresh, privateKey: sealPrivateKey(kek, name, fresh.algorithm, fresh.privateKey) };
    record = await store.keys.putIfAbsent(stored);
  } else if (kek !== undefined && !isSealed(record.privateKey)) {
    // Written before a KEK was configured: seal it now (another process may have just done so).
    const sealed = sealPrivateKey(kek, name, record.algorithm, record.privateKey);
    await store.keys.replacePrivateKey(name, record.privateKey, sealed);
    record = (await store.keys.get(name)) ?? record;
  }
  return { ...record, privateKey: openPrivateKey(kek, name, record.algorithm, record.privateKey) };
}

export async function loadOrCreateAsKeys(store: Store, crypto: CryptoProvider, domain: string, clock: Clock, kek?: Uint8Array): Promise<AsKeys> {
  const caRecord = await keyRecord(store, kek, CA_KEY_NAME, async () => {
    const fresh = await CertificateAuthority.create(domain, clock());
    return { name: CA_KEY_NAME, algorithm: CA_KEY_ALGORITHM_NAME, ...fresh.material, createdAt: clock() };
  });
  if (caRecord.certificate === null) throw new Error("server key as-ca has no certificate");
  const ca = await CertificateAuthority.load({ privateKey: caRecord.privateKey, publicKey: caRecord.publicKey, certificate: caRecord.certificate });

  const suite = crypto.suite(TRANSPARENCY_SUITE);
  const logRecord = await keyRecord(store, kek, LOG_KEY_NAME, async () => {
    const kp = await suite.signatureGenerateKeyPair();
    return { name: LOG_KEY_NAME, algorithm: `mls-suite-${TRANSPARENCY_SUITE}`, privateKey: kp.privateKey, publicKey: kp.publicKey, certificate: null, createdAt: clock() };
  });
  const logPrivate = logRecord.privateKey;
  const log: LogKey = {
    suite,
    publicKey: logRecord.publicKey,
    sign: (head) => suite.signWithLabel(logPrivate, TREE_HEAD_LABEL, encodeTreeHeadTBS(head)),
  };
  const authRecord = await keyRecord(store, kek, AUTH_KEY_NAME, async () => {
    const kp = await x25519GenerateKeyPair();
    return { name: AUTH_KEY_NAME, algorithm: "x25519", privateKey: kp.privateKey, publicKey: kp.publicKey, certificate: null, createdAt: clock() };
  });
  return { ca, log, auth: { privateKey: authRecord.privateKey, publicKey: authRecord.publicKey } };
}
