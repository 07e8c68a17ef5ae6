/** RFC 9420 §7.2, §13.4: the generic Extension struct. Typed extension payloads
 * are decoded by the modules that understand them. */
import { opaque, struct, uint16, vector, type Codec } from "../codec/tls.js";
import { MlsError } from "../errors.js";

export interface Extension {
  extensionType: number;
  extensionData: Uint8Array;
}

export const extensionCodec: Codec<Extension> = struct<Extension>({ extensionType: uint16, extensionData: opaque });

/** Extension extensions<V>, rejecting duplicate types (RFC 9420 §13.4: "each extension type MUST appear at most once"). */
export const extensionsCodec: Codec<Extension[]> = {
  encode: (w, v) => vector(extensionCodec).encode(w, v),
  decode(r) {
    const list = vector(extensionCodec).decode(r);
    const seen = new Set<number>();
    for (const e of list) {
      if (seen.has(e.extensionType)) throw new MlsError("DECODE_INVALID", `duplicate extension type ${e.extensionType}`);
      seen.add(e.extensionType);
    }
    return list;
  },
};

export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((e) => e.extensionType === type);
}
