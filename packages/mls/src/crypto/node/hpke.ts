/**
 * HPKE base mode (RFC 9180 §5.1, §5.1.1, §5.2, §5.3) on node:crypto: the
 * single-shot SealBase / OpenBase MLS uses (sequence number 0, so the nonce is
 * base_nonce itself) and SetupBase + Export for external init (RFC 9420 §8.3).
 */
import type { CipherSuiteParams, HpkeCiphertext } from "../cipherSuite.js";
import { zeroize } from "../../codec/bytes.js";
import { hpkeBaseSchedule, hpkeSuiteId } from "../hpkeKeySchedule.js";
import type { NodeAead } from "./aead.js";
import type { Kem } from "./dhkem.js";
import { labeledKdf } from "./labeledKdf.js";

export interface NodeHpke {
  seal(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): HpkeCiphertext;
  /** SealBase to many recipients under one info: the info's half of the key schedule is computed once. */
  sealer(info: Uint8Array): (pkR: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) => HpkeCiphertext;
  open(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  exportSender(pkR: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): { kemOutput: Uint8Array; secret: Uint8Array };
  exportReceiver(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Uint8Array;
}

export function nodeHpke(params: CipherSuiteParams, kem: Pick<Kem, "encap" | "decap">, aead: NodeAead): NodeHpke {
  const kdf = labeledKdf(params.hash, params.nh, hpkeSuiteId(params));
  const schedule = hpkeBaseSchedule(kdf, params);

  /** §5.3 Context.Export(exporter_context, L) = LabeledExpand(exporter_secret, "sec", exporter_context, L). */
  const exportSecret = (sharedSecret: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Uint8Array => {
    const exporterSecret = schedule.exporterSecret(sharedSecret, schedule.context(info));
    const out = kdf.expand(exporterSecret, "sec", exporterContext, length);
    zeroize(exporterSecret);
    return out;
  };

  const sealer = (info: Uint8Array) => {
    const context = schedule.context(info);
    return (pkR: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): HpkeCiphertext => {
      const { sharedSecret, enc } = kem.encap(pkR);
      // With seq = 0 the first nonce is base_nonce itself (§5.2).
      const { key, nonce } = schedule.keyAndNonce(sharedSecret, context);
      try {
        return { kemOutput: enc, ciphertext: aead.seal(key, nonce, aad, plaintext) };
      } finally {
        zeroize(key);
      }
    };
  };

  return {
    seal: (pkR, info, aad, plaintext) => sealer(info)(pkR, aad, plaintext),
    sealer,
    open(skR, enc, info, aad, ciphertext) {
      const { key, nonce } = schedule.keyAndNonce(kem.decap(enc, skR), schedule.context(info));
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
