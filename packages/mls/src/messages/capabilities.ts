/** RFC 9420 §7.2: Capabilities. Every list is an extensible registry: unknown
 * values (GREASE, future versions and suites) are kept, never rejected (§13). */
import type { Codec, Reader, Writer } from "../codec/tls.js";

export interface Capabilities {
  /** ProtocolVersion versions<V> (kept as numbers: a peer may list versions we do not know). */
  versions: number[];
  cipherSuites: number[];
  extensions: number[];
  proposals: number[];
  credentials: number[];
}

function writeU16s(w: Writer, values: readonly number[]): void {
  // Each entry is exactly two bytes, so the header is known up front.
  w.varint(values.length * 2);
  for (const v of values) w.u16(v);
}

function readU16s(r: Reader): number[] {
  return r.lengthPrefixed((inner, end) => {
    const out: number[] = [];
    while (inner.offset < end) out.push(inner.u16());
    return out;
  });
}

/** uint16 values<V>: the shape of every list in Capabilities and RequiredCapabilities. */
export const uint16ListCodec: Codec<number[]> = { encode: writeU16s, decode: readU16s };

export const capabilitiesCodec: Codec<Capabilities> = {
  encode(w, c) {
    writeU16s(w, c.versions);
    writeU16s(w, c.cipherSuites);
    writeU16s(w, c.extensions);
    writeU16s(w, c.proposals);
    writeU16s(w, c.credentials);
  },
  decode(r) {
    const versions = readU16s(r);
    const cipherSuites = readU16s(r);
    const extensions = readU16s(r);
    const proposals = readU16s(r);
    return { versions, cipherSuites, extensions, proposals, credentials: readU16s(r) };
  },
};
