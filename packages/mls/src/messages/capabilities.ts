/** RFC 9420 §7.2: Capabilities. Every list is an extensible registry: unknown
 * values (GREASE, future versions and suites) are kept, never rejected (§13). */
import { bytesEqual } from "../codec/bytes.js";
import type { Codec, Reader, Writer } from "../codec/tls.js";

/** A leaf's Capabilities (RFC 9420 §7.2): the versions, suites, extensions, proposals and credentials it supports. */
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

/** The body of a uint16 values<V>; one function for every list, not a closure per list (a tree decodes five per leaf). */
function readU16Body(r: Reader, end: number): number[] {
  const out: number[] = [];
  while (r.offset < end) out.push(r.u16());
  return out;
}

function readU16s(r: Reader): number[] {
  return r.lengthPrefixed(readU16Body);
}

/** uint16 values<V>: the shape of every list in Capabilities and RequiredCapabilities. */
export const uint16ListCodec: Codec<number[]> = { encode: writeU16s, decode: readU16s };

/** TLS codec of {@link Capabilities}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const capabilitiesCodec: Codec<Capabilities> = {
  encode(w, c) {
    writeU16s(w, c.versions);
    writeU16s(w, c.cipherSuites);
    writeU16s(w, c.extensions);
    writeU16s(w, c.proposals);
    writeU16s(w, c.credentials);
  },
  decode(r) {
    const start = r.offset;
    const versions = readU16s(r);
    const cipherSuites = readU16s(r);
    const extensions = readU16s(r);
    const proposals = readU16s(r);
    const decoded = { versions, cipherSuites, extensions, proposals, credentials: readU16s(r) };
    return shared(r.readSince(start), decoded);
  },
};

/**
 * Members of a group nearly all list the same capabilities, and a tree keeps
 * one LeafNode per member: identical encodings decode to one frozen object
 * (five arrays per leaf were ~14% of a 10,000-member tree's heap). The most
 * recent distinct encodings are remembered, up to a small limit.
 */
const SHARED_LIMIT = 64;
const SHARED_MAX_BYTES = 256;
const sharedByEncoding = new Map<string, Capabilities>();
/** The encoding shared last, and its object: a tree's leaves repeat it, checked without building a key. */
let last: { readonly encoding: Uint8Array; readonly value: Capabilities } | undefined;

function shared(encoding: Uint8Array, decoded: Capabilities): Capabilities {
  if (encoding.length > SHARED_MAX_BYTES) return decoded;
  if (last !== undefined && bytesEqual(last.encoding, encoding)) return last.value;
  const key = String.fromCharCode(...encoding);
  const value = sharedByEncoding.get(key) ?? remember(key, decoded);
  last = { encoding: encoding.slice(), value };
  return value;
}

function remember(key: string, decoded: Capabilities): Capabilities {
  const frozen: Capabilities = Object.freeze({
    versions: Object.freeze(decoded.versions) as number[],
    cipherSuites: Object.freeze(decoded.cipherSuites) as number[],
    extensions: Object.freeze(decoded.extensions) as number[],
    proposals: Object.freeze(decoded.proposals) as number[],
    credentials: Object.freeze(decoded.credentials) as number[],
  });
  if (sharedByEncoding.size >= SHARED_LIMIT) sharedByEncoding.delete(sharedByEncoding.keys().next().value!);
  sharedByEncoding.set(key, frozen);
  return frozen;
}
