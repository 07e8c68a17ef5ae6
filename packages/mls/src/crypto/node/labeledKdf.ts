/**
 * RFC 9180 §4: LabeledExtract / LabeledExpand, HKDF with the "HPKE-v1"
 * prefix and a suite_id. The labelled input is fed to HMAC in pieces rather
 * than concatenated.
 */
import { createHmac } from "node:crypto";
import type { HashAlgorithm } from "../cipherSuite.js";
import { utf8 } from "../../codec/bytes.js";
import { MlsError } from "../../errors.js";
import { outputOf } from "../hmacSha256.js";
import { asBytes, NODE_HASH } from "./kdf.js";
import { nativeHkdfSha256Expand } from "./hmacSha256Native.js";
import { nativeSha256For, type NativeCrypto } from "./nativeCrypto.js";

export interface LabeledKdf {
  readonly nh: number;
  /** LabeledExtract; into `into` (Nh bytes) when given, a new array otherwise. */
  extract(salt: Uint8Array, label: string, ikm: Uint8Array, into?: Uint8Array): Uint8Array;
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

/** SHA-256 on the native addon where it is in use (eight HMACs per HPKE seal or open, one call each), node:crypto otherwise. */
export function labeledKdf(hash: HashAlgorithm, nh: number, suiteId: Uint8Array): LabeledKdf {
  const native = nativeSha256For(hash);
  return native !== undefined ? nativeLabeledKdf(native, suiteId) : opensslLabeledKdf(hash, nh, suiteId);
}

/** On node:crypto's Hmac objects. */
export function opensslLabeledKdf(hash: HashAlgorithm, nh: number, suiteId: Uint8Array): LabeledKdf {
  const alg = NODE_HASH[hash];
  const zeroSalt = new Uint8Array(nh);
  return {
    nh,
    extract(salt, l, ikm, into) {
      const out = into === undefined ? undefined : outputOf(nh, into);
      // labeled_ikm = "HPKE-v1" || suite_id || label || ikm; an empty salt is Nh zeros (RFC 5869 §2.2).
      const h = createHmac(alg, salt.length === 0 ? zeroSalt : salt);
      const prk = asBytes(h.update(HPKE_V1).update(suiteId).update(label(l)).update(ikm).digest());
      if (out === undefined) return prk;
      out.set(prk);
      prk.fill(0);
      return out;
    },
    expand(prk, l, info, length) {
      checkLength(length, nh);
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

const EMPTY = new Uint8Array(0);

function checkLength(length: number, nh: number): void {
  if (!Number.isInteger(length) || length < 0 || length > 255 * nh || length > 0xffff) {
    throw new MlsError("CRYPTO_INVALID_LENGTH", `HPKE LabeledExpand length ${length} out of range`);
  }
}

/** SHA-256 only: one native HMAC call per Extract and per one-block Expand. */
export function nativeLabeledKdf(lib: NativeCrypto, suiteId: Uint8Array): LabeledKdf {
  const nh = 32;
  const prefix = new Uint8Array(HPKE_V1.length + suiteId.length);
  prefix.set(HPKE_V1);
  prefix.set(suiteId, HPKE_V1.length);
  // I2OSP(L, 2) || "HPKE-v1" || suite_id, per L (a suite asks for a handful of lengths).
  const infoHeads = new Map<number, Uint8Array>();
  const infoHead = (length: number): Uint8Array => {
    let h = infoHeads.get(length);
    if (h === undefined) {
      h = new Uint8Array(2 + prefix.length);
      h[0] = length >> 8;
      h[1] = length & 0xff;
      h.set(prefix, 2);
      infoHeads.set(length, h);
    }
    return h;
  };
  return {
    nh,
    extract(salt, l, ikm, into) {
      // An empty salt is Nh zeros: the same HMAC key once padded to a block.
      const out = outputOf(nh, into);
      lib.hmacSha256(salt, prefix, label(l), ikm, EMPTY, out);
      return out;
    },
    expand(prk, l, info, length) {
      checkLength(length, nh);
      // T(1) = HMAC(PRK, labeled_info || 0x01), and so on for longer outputs.
      return nativeHkdfSha256Expand(lib, prk, infoHead(length), label(l), info, new Uint8Array(length));
    },
  };
}
