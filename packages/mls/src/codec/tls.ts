/**
 * TLS presentation language (RFC 8446 §3) with the MLS additions of
 * RFC 9420 §2.1: optional<T> and variable-size (varint) vector length headers.
 *
 * Encoding writes into a growable `Writer`; decoding reads from a `Reader` that
 * never reads past its current limit, so a vector's elements cannot spill into
 * the bytes after the vector. Every failure is an `MlsError` with a DECODE_* code.
 */
import { MlsError } from "../errors.js";

/** Largest value a varint length header can carry (RFC 9420 §2.1.2): 2^30 - 1. */
export const MAX_VARINT = 0x3fffffff;

/** Bytes of the minimum-size varint header (RFC 9420 §2.1.2) of `n`, in 0..MAX_VARINT. */
export function varintLength(n: number): number {
  return n < 0x40 ? 1 : n < 0x4000 ? 2 : 4;
}

/**
 * A view of `encoding` without its last field, an opaque<V> of `n` bytes: a
 * signed struct's encoding is its TBS followed by the signature (§6.1, §7.2, §10).
 */
export function withoutTrailingOpaque(encoding: Uint8Array, n: number): Uint8Array {
  return encoding.subarray(0, encoding.length - n - varintLength(n));
}

/**
 * Writers start in a scratch buffer taken from this pool and return it from
 * finish(), zeroed, since it may have held secrets. Nearly every encoding is
 * written once, copied out once and dropped, and each fresh off-heap
 * Uint8Array costs microseconds: on the message path that was most of the
 * encoding time.
 */
const SCRATCH_SIZE = 4096;
const MAX_POOLED_SCRATCH = 64 * 1024;
/** Room for a batch of messages in flight, each lending out scratch until signed or verified (at most 512 KiB kept). */
const SCRATCH_POOL_LIMIT = 128;
const scratchPool: Uint8Array[] = [];
const NO_BYTES = new Uint8Array(0);

function releaseScratch(buf: Uint8Array, used: number): void {
  buf.fill(0, 0, Math.min(buf.length, used));
  if (buf.length >= SCRATCH_SIZE && buf.length <= MAX_POOLED_SCRATCH && scratchPool.length < SCRATCH_POOL_LIMIT) scratchPool.push(buf);
}

/** Scratch buffers lent out by Writer.lend(), with how far each was written. */
const lent = new WeakMap<ArrayBufferLike, { readonly buf: Uint8Array; readonly used: number }>();

/**
 * Takes back the scratch buffer behind `bytes` (from Writer.lend(), or any
 * view of it): zeroed and pooled, so every view of it is void from then on.
 * Does nothing for bytes that were not lent, or were given back already.
 */
export function returnScratch(bytes: Uint8Array): void {
  const loan = lent.get(bytes.buffer);
  if (loan === undefined) return;
  lent.delete(bytes.buffer);
  releaseScratch(loan.buf, loan.used);
}

/**
 * Multi-byte integers are written and read byte by byte (big-endian, RFC 8446
 * §3.3) rather than through a DataView: a Writer or Reader lives for one
 * encoding, and a DataView per instance cost more than the writes it served.
 */
export class Writer {
  private buf: Uint8Array;
  private len = 0;
  /** Highest length reached: lengthPrefixed shrinks `len` after writing past it. */
  private high = 0;
  private finished = false;

  /** A writer with room for `initialCapacity` bytes to start with (it grows as needed). */
  constructor(initialCapacity = 256) {
    this.buf = (initialCapacity <= SCRATCH_SIZE ? scratchPool.pop() : undefined) ?? new Uint8Array(Math.max(initialCapacity, SCRATCH_SIZE));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    if (this.finished) throw new MlsError("ENCODE_INVALID", "Writer used after finish()");
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    releaseScratch(this.buf, this.used);
    this.buf = next;
  }

