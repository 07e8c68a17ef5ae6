/**
 * RFC 9180 §4: LabeledExtract / LabeledExpand, HKDF with the "HPKE-v1"
 * prefix and a suite_id. The labelled input is fed to HMAC in pieces rather
 * than concatenated.
 */
import { createHmac } from "node:crypto";
import type { HashAlgorithm } from "../cipherSuite.js";
import { utf8 } from "../../codec/bytes.js";
import { MlsError } from "../../errors.js";
import { asBytes, NODE_HASH } from "./kdf.js";

export interface LabeledKdf {
  readonly nh: number;
  extract(salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array;
  expand(prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array;
}

const HPKE_V1 = utf8("HPKE-v1");
const labelBytes = new Map<string, Uint8Array>();
function label(l: string): Uint8Array {
  let b = labelBytes.get(l);
  if (b === undefined) {
    b = utf8(l);
    labelBytes.set(l, b);
  }
  return b;
}

export function labeledKdf(hash: HashAlgorithm, nh: number, suiteId: Uint8Array): LabeledKdf {
  const alg = NODE_HASH[hash];
  const zeroSalt = new Uint8Array(nh);
  return {
    nh,
    extract(salt, l, ikm) {
      // labeled_ikm = "HPKE-v1" || suite_id || label || ikm; an empty salt is Nh zeros (RFC 5869 §2.2).
      const h = createHmac(alg, salt.length === 0 ? zeroSalt : salt);
      return asBytes(h.update(HPKE_V1).update(suiteId).update(label(l)).update(ikm).digest());
    },
    expand(prk, l, info, length) {
      if (!Number.isInteger(length) || length < 0 || length > 255 * nh || length > 0xffff) {
        throw new MlsError("CRYPTO_INVALID_LENGTH", `HPKE LabeledExpand length ${length} out of range`);
      }
      // labeled_info = I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, then RFC 5869 §2.3.
      const lb = label(l);
      const len2 = Uint8Array.of(length >> 8, length & 0xff);
      const out = new Uint8Array(length);
      const counter = new Uint8Array(1);
      let prev: Uint8Array = new Uint8Array(0);
      for (let i = 1, o = 0; o < length; i++) {
        counter[0] = i;
        prev = asBytes(createHmac(alg, prk).update(prev).update(len2).update(HPKE_V1).update(suiteId).update(lb).update(info).update(counter).digest());
        out.set(prev.subarray(0, Math.min(nh, length - o)), o);
        o += nh;
      }
      return out;
    },
  };
}
