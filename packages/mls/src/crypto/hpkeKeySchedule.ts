/**
 * The HPKE base-mode key schedule (RFC 9180 §5.1) split in two halves, so
 * that what depends only on `info` is computed once for many recipients:
 *
 *   key_schedule_context = mode_base || psk_id_hash || info_hash   (per info)
 *   secret = LabeledExtract(shared_secret, "secret", "")           (per recipient)
 *   key    = LabeledExpand(secret, "key", key_schedule_context, Nk)
 *   nonce  = LabeledExpand(secret, "base_nonce", key_schedule_context, Nn)
 *
 * An MLS Welcome seals every new member's GroupSecrets under the same info
 * (EncryptContext with the encrypted GroupInfo, RFC 9420 §12.4.3.1), which
 * holds the whole ratchet tree when it travels in the Welcome: hashing it
 * once instead of once per member keeps an add linear in the group size.
 *
 * Written on plain HKDF (RFC 5869) so any provider can use it; the node
 * provider has its own faster LabeledExtract/Expand with the same outputs.
 */
import { concatBytes, zeroize } from "../codec/bytes.js";
import type { CipherSuiteParams } from "./cipherSuite.js";

const MODE_BASE = 0x00;
const EMPTY = new Uint8Array(0);
const HPKE_V1 = new TextEncoder().encode("HPKE-v1");

/** RFC 9180 §4 LabeledExtract / LabeledExpand under one suite_id. */
export interface HpkeLabeledKdf {
  extract(salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array;
  expand(prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array;
}

/** The plain HKDF a provider already has. */
export interface Hkdf {
  kdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  kdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/** RFC 9180 §5.1: suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2). */
export function hpkeSuiteId(params: Pick<CipherSuiteParams, "kemId" | "kdfId" | "aeadId">): Uint8Array {
  const { kemId, kdfId, aeadId } = params;
  return Uint8Array.of(0x48, 0x50, 0x4b, 0x45, kemId >> 8, kemId & 0xff, kdfId >> 8, kdfId & 0xff, aeadId >> 8, aeadId & 0xff);
}

/** RFC 9180 §4 on a provider's HKDF: the labelled inputs concatenated. */
export function hpkeLabeledKdf(hkdf: Hkdf, suiteId: Uint8Array): HpkeLabeledKdf {
  const enc = new TextEncoder();
  return {
    // labeled_ikm = "HPKE-v1" || suite_id || label || ikm
    extract: (salt, label, ikm) => hkdf.kdfExtract(salt, concatBytes(HPKE_V1, suiteId, enc.encode(label), ikm)),
    // labeled_info = I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info
    expand: (prk, label, info, length) => hkdf.kdfExpand(prk, concatBytes(Uint8Array.of(length >> 8, length & 0xff), HPKE_V1, suiteId, enc.encode(label), info), length),
  };
}

/** The half of the base-mode key schedule that depends on info alone. */
export interface HpkeBaseSchedule {
  /** mode_base || psk_id_hash || info_hash for this info (psk and psk_id empty). */
  context(info: Uint8Array): Uint8Array;
  /** The AEAD key and base_nonce from a KEM shared secret (zeroized here) and a context from `context`. */
  keyAndNonce(sharedSecret: Uint8Array, context: Uint8Array): { key: Uint8Array; nonce: Uint8Array };
  /** exporter_secret (§5.3) from a shared secret (zeroized here) and a context. */
  exporterSecret(sharedSecret: Uint8Array, context: Uint8Array): Uint8Array;
}

export function hpkeBaseSchedule(kdf: HpkeLabeledKdf, params: Pick<CipherSuiteParams, "nh" | "nk" | "nn">): HpkeBaseSchedule {
  const { nh, nk, nn } = params;
  // psk_id is empty in base mode, so psk_id_hash is a constant.
  const pskIdHash = kdf.extract(EMPTY, "psk_id_hash", EMPTY);
  const secretOf = (sharedSecret: Uint8Array): Uint8Array => {
    const secret = kdf.extract(sharedSecret, "secret", EMPTY);
    zeroize(sharedSecret);
    return secret;
  };
  return {
    context(info) {
      const infoHash = kdf.extract(EMPTY, "info_hash", info);
      const context = new Uint8Array(1 + 2 * nh);
      context[0] = MODE_BASE;
      context.set(pskIdHash, 1);
      context.set(infoHash, 1 + nh);
      return context;
    },
    keyAndNonce(sharedSecret, context) {
      const secret = secretOf(sharedSecret);
      const key = kdf.expand(secret, "key", context, nk);
      const nonce = kdf.expand(secret, "base_nonce", context, nn);
      zeroize(secret);
      return { key, nonce };
    },
    exporterSecret(sharedSecret, context) {
      const secret = secretOf(sharedSecret);
      const out = kdf.expand(secret, "exp", context, nh);
      zeroize(secret);
      return out;
    },
  };
}
