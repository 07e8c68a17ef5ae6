/**
 * DHKEM (RFC 9180 §4.1) and DeriveKeyPair (§7.1.3) over a node DH group.
 */
import type { KemAlgorithm, HashAlgorithm } from "../cipherSuite.js";
import { concatBytes, zeroize } from "../../codec/bytes.js";
import { MlsError } from "../../errors.js";
import { dhGroup } from "./dh.js";
import type { DhGroup } from "./dh.js";
import { labeledKdf } from "./labeledKdf.js";
import type { LabeledKdf } from "./labeledKdf.js";

/** RFC 9180 §7.1: each KEM's id, KDF hash and Nsecret. */
const KEMS: Readonly<Record<KemAlgorithm, { id: number; hash: HashAlgorithm; nsecret: number }>> = {
  "DHKEM-P256": { id: 0x0010, hash: "SHA-256", nsecret: 32 },
  "DHKEM-P384": { id: 0x0011, hash: "SHA-384", nsecret: 48 },
  "DHKEM-P521": { id: 0x0012, hash: "SHA-512", nsecret: 64 },
  "DHKEM-X25519": { id: 0x0020, hash: "SHA-256", nsecret: 32 },
  "DHKEM-X448": { id: 0x0021, hash: "SHA-512", nsecret: 64 },
};

const EMPTY = new Uint8Array(0);

export interface Kem {
  readonly id: number;
  readonly npk: number;
  readonly nsk: number;
  readonly nenc: number;
  encap(pkR: Uint8Array): { sharedSecret: Uint8Array; enc: Uint8Array };
  decap(enc: Uint8Array, skR: Uint8Array): Uint8Array;
  deriveKeyPair(ikm: Uint8Array): { privateKey: Uint8Array; publicKey: Uint8Array };
  generateKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array };
  publicKey(skR: Uint8Array): Uint8Array;
}

export function dhkem(alg: KemAlgorithm): Kem {
  const { id, hash, nsecret } = KEMS[alg];
  const group: DhGroup = dhGroup(alg);
  // suite_id = "KEM" || I2OSP(kem_id, 2)
  const kdf: LabeledKdf = labeledKdf(hash, nsecret, Uint8Array.of(0x4b, 0x45, 0x4d, id >> 8, id & 0xff));
  // The PRKs below live for one synchronous expansion and are wiped after it: they go in this off-heap
  // array rather than a fresh one, which V8 keeps on its heap and moves off (an ArrayBuffer allocated, the
  // bytes copied) when the native HMAC first reads it. Nothing here awaits, so uses cannot overlap.
  const prkScratch = new Uint8Array(new ArrayBuffer(kdf.nh));

  // RFC 9180 §4.1 ExtractAndExpand
  const extractAndExpand = (dh: Uint8Array, kemContext: Uint8Array): Uint8Array => {
    const prk = kdf.extract(EMPTY, "eae_prk", dh, prkScratch);
    const secret = kdf.expand(prk, "shared_secret", kemContext, nsecret);
    zeroize(prk);
    return secret;
  };

  const deriveKeyPair = (ikm: Uint8Array): { privateKey: Uint8Array; publicKey: Uint8Array } => {
    const prk = kdf.extract(EMPTY, "dkp_prk", ikm, prkScratch);
    try {
      if (group.bitmask === undefined) {
        // X25519 / X448: sk = LabeledExpand(dkp_prk, "sk", "", Nsk), used unclamped.
        const sk = kdf.expand(prk, "sk", EMPTY, group.nsk);
        return { privateKey: sk, publicKey: group.publicKey(sk) };
      }
      // NIST curves: rejection sampling over candidates with the top bits masked.
      for (let counter = 0; counter <= 255; counter++) {
        const bytes = kdf.expand(prk, "candidate", Uint8Array.of(counter), group.nsk);
        bytes[0]! &= group.bitmask;
        if (group.isValidPrivateKey(bytes)) return { privateKey: bytes, publicKey: group.publicKey(bytes) };
        zeroize(bytes);
      }
      throw new MlsError("CRYPTO_DERIVE_KEY_PAIR_FAILED", "DeriveKeyPair found no valid candidate");
    } finally {
      zeroize(prk);
    }
  };

  return {
    id,
    npk: group.npk,
    nsk: group.nsk,
    nenc: group.npk,
    encap(pkR) {
      const e = group.ephemeral();
      const dh = e.dh(pkR);
      const sharedSecret = extractAndExpand(dh, concatBytes(e.publicKey, pkR));
      zeroize(dh);
      return { sharedSecret, enc: e.publicKey };
    },
    decap(enc, skR) {
      if (enc.length !== group.npk) throw new MlsError("CRYPTO_INVALID_KEY", `KEM output must be ${group.npk} bytes`);
      const dh = group.dh(skR, enc);
      const sharedSecret = extractAndExpand(dh, concatBytes(enc, group.publicKey(skR)));
      zeroize(dh);
      return sharedSecret;
    },
    deriveKeyPair,
    generateKeyPair() {
      const sk = group.randomPrivateKey();
      return { privateKey: sk, publicKey: group.publicKey(sk) };
    },
    publicKey: (sk) => group.publicKey(sk),
  };
}
