/** KeyPackage creation (RFC 9420 §10) for every suite: valid by §10.1, canonical bytes, the right ref, last-resort marking. */
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8 } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { createKeyPackage, lifetimeFrom, validateKeyPackage } from "../src/group/index.js";
import { isLastResortKeyPackage } from "../src/messages/components.js";
import { CredentialType, ExtensionType, LeafNodeSource, WireFormat } from "../src/messages/enums.js";
import { keyPackageCodec } from "../src/messages/keyPackage.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { makeKeyPackageRef } from "../src/messages/refs.js";
import { NOW } from "./group-support.js";

describe("createKeyPackage", () => {
  for (const provider of [nodeCryptoProvider, webCryptoProvider]) {
    for (const suiteId of [1, 2, 3, 4, 5, 6, 7]) {
      it(`${provider.name} suite ${suiteId}`, async () => {
        const suite = provider.suite(suiteId);
        const sig = await suite.signatureGenerateKeyPair();
        const identity = { credential: { credentialType: CredentialType.basic, identity: utf8("kp-owner") }, signaturePrivateKey: sig.privateKey, signaturePublicKey: sig.publicKey };
        const bundle = await createKeyPackage({ suite, identity, lifetime: lifetimeFrom(NOW, 3600n), lastResort: suiteId === 1 });
        const kp = bundle.keyPackage;
        await validateKeyPackage(suite, kp, { now: NOW + 10n, maxLifetime: 3600n });
        // The MLSMessage decodes back to the same KeyPackage, re-encodes to the same bytes, and the ref is over those bytes.
        const m = decode(mlsMessageCodec, bundle.message);
        if (m.wireFormat !== WireFormat.keyPackage) throw new Error("not a KeyPackage");
        expect(encode(keyPackageCodec, m.keyPackage)).toEqual(bundle.message.subarray(4));
        expect(bundle.ref).toEqual(makeKeyPackageRef(suite, m.keyPackage));
        expect(kp.leafNode.leafNodeSource).toBe(LeafNodeSource.keyPackage);
        expect(kp.leafNode.capabilities.cipherSuites).toContain(suiteId);
        expect(kp.leafNode.capabilities.credentials).toContain(CredentialType.basic);
        expect(bytesEqual(await suite.hpkePublicKey(bundle.initPrivateKey), kp.initKey)).toBe(true);
        expect(bytesEqual(await suite.hpkePublicKey(bundle.encryptionPrivateKey), kp.leafNode.encryptionKey)).toBe(true);
        expect(bytesEqual(kp.initKey, kp.leafNode.encryptionKey)).toBe(false);
        expect(isLastResortKeyPackage(kp)).toBe(suiteId === 1);
        if (suiteId === 1) expect(kp.leafNode.capabilities.extensions).toContain(ExtensionType.appDataDictionary);
      });
    }
  }
});
