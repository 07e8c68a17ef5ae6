/**
 * The node provider with every crypto entry point the library calls counted:
 * calls per primitive, and the bytes fed to hashing (hash, MAC, HKDF, HPKE
 * info, signed and verified messages). Tests use it to prove a property by
 * counting work instead of timing it (linear adds; the benchmark's crypto
 * floor never counting more than the library really does).
 */
import { buildCipherSuite, type CipherSuite, type CryptoPrimitives, type CryptoProvider } from "../../src/crypto/index.js";
import type { HkdfSha256Prk } from "../../src/crypto/hmacSha256.js";
import { wrappedNodeProvider } from "../group-support.js";

/** Calls per primitive and bytes hashed since the last reset. */
export interface CryptoTally {
  hash: number;
  mac: number;
  /** HKDF-Extract and HKDF-Expand calls, through any entry point (kdfExtract, kdfExpand, a prepared PRK). */
  kdf: number;
  /** AEAD seals and opens (async or synchronous). */
  aead: number;
  /** HPKE SealBase calls: single-shot ones and each recipient of a prepared sealer. */
  seal: number;
  /** Single-shot hpkeSeal calls (each hashes its info again). */
  singleShotSeals: number;
  /** Prepared sealers made (info hashed once for all their recipients). */
  sealers: number;
  open: number;
  derive: number;
  sign: number;
  verify: number;
  /** Bytes fed to a hash: hash, MAC, HKDF inputs, HPKE's info (each seal, sealer or open), signed and verified messages. */
  hashed: number;
  /** Bytes of HPKE info hashed. */
  hpkeInfo: number;
}

const zero = (): CryptoTally => ({ hash: 0, mac: 0, kdf: 0, aead: 0, seal: 0, singleShotSeals: 0, sealers: 0, open: 0, derive: 0, sign: 0, verify: 0, hashed: 0, hpkeInfo: 0 });

export interface CountingProvider {
  provider: CryptoProvider;
  tally: CryptoTally;
  reset(): void;
  /** The tally since the last reset, copied. */
  take(): CryptoTally;
}

export function countingProvider(name = "counted-node"): CountingProvider {
  const tally = zero();
  const hashed = <T>(n: number, result: () => T): T => {
    tally.hashed += n;
    return result();
  };
  const info = <T>(n: number, result: () => T): T => {
    tally.hpkeInfo += n;
    return hashed(n, result);
  };
  const countedPrk = (h: HkdfSha256Prk): HkdfSha256Prk => ({
    expand(i, length, out) {
      tally.kdf++;
      return hashed(i.length, () => h.expand(i, length, out));
    },
    expandParts(a, b, c, length, out) {
      tally.kdf++;
      return hashed(a.length + b.length + c.length, () => h.expandParts(a, b, c, length, out));
    },
    destroy: () => h.destroy(),
  });
  const wrap = (base: CipherSuite): CipherSuite => {
    const { aeadSealNow, aeadOpenNow, hkdfSha256Prk } = base;
    const p: CryptoPrimitives = {
      ...base,
      hash(d) {
        tally.hash++;
        return hashed(d.length, () => base.hash(d));
      },
      mac(k, d) {
        tally.mac++;
        return hashed(d.length, () => base.mac(k, d));
      },
      kdfExtract(s, ikm) {
        tally.kdf++;
        return hashed(ikm.length, () => base.kdfExtract(s, ikm));
      },
      kdfExpand(prk, i, l) {
        tally.kdf++;
        return hashed(i.length, () => base.kdfExpand(prk, i, l));
      },
      ...(hkdfSha256Prk === undefined ? {} : { hkdfSha256Prk: (key: Uint8Array) => countedPrk(hkdfSha256Prk(key)) }),
      aeadSeal(...args) {
        tally.aead++;
        return base.aeadSeal(...args);
      },
      aeadOpen(...args) {
        tally.aead++;
        return base.aeadOpen(...args);
      },
      ...(aeadSealNow === undefined
        ? {}
        : {
            aeadSealNow: (...args: Parameters<typeof aeadSealNow>) => {
              tally.aead++;
              return aeadSealNow(...args);
            },
          }),
      ...(aeadOpenNow === undefined
        ? {}
        : {
            aeadOpenNow: (...args: Parameters<typeof aeadOpenNow>) => {
              tally.aead++;
              return aeadOpenNow(...args);
            },
          }),
      hpkeSeal(pk, i, aad, pt) {
        tally.seal++;
        tally.singleShotSeals++;
        return info(i.length, () => base.hpkeSeal(pk, i, aad, pt));
      },
      hpkeSealer(i) {
        tally.sealers++;
        const seal = info(i.length, () => base.hpkeSealer(i));
        return (pk, aad, pt) => {
          tally.seal++;
          return seal(pk, aad, pt);
        };
      },
      hpkeOpen(sk, enc, i, aad, ct) {
        tally.open++;
        return info(i.length, () => base.hpkeOpen(sk, enc, i, aad, ct));
      },
      hpkeDeriveKeyPair(ikm) {
        tally.derive++;
        return base.hpkeDeriveKeyPair(ikm);
      },
      sign(sk, m) {
        tally.sign++;
        return hashed(m.length, () => base.sign(sk, m));
      },
      verify(pk, m, s) {
        tally.verify++;
        return hashed(m.length, () => base.verify(pk, m, s));
      },
    };
    return buildCipherSuite(p);
  };
  const reset = () => Object.assign(tally, zero());
  return { provider: wrappedNodeProvider(name, wrap), tally, reset, take: () => ({ ...tally }) };
}
