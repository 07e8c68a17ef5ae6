/**
 * draft-ietf-mls-extensions: application components and the structs that
 * carry them — ComponentOperationLabel, ComponentData / AppDataDictionary (the
 * `app_data_dictionary` extension), AppAck, and the last-resort KeyPackage
 * marker (component `last_resort_key_package` with empty data inside the
 * KeyPackage's app_data_dictionary extension, §"Last-Resort KeyPackages").
 */
import { opaque, struct, uint16, uint32, vector, type Codec } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import type { LeafIndex } from "../tree/treeMath.js";
import { ComponentId, ExtensionType } from "./enums.js";
import { leafIndexCodec } from "./leafIndex.js";
import { findExtension, makeExtension, readExtension, type Extension } from "./extension.js";

/** §"Component IDs": struct { opaque base_label<V> = "MLS Component"; ComponentID component_id; opaque label<V>; } */
export interface ComponentOperationLabel {
  baseLabel: string;
  componentId: number;
  label: string;
}

export const COMPONENT_BASE_LABEL = "MLS Component";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** opaque<V> holding UTF-8 text; invalid UTF-8 is a DECODE_INVALID, not a TypeError. */
const labelCodec: Codec<string> = {
  encode: (w, v) => w.opaque(utf8Encoder.encode(v)),
  decode(r) {
    const bytes = r.opaque();
    try {
      return utf8Decoder.decode(bytes);
    } catch (e) {
      throw new MlsError("DECODE_INVALID", "label is not valid UTF-8", { cause: e });
    }
  },
};

export const componentOperationLabelCodec: Codec<ComponentOperationLabel> = struct<ComponentOperationLabel>({
  baseLabel: labelCodec,
  componentId: uint16,
  label: labelCodec,
});

export interface ComponentData {
  componentId: number;
  data: Uint8Array;
}

export const componentDataCodec: Codec<ComponentData> = struct<ComponentData>({ componentId: uint16, data: opaque });

export interface AppDataDictionary {
  /** Sorted by componentId, at most one entry per component. */
  componentData: ComponentData[];
}

const componentDataList = vector(componentDataCodec);

function checkSorted(list: readonly ComponentData[], fail: (msg: string) => MlsError): void {
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.componentId <= list[i - 1]!.componentId) throw fail("component_data must be strictly increasing by component_id");
  }
}

export const appDataDictionaryCodec: Codec<AppDataDictionary> = {
  encode(w, d) {
    checkSorted(d.componentData, (m) => new MlsError("ENCODE_INVALID", m));
    componentDataList.encode(w, d.componentData);
  },
  decode(r) {
    const componentData = componentDataList.decode(r);
    checkSorted(componentData, (m) => new MlsError("DECODE_INVALID", m));
    return { componentData };
  },
};

/** §AppAck: struct { uint32 sender; uint32 first_generation; uint32 last_generation; } MessageRange; */
export interface MessageRange {
  /** Leaf index of the sender of the acknowledged PrivateMessages. */
  sender: LeafIndex;
  firstGeneration: number;
  lastGeneration: number;
}

export const messageRangeCodec: Codec<MessageRange> = struct<MessageRange>({ sender: leafIndexCodec, firstGeneration: uint32, lastGeneration: uint32 });

/** §AppAck: carried as the data of an AppEphemeral proposal with component `app_ack`. */
export interface AppAck {
  receivedRanges: MessageRange[];
}

export const appAckCodec: Codec<AppAck> = struct<AppAck>({ receivedRanges: vector(messageRangeCodec) });

/** The app_data_dictionary extension marking a KeyPackage as last resort (the component's data is empty). */
export function lastResortKeyPackageExtension(): Extension {
  return makeExtension(ExtensionType.appDataDictionary, appDataDictionaryCodec, {
    componentData: [{ componentId: ComponentId.lastResortKeyPackage, data: new Uint8Array(0) }],
  });
}

/**
 * True when KeyPackage.extensions carries an app_data_dictionary with the
 * `last_resort_key_package` component. A malformed dictionary throws (DECODE_*).
 */
export function isLastResortKeyPackage(keyPackage: { extensions: readonly Extension[] }): boolean {
  if (findExtension(keyPackage.extensions, ExtensionType.appDataDictionary) === undefined) return false;
  const dict = readExtension(keyPackage.extensions, ExtensionType.appDataDictionary, appDataDictionaryCodec)!;
  return dict.componentData.some((c) => c.componentId === ComponentId.lastResortKeyPackage);
}