  /** The low `bytes` bytes of `v` (an unsigned 32-bit value), big-endian, at the end. */
  private be(v: number, bytes: 2 | 4): void {
    this.reserve(bytes);
    const b = this.buf;
    let i = this.len + bytes;
    this.len = i;
    for (let n = 0; n < bytes; n++) {
      b[--i] = v & 0xff;
      v >>>= 8;
    }
  }

  /** Writes a uint8. @throws MlsError `ENCODE_INVALID` (not an integer in 0..0xff). */
  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new MlsError("ENCODE_INVALID", `uint8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  /** Writes a big-endian uint16. @throws MlsError `ENCODE_INVALID` (not an integer in 0..0xffff). */
  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new MlsError("ENCODE_INVALID", `uint16 out of range: ${v}`);
    this.be(v, 2);
  }

  /** Writes a big-endian uint32. @throws MlsError `ENCODE_INVALID` (not an integer in 0..2^32-1). */
  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new MlsError("ENCODE_INVALID", `uint32 out of range: ${v}`);
    this.be(v, 4);
  }

  /** Writes a big-endian uint64. @throws MlsError `ENCODE_INVALID` (not a bigint in 0..2^64-1). */
  u64(v: bigint): void {
    if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) throw new MlsError("ENCODE_INVALID", `uint64 out of range: ${v}`);
    this.be(Number(v >> 32n), 4);
    this.be(Number(v & 0xffffffffn), 4);
  }

  /** Minimum-size varint (RFC 9420 §2.1.2). @throws MlsError `ENCODE_INVALID` (not an integer in 0..2^30-1). */
  varint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > MAX_VARINT) throw new MlsError("ENCODE_INVALID", `varint out of range: ${v}`);
    if (v < 0x40) {
      this.reserve(1);
      this.buf[this.len++] = v;
    } else if (v < 0x4000) {
      this.be(v | 0x4000, 2);
    } else {
      this.be((v | 0x80000000) >>> 0, 4);
    }
  }

  /** Raw bytes, no length header. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** opaque data<V>. */
  opaque(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /**
   * Writes a varint length header followed by whatever `body` writes. The body
   * is written once, in place; the header size is fixed up afterwards.
   * @throws MlsError `ENCODE_INVALID` (a body over 2^30-1 bytes), and whatever `body` throws.
   */
  lengthPrefixed(body: (w: Writer) => void): void {
    const start = this.len;
    // Reserve the largest header, then shrink it once the length is known.
    this.reserve(4);
    this.len += 4;
    body(this);
    if (this.len > this.high) this.high = this.len;
    const bodyLen = this.len - start - 4;
    if (bodyLen > MAX_VARINT) throw new MlsError("ENCODE_INVALID", `vector too long: ${bodyLen} bytes`);
    const headerLen = varintLength(bodyLen);
    if (headerLen !== 4) this.buf.copyWithin(start + headerLen, start + 4, this.len);
    this.len = start;
    this.varint(bodyLen);
    this.len = start + headerLen + bodyLen;
  }

  /**
   * The bytes written (a copy the caller owns). Ends the Writer: its scratch
   * buffer goes back to the pool, and writing again throws ENCODE_INVALID.
   */
  finish(): Uint8Array {
    const buf = this.end();
    const out = buf.slice(0, this.len);
    releaseScratch(buf, this.used);
    this.len = 0;
    return out;
  }

  /**
   * The bytes written, as a view of the scratch buffer itself: no copy, for
   * bytes read briefly and dropped (what is signed or verified, a plaintext
   * about to be sealed). Ends the Writer. Hand the buffer back with
   * returnScratch() once nothing reads it (it is then zeroed); a buffer not
   * handed back is simply collected.
   */
  lend(): Uint8Array {
    const buf = this.end();
    lent.set(buf.buffer, { buf, used: this.used });
    const out = buf.subarray(0, this.len);
    this.len = 0;
    return out;
  }

  /**
   * Runs `use` on the bytes written, in place in the scratch buffer (no
   * copy), then ends the Writer and takes the buffer back, zeroed: for bytes
   * consumed synchronously and dropped (hashed or MACed). `use` must not keep
   * the view. Returns what `use` returns; rethrows what it throws.
   */
  consume<R>(use: (bytes: Uint8Array) => R): R {
    const buf = this.end();
    const used = this.used;
    const len = this.len;
    this.len = 0;
    try {
      return use(buf.subarray(0, len));
    } finally {
      releaseScratch(buf, used);
    }
  }

  /** How far the scratch buffer was written (what releasing it must zero). */
  private get used(): number {
    return Math.max(this.high, this.len);
  }

  /** Ends the Writer (later writes throw ENCODE_INVALID); its scratch buffer, which the caller releases or lends. */
  private end(): Uint8Array {
    if (this.finished) throw new MlsError("ENCODE_INVALID", "Writer finished twice");
    const buf = this.buf;
    this.finished = true;
    this.buf = NO_BYTES;
    return buf;
  }
}

/**
 * Reads TLS-presentation-language values (RFC 9420 §2.1) from a byte array, front to back.
 * Every read past the end throws MlsError `DECODE_TRUNCATED`.
 */
export class Reader {
  private pos: number;
  private lim: number;

  /**
   * `views`: raw()/opaque() return views of `buf` instead of copies. Only for
   * a `buf` no one else holds (see decodePacked).
   */
  constructor(
    private readonly buf: Uint8Array,
    private readonly views = false,
  ) {
    this.pos = 0;
    this.lim = buf.length;
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.pos;
  }

  /** The bytes read since offset `start` (a view of the input, not a copy). */
  readSince(start: number): Uint8Array {
    return this.buf.subarray(start, this.pos);
  }

  /**
   * The bytes read since offset `start`, for a decoded value to keep: a view
   * in a `views` Reader (its input is a private copy), a copy otherwise.
   */
  keepSince(start: number): Uint8Array {
    return this.views ? this.buf.subarray(start, this.pos) : this.buf.slice(start, this.pos);
  }

  /** Bytes left before the current limit (the end of the enclosing vector or input). */
  get remaining(): number {
    return this.lim - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.lim) {
      throw new MlsError("DECODE_TRUNCATED", `need ${n} bytes at offset ${this.pos}, have ${this.lim - this.pos}`);
    }
  }

  /** Reads a uint8. @throws MlsError `DECODE_TRUNCATED` (no byte left). */
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /** Reads a big-endian uint16. @throws MlsError `DECODE_TRUNCATED`. */
  u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Reads a big-endian uint32. @throws MlsError `DECODE_TRUNCATED`. */
  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** Reads a big-endian uint64. @throws MlsError `DECODE_TRUNCATED` (and then reads nothing). */
  u64(): bigint {
    // All eight bytes or none, as before: a short input leaves the position where it was.
    this.need(8);
    const hi = this.u32();
    return (BigInt(hi) << 32n) | BigInt(this.u32());
  }

  /**
   * RFC 9420 §2.1.2: prefix 0b11 is invalid; non-minimal encodings are malformed.
   * @throws MlsError `DECODE_INVALID_VARINT`, `DECODE_TRUNCATED`.
   */
  varint(): number {
    // u8() written out, with a one-byte fast path: nearly every length header is one byte.
    if (this.pos >= this.lim) this.need(1);
    const first = this.buf[this.pos++]!;
    const prefix = first >> 6;
    if (prefix === 0) return first;
    if (prefix === 3) throw new MlsError("DECODE_INVALID_VARINT", "varint prefix 0b11 is invalid");
    let v = first & 0x3f;
    const length = 1 << prefix;
    this.need(length - 1);
    for (let i = 1; i < length; i++) v = v * 256 + this.buf[this.pos++]!;
    // The least value that needs this length (2^6, 2^14), written out: `**` here is a call to pow.
    if (v < (length === 2 ? 0x40 : 0x4000)) {
      throw new MlsError("DECODE_INVALID_VARINT", "varint does not use the minimum encoding");
    }
    return v;
  }

  /** `n` raw bytes, copied so the result does not alias the input (a view in a `views` Reader). */
  raw(n: number): Uint8Array {
    this.need(n);
    const out = this.views ? this.buf.subarray(this.pos, this.pos + n) : this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** opaque data<V>. */
  opaque(): Uint8Array {
    const n = this.vectorLength();
    // raw(n) written out: vectorLength has checked the n bytes are there (one call less per field decoded).
    const p = this.pos;
    this.pos = p + n;
    return this.views ? this.buf.subarray(p, p + n) : this.buf.slice(p, p + n);
  }

  /**
   * opaque data<V> as a view of the input, not a copy: for bytes used while
   * the input is at hand and then dropped (a ciphertext about to be
   * decrypted), where the copy would cost an allocation per message.
   */
  opaqueView(): Uint8Array {
    const n = this.vectorLength();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private vectorLength(): number {
    const n = this.varint();
    if (n > this.remaining) throw new MlsError("DECODE_VECTOR_TOO_LONG", `vector of ${n} bytes exceeds the ${this.remaining} available`);
    return n;
  }

  /**
   * Reads a varint length header and runs `body` with the reader limited to
   * exactly that many bytes; `body` must consume all of them.
   * @throws MlsError `DECODE_INVALID_VARINT` / `DECODE_TRUNCATED` (the header), `DECODE_VECTOR_TOO_LONG` (a length past
   * the end), `DECODE_INVALID` (`body` left bytes unread), and whatever `body` throws.
   */
  lengthPrefixed<T>(body: (r: Reader, end: number) => T): T {
    const n = this.varint();
    if (n > this.remaining) throw new MlsError("DECODE_VECTOR_TOO_LONG", `vector of ${n} bytes exceeds the ${this.remaining} available`);
    const savedLimit = this.lim;
    const end = this.pos + n;
    this.lim = end;
    const result = body(this, end);
    if (this.pos !== end) throw new MlsError("DECODE_INVALID", `vector body left ${end - this.pos} bytes unread`);
    this.lim = savedLimit;
    return result;
  }

  /** Throws unless every byte was consumed. */
  expectEnd(): void {
    if (this.pos !== this.buf.length) {
      throw new MlsError("DECODE_TRAILING_BYTES", `${this.buf.length - this.pos} trailing bytes after offset ${this.pos}`);
    }
  }
}

/** A codec for one wire type: how to write it and how to read it back. */
export interface Codec<T> {
  encode(w: Writer, value: T): void;
  decode(r: Reader): T;
}

/**
 * Encodes `value` to a fresh byte array (RFC 9420 §2.1 presentation language).
 * @throws MlsError `ENCODE_INVALID` (a value out of its field's range, e.g. a vector over 2^30 bytes).
 */
export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const w = new Writer();
  codec.encode(w, value);
  return w.finish();
}

/**
 * Decodes exactly one `T` from `bytes`.
 * @throws MlsError `DECODE_TRUNCATED`, `DECODE_TRAILING_BYTES`, `DECODE_INVALID_VARINT`, `DECODE_INVALID_OPTIONAL`,
 * `DECODE_VECTOR_TOO_LONG`, `DECODE_UNKNOWN_VALUE` or `DECODE_INVALID` for bytes that are not a valid `T`.
 */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array): T {
  return decodeWith(codec, new Reader(bytes));
}

/**
 * The same, with every byte field a view of one private copy of `bytes`
 * rather than an array of its own: for long-lived values made of many small
 * fields, such as a ratchet tree (eight per member), where an ArrayBuffer and
 * a typed array per 32-byte key cost more heap than the key. The result still
 * shares nothing with `bytes`; its fields share one buffer (each view covers
 * only its own bytes), which lives as long as any of them.
 */
export function decodePacked<T>(codec: Codec<T>, bytes: Uint8Array): T {
  return decodeWith(codec, new Reader(bytes.slice(), true));
}

function decodeWith<T>(codec: Codec<T>, r: Reader): T {
  let value: T;
  try {
    value = codec.decode(r);
  } catch (e) {
    throw asDecodeError(e);
  }
  r.expectEnd();
  return value;
}

/** Decoders must only ever throw MlsError; anything else (a RangeError from a
 * malformed value, say) is wrapped so callers can rely on the code. */
export function asDecodeError(e: unknown): MlsError {
  if (e instanceof MlsError) return e;
  return new MlsError("DECODE_INVALID", `malformed input: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

// ---------------------------------------------------------------------------
// Primitive codecs and combinators

export const uint8: Codec<number> = { encode: (w, v) => w.u8(v), decode: (r) => r.u8() };
export const uint16: Codec<number> = { encode: (w, v) => w.u16(v), decode: (r) => r.u16() };
export const uint32: Codec<number> = { encode: (w, v) => w.u32(v), decode: (r) => r.u32() };
export const uint64: Codec<bigint> = { encode: (w, v) => w.u64(v), decode: (r) => r.u64() };
export const varint: Codec<number> = { encode: (w, v) => w.varint(v), decode: (r) => r.varint() };

/** opaque data<V> */
export const opaque: Codec<Uint8Array> = { encode: (w, v) => w.opaque(v), decode: (r) => r.opaque() };

/** T items<V>: a varint byte-length header, then the elements back to back. */
export function vector<T>(item: Codec<T>): Codec<T[]> {
  return {
    encode(w, items) {
      w.lengthPrefixed((inner) => {
        for (const it of items) item.encode(inner, it);
      });
    },
    decode(r) {
      return r.lengthPrefixed((inner, end) => {
        const out: T[] = [];
        while (inner.offset < end) out.push(item.decode(inner));
        return out;
      });
    },
  };
}

/** optional<T> (RFC 9420 §2.1.1): presence octet 0 or 1, anything else is malformed. */
export function optional<T>(item: Codec<T>): Codec<T | undefined> {
  return {
    encode(w, v) {
      if (v === undefined) {
        w.u8(0);
      } else {
        w.u8(1);
        item.encode(w, v);
      }
    },
    decode(r) {
      const present = r.u8();
      if (present === 0) return undefined;
      if (present !== 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
      return item.decode(r);
    },
  };
}

type CodecFields<T> = { [K in keyof T]: Codec<T[K]> };

/**
 * A struct: fields encoded in the order given. The type parameter is the
 * struct's TypeScript type, so a missing or mistyped field codec is a compile error.
 */
export function struct<T extends object>(fields: CodecFields<T>): Codec<T> {
  const entries = Object.entries(fields) as [keyof T & string, Codec<unknown>][];
  return {
    encode(w, v) {
      for (const [k, c] of entries) c.encode(w, v[k]);
    },
    decode(r) {
      const out = {} as Record<string, unknown>;
      for (const [k, c] of entries) out[k] = c.decode(r);
      return out as T;
    },
  };
}

/**
 * An enumerated value on the wire. Decoding rejects values outside `known`
 * (use only where the RFC says unknown values are invalid, not for
 * extensible registries such as extension types).
 */
export function enumeration<T extends number>(base: Codec<number>, known: readonly T[], what: string): Codec<T> {
  const set = new Set<number>(known);
  return {
    encode(w, v) {
      if (!set.has(v)) throw new MlsError("ENCODE_INVALID", `unknown ${what}: ${v}`);
      base.encode(w, v);
    },
    decode(r) {
      const v = base.decode(r);
      if (!set.has(v)) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown ${what}: ${v}`);
      return v as T;
    },
  };
}
