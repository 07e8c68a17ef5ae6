/** RFC 9420 §8.4: PreSharedKeyID and PSKLabel. */
import { opaque, uint64, type Codec } from "../codec/tls.js";
import { PskType, pskTypeCodec, resumptionPskUsageCodec, type ResumptionPskUsage } from "./enums.js";

/** A PreSharedKeyID (RFC 9420 §8.4): an external PSK or a resumption PSK, with its nonce. */
export type PreSharedKeyId =
  | { pskType: typeof PskType.external; pskId: Uint8Array; pskNonce: Uint8Array }
  | {
      pskType: typeof PskType.resumption;
      usage: ResumptionPskUsage;
      pskGroupId: Uint8Array;
      pskEpoch: bigint;
      pskNonce: Uint8Array;
    };

/** TLS codec of {@link PreSharedKeyId}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const preSharedKeyIdCodec: Codec<PreSharedKeyId> = {
  encode(w, p) {
    pskTypeCodec.encode(w, p.pskType);
    if (p.pskType === PskType.external) {
      w.opaque(p.pskId);
    } else {
      resumptionPskUsageCodec.encode(w, p.usage);
      w.opaque(p.pskGroupId);
      uint64.encode(w, p.pskEpoch);
    }
    w.opaque(p.pskNonce);
  },
  decode(r) {
    const pskType = pskTypeCodec.decode(r);
    if (pskType === PskType.external) {
      const pskId = r.opaque();
      return { pskType, pskId, pskNonce: opaque.decode(r) };
    }
    const usage = resumptionPskUsageCodec.decode(r);
    const pskGroupId = r.opaque();
    const pskEpoch = r.u64();
    return { pskType, usage, pskGroupId, pskEpoch, pskNonce: r.opaque() };
  },
};

/** RFC 9420 §8.4: struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel; */
export interface PskLabel {
  id: PreSharedKeyId;
  index: number;
  count: number;
}

export const pskLabelCodec: Codec<PskLabel> = {
  encode(w, l) {
    preSharedKeyIdCodec.encode(w, l.id);
    w.u16(l.index);
    w.u16(l.count);
  },
  decode(r) {
    const id = preSharedKeyIdCodec.decode(r);
    const index = r.u16();
    return { id, index, count: r.u16() };
  },
};
