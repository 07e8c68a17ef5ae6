/**
 * HPKE base mode (RFC 9180 §5.1, §5.1.1, §5.2, §5.3) on node:crypto: the
 * single-shot SealBase / OpenBase MLS uses (sequence number 0, so the nonce is
 * base_nonce itself) and SetupBase + Export for external init (RFC 9420 §8.3).
 */
import type { CipherSuiteParams, HpkeCiphertext } from "../cipherSuite.js";
import { zeroize } from "../../codec/bytes.js";
import type { NodeAead } from "./aead.js";
import type { Kem } from "./dhkem.js";
import { labeledKdf } from "./labeledKdf.js";

const MODE_BASE = 0x00;
const EMPTY = new Uint8Array(0);

export interface NodeHpke {
  seal(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): HpkeCiphertext;
  open(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  exportSender(pkR: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): { kemOutput: Uint8Array; secret: Uint8Array };
  exportReceiver(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Uint8Array;
}

export function nodeHpke(params: CipherSuiteParams, kem: Kem, aead: NodeAead): NodeHpke {
  const { kemId, kdfId, aeadId, nh, nk, nn } = params;
  // suite_id = "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)
  const suiteId = Uint8Array.of(0x48, 0x50, 0x4b, 0x45, kemId >> 8, kemId & 0xff, kdfId >> 8, kdfId & 0xff, aeadId >> 8, aeadId & 0xff);
  const kdf = labeledKdf(params.hash, nh, suiteId);
  // psk_id is empty in base mode, so psk_id_hash is a constant.
  const pskIdHash = kdf.extract(EMPTY, "psk_id_hash", EMPTY);

  /** RFC 9180 §5.1 KeySchedule(mode_base, shared_secret, info, "", ""): the secret and key_schedule_context. */
  const schedule = (sharedSecret: Uint8Array, info: Uint8Array): { secret: Uint8Array; context: Uint8Array } => {
    const infoHash = kdf.extract(EMPTY, "info_hash", info);
    const context = new Uint8Array(1 + 2 * nh);
    context[0] = MODE_BASE;
    context.set(pskIdHash, 1);
    context.set(infoHash, 1 + nh);
    const secret = kdf.extract(sharedSecret, "secret", EMPTY);
    zeroize(sharedSecret);
    return { secret, context };
  };

  /** The AEAD key and base_nonce; with seq = 0 the first nonce is base_nonce (§5.2). */
  const keyAndNonce = (sharedSecret: Uint8Array, info: Uint8Array): { key: Uint8Array; nonce: Uint8Array } => {
    const { secret, context } = schedule(sharedSecret, info);
    const key = kdf.expand(secret, "key", context, nk);
    const nonce = kdf.expand(secret, "base_nonce", context, nn);
    zeroize(secret);
    return { key, nonce };
  };

  /** §5.3 Context.Export(exporter_context, L) = LabeledExpand(exporter_secret, "sec", exporter_context, L). */
  const exportSecret = (sharedSecret: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Uint8Array => {
    const { secret, context } = schedule(sharedSecret, info);
    const exporterSecret = kdf.expand(secret, "exp", context, nh);
    zeroize(secret);
    const out = kdf.expand(exporterSecret, "sec", exporterContext, length);
    zeroize(exporterSecret);
    return out;
  };

  return {
    seal(pkR, info, aad, plaintext) {
      const { sharedSecret, enc } = kem.encap(pkR);
      const { key, nonce } = keyAndNonce(sharedSecret, info);
      try {
        return { kemOutput: enc, ciphertext: aead.seal(key, nonce, aad, plaintext) };
      } finally {
        zeroize(key);
      }
    },
    open(skR, enc, info, aad, ciphertext) {
      const { key, nonce } = keyAndNonce(kem.decap(enc, skR), info);
      try {
        return aead.open(key, nonce, aad, ciphertext);
      } finally {
        zeroize(key);
      }
    },
    exportSender(pkR, info, exporterContext, length) {
      const { sharedSecret, enc } = kem.encap(pkR);
      return { kemOutput: enc, secret: exportSecret(sharedSecret, info, exporterContext, length) };
    },
    exportReceiver: (skR, enc, info, exporterContext, length) => exportSecret(kem.decap(enc, skR), info, exporterContext, length),
  };
}
