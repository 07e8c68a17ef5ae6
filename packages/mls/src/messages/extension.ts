/** RFC 9420 §7.2, §13.4: the generic Extension struct. Typed extension payloads
 * are decoded by the modules that understand them (extensionPayloads.ts,
 * ratchetTreeNodes.ts, components.ts); unknown types, GREASE included, stay
 * opaque here so they round-trip byte for byte. */
import { decode, encode, type Codec, type Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";

/** An Extension (RFC 9420 §13): a type and its encoded payload. */
export interface Extension {
  extensionType: number;
  extensionData: Uint8Array;
}

/** TLS codec of {@link Extension}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const extensionCodec: Codec<Extension> = {
  encode(w, e) {
    w.u16(e.extensionType);
    w.opaque(e.extensionData);
  },
  decode(r) {
    const extensionType = r.u16();
    return { extensionType, extensionData: r.opaque() };
  },
};

/** Extension extensions<V>, rejecting duplicate types (RFC 9420 §13.4: "each extension type MUST appear at most once"). */
export const extensionsCodec: Codec<Extension[]> = {
  encode(w, list) {
    w.lengthPrefixed((inner) => {
      for (const e of list) extensionCodec.encode(inner, e);
    });
  },
  decode(r) {
    return r.lengthPrefixed(readExtensionsBody);
  },
};

/** The body of Extension extensions<V> (one function, not a closure per list: a tree decodes two per leaf). */
function readExtensionsBody(r: Reader, end: number): Extension[] {
  const list: Extension[] = [];
  while (r.offset < end) {
    const extensionType = r.u16();
    const extensionData = r.opaque();
    // Lists are short: a scan beats allocating a Set for every leaf of a large tree.
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.extensionType === extensionType) throw new MlsError("DECODE_INVALID", `duplicate extension type ${extensionType}`);
    }
    list.push({ extensionType, extensionData });
  }
  return list;
}

/** The first extension of `type` in `extensions`, or undefined. */
export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((e) => e.extensionType === type);
}

/** Wraps a typed payload as an Extension of `type`. @throws MlsError `ENCODE_INVALID` (a value out of range). */
export function makeExtension<T>(type: number, codec: Codec<T>, value: T): Extension {
  return { extensionType: type, extensionData: encode(codec, value) };
}

/**
 * Decodes the payload of the extension of `type`, or undefined when absent. The
 * payload must be exactly one `T` (RFC 9420 §2.1: no trailing bytes).
 * @throws MlsError a `DECODE_*` code for a malformed payload.
 */
export function readExtension<T>(extensions: readonly Extension[], type: number, codec: Codec<T>): T | undefined {
  const e = findExtension(extensions, type);
  return e === undefined ? undefined : decode(codec, e.extensionData);
}
