import { afterAll, describe, expect, it } from "vitest";
import { derivePskSecret, encodePskLabel, type PskEntry } from "../src/schedule/pskSecret.js";
import { toHex } from "../src/codec/bytes.js";
import { PskType, ResumptionPskUsage } from "../src/messages/enums.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError } from "../src/errors.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

interface PskVector {
  cipher_suite: number;
  psks: { psk_id: string; psk: string; psk_nonce: string }[];
  psk_secret: string;
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("psk_secret.json (RFC 9420 §8.4) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`psk_secret.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<PskVector[]>("psk_secret") : [];

  it.each(vectors.map((v) => [v.cipher_suite, v.psks.length, v] as const))("cipher suite %i, %i PSKs", (_id, _n, v) => {
    const cs = provider.suite(v.cipher_suite);
    const psks: PskEntry[] = v.psks.map((p) => ({
      id: { pskType: PskType.external, pskId: hex(p.psk_id), pskNonce: hex(p.psk_nonce) },
      psk: hex(p.psk),
    }));
    expect(toHex(derivePskSecret(cs, psks))).toBe(v.psk_secret);
    tally.pass();
  });
});

describe("psk_secret details", () => {
  const cs = nodeCryptoProvider.suite(1);

  it("encodes PSKLabel as PreSharedKeyID || uint16 index || uint16 count", () => {
    const label = encodePskLabel(
      { pskType: PskType.resumption, usage: ResumptionPskUsage.branch, pskGroupId: new Uint8Array([0xaa]), pskEpoch: 7n, pskNonce: new Uint8Array([0xbb, 0xcc]) },
      1,
      3,
    );
    expect(toHex(label)).toBe("02" + "03" + "01aa" + "0000000000000007" + "02bbcc" + "0001" + "0003");
  });

  it("depends on the order of the PSKs", () => {
    const a: PskEntry = { id: { pskType: PskType.external, pskId: new Uint8Array([1]), pskNonce: new Uint8Array(32) }, psk: new Uint8Array([1]) };
    const b: PskEntry = { id: { pskType: PskType.external, pskId: new Uint8Array([2]), pskNonce: new Uint8Array(32) }, psk: new Uint8Array([2]) };
    expect(toHex(derivePskSecret(cs, [a, b]))).not.toBe(toHex(derivePskSecret(cs, [b, a])));
    expect(toHex(derivePskSecret(cs, []))).toBe("00".repeat(32));
  });

  it("rejects more PSKs than PSKLabel.count can carry", () => {
    const e: PskEntry = { id: { pskType: PskType.external, pskId: new Uint8Array(0), pskNonce: new Uint8Array(0) }, psk: new Uint8Array(0) };
    try {
      derivePskSecret(cs, new Array<PskEntry>(0x10000).fill(e));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MlsError);
      expect((err as MlsError).code).toBe("PSK_INVALID");
    }
  });
});
