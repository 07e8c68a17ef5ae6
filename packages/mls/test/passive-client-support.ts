/**
 * Runs one passive-client test vector (mlswg test-vectors.md "Passive Client
 * Scenarios"): join with the Welcome, then follow every epoch's proposals and
 * commit, checking the epoch_authenticator after each step.
 */
import { afterAll, describe, expect, it } from "vitest";
import { bytesEqual, toHex } from "../src/codec/bytes.js";
import { decode } from "../src/codec/tls.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { WireFormat } from "../src/messages/enums.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { Group } from "../src/group/index.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

export interface PassiveClientVector {
  cipher_suite: number;
  external_psks: { psk_id: string; psk: string }[];
  key_package: string;
  signature_priv: string;
  encryption_priv: string;
  init_priv: string;
  welcome: string;
  ratchet_tree: string | null;
  initial_epoch_authenticator: string;
  epochs: { proposals: string[]; commit: string; epoch_authenticator: string }[];
}

function padTo(key: Uint8Array, n: number): Uint8Array {
  if (key.length >= n) return key;
  const out = new Uint8Array(n);
  out.set(key, n - key.length);
  return out;
}

export async function runPassiveClient(provider: CryptoProvider, tc: PassiveClientVector): Promise<void> {
  const suite = provider.suite(tc.cipher_suite);
  const kpMessage = decode(mlsMessageCodec, hex(tc.key_package));
  if (kpMessage.wireFormat !== WireFormat.keyPackage) throw new Error("key_package is not an MLSMessage(KeyPackage)");
  const keyPackage = kpMessage.keyPackage;
  // Some P-521 keys in the vectors drop the leading zero byte; RFC 9180 SerializePrivateKey is Nsk bytes.
  const initPrivateKey = padTo(hex(tc.init_priv), suite.params.nsk);
  const encryptionPrivateKey = padTo(hex(tc.encryption_priv), suite.params.nsk);
  const ecdsa = suite.params.signature.startsWith("ECDSA");
  const signaturePrivateKey = ecdsa ? padTo(hex(tc.signature_priv), suite.params.nsk) : hex(tc.signature_priv);
  // The vector's private keys belong to the KeyPackage's public keys.
  expect(toHex(await suite.hpkePublicKey(initPrivateKey))).toBe(toHex(keyPackage.initKey));
  expect(toHex(await suite.hpkePublicKey(encryptionPrivateKey))).toBe(toHex(keyPackage.leafNode.encryptionKey));
  expect(toHex(await suite.signaturePublicKey(signaturePrivateKey))).toBe(toHex(keyPackage.leafNode.signatureKey));

  const psks = tc.external_psks.map((p) => ({ id: hex(p.psk_id), psk: hex(p.psk) }));
  const group = await Group.join(hex(tc.welcome), {
    provider,
    keyPackages: [{ keyPackage, initPrivateKey, encryptionPrivateKey, signaturePrivateKey }],
    ...(tc.ratchet_tree === null ? {} : { ratchetTree: hex(tc.ratchet_tree) }),
    config: {
      // The vectors' leaves carry lifetimes chosen by other implementations.
      maxLifetime: undefined,
      externalPsks: (id) => psks.find((p) => bytesEqual(p.id, id))?.psk,
    },
  });
  expect(toHex(group.epochAuthenticator)).toBe(tc.initial_epoch_authenticator);

  for (const [i, epoch] of tc.epochs.entries()) {
    for (const p of epoch.proposals) {
      const r = await group.processMessage(hex(p));
      expect(r.kind).toBe("proposal");
    }
    const r = await group.processMessage(hex(epoch.commit));
    if (r.kind !== "commit") throw new Error(`epoch ${i}: expected a commit, got ${r.kind}`);
    group.mergeStagedCommit(r.staged);
    expect(toHex(group.epochAuthenticator), `epoch ${i}`).toBe(epoch.epoch_authenticator);
  }
}

/** Runs every case of one passive-client vector file with both providers, counting them. */
export function describePassiveClientVectors(name: string): void {
  const file = `${name}.json`;
  describe.skipIf(!haveVectors)(file, () => {
    const vectors = haveVectors ? loadVectors<PassiveClientVector[]>(name) : [];
    const tally = new VectorTally(file);
    afterAll(() => tally.report());
    for (const provider of [nodeCryptoProvider, webCryptoProvider]) {
      for (const [i, tc] of vectors.entries()) {
        it(`${provider.name}: case ${i} (suite ${tc.cipher_suite}, ${tc.epochs.length} epochs)`, async () => {
          await runPassiveClient(provider, tc);
          tally.pass();
        });
      }
    }
  });
}
