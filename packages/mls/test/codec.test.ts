import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { type Codec, decode, decodePacked, encode, opaque, optional, Reader, returnScratch, struct, uint16, uint32, uint64, vector, Writer } from "../src/codec/tls.js";
import { fromHex, toHex } from "../src/codec/bytes.js";
import { MlsError } from "../src/errors.js";
import { errorCode as code } from "./support/errors.js";

describe("varint (RFC 9420 §2.1.2)", () => {
  it("decodes the RFC's examples", () => {
    expect(new Reader(fromHex("9d7f3e7d")).varint()).toBe(494878333);
    expect(new Reader(fromHex("7bbd")).varint()).toBe(15293);
    expect(new Reader(fromHex("25")).varint()).toBe(37);
  });

  it("encodes at the minimum size and round-trips", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fffffff }), (n) => {
        const w = new Writer();
        w.varint(n);
        const bytes = w.finish();
        expect(bytes.length).toBe(n < 64 ? 1 : n < 16384 ? 2 : 4);
        expect(new Reader(bytes).varint()).toBe(n);
      }),
    );
  });

  it("rejects non-minimal encodings and the 0b11 prefix", () => {
    expect(code(() => new Reader(fromHex("4025")).varint())).toBe("DECODE_INVALID_VARINT");
    expect(code(() => new Reader(fromHex("80003fff")).varint())).toBe("DECODE_INVALID_VARINT");
    expect(code(() => new Reader(fromHex("c000000000000000")).varint())).toBe("DECODE_INVALID_VARINT");
    expect(code(() => new Writer().varint(0x40000000))).toBe("ENCODE_INVALID");
  });
});

describe("Writer scratch buffers", () => {
  it("finish() returns an independent copy and ends the writer", () => {
    const w = new Writer();
    w.raw(fromHex("0102"));
    const out = w.finish();
    expect(toHex(out)).toBe("0102");
    expect(code(() => w.u8(1))).toBe("ENCODE_INVALID");
    expect(code(() => w.finish())).toBe("ENCODE_INVALID");
    // The next writer reuses the scratch buffer: earlier output must not change, and no old byte shows through.
    const w2 = new Writer();
    w2.lengthPrefixed((v) => v.raw(new Uint8Array(10).fill(0xee)));
    const out2 = w2.finish();
    expect(toHex(out)).toBe("0102");
    expect(toHex(out2)).toBe("0a" + "ee".repeat(10));
    const w3 = new Writer();
    w3.u32(0); // a fresh writer's bytes are its own: the shrunk length header left nothing behind
    expect(toHex(w3.finish())).toBe("00000000");
  });

  it("lend() hands over the scratch itself; returnScratch() zeroes it (the high-water mark too) and only for lent bytes, once", () => {
    const w = new Writer();
    // 4 header bytes reserved, then shrunk to the 2 of varint 70: two stale bytes stay past the end.
    w.lengthPrefixed((v) => v.raw(new Uint8Array(70).fill(0xab)));
    const lentOut = w.lend();
    expect(toHex(lentOut)).toBe("4046" + "ab".repeat(70));
    expect(new Uint8Array(lentOut.buffer, lentOut.byteOffset, 74)[73]).toBe(0xab);
    expect(code(() => w.lend())).toBe("ENCODE_INVALID");
    expect(code(() => w.finish())).toBe("ENCODE_INVALID");
    // While lent, no other writer gets the buffer: their bytes do not show through.
    const other = new Writer();
    other.raw(new Uint8Array(100).fill(0x11));
    const otherOut = other.finish();
    expect(toHex(lentOut)).toBe("4046" + "ab".repeat(70));
    const whole = new Uint8Array(lentOut.buffer, lentOut.byteOffset, 80);
    returnScratch(lentOut.subarray(3));
    expect(whole.every((b) => b === 0)).toBe(true);
    // A second return, or bytes that were never lent, are left alone.
    returnScratch(lentOut);
    returnScratch(otherOut);
    expect(otherOut.every((b) => b === 0x11)).toBe(true);
  });

  it("round-trips encodings larger than the scratch buffer, interleaved with small ones", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 9000 }), { maxLength: 6 }), (chunks) => {
        const outer = new Writer(16);
        const inner: Uint8Array[] = [];
        for (const c of chunks) {
          const w = new Writer();
          w.opaque(c);
          inner.push(w.finish());
          outer.opaque(c);
        }
        const all = outer.finish();
        const r = new Reader(all);
        for (let i = 0; i < chunks.length; i++) {
          expect(r.opaque()).toEqual(chunks[i]);
          expect(decode(opaque, inner[i]!)).toEqual(chunks[i]);
        }
        r.expectEnd();
      }),
      { numRuns: 50 },
    );
  });
});

describe("structs, vectors, optionals", () => {
  interface S {
    a: number;
    b: Uint8Array;
    c: bigint;
    d: Uint8Array[];
    e: number | undefined;
  }
  const S = struct<S>({ a: uint16, b: opaque, c: uint64, d: vector(opaque), e: optional(uint16) });

  it("encodes fields in order with varint headers", () => {
    const v: S = { a: 0x0102, b: fromHex("aabb"), c: 5n, d: [fromHex("01"), new Uint8Array(0)], e: 7 };
    expect(toHex(encode(S, v))).toBe("0102" + "02aabb" + "0000000000000005" + "03" + "0101" + "00" + "01" + "0007");
    expect(decode(S, encode(S, v))).toEqual(v);
  });

  it("uses a two-byte header for a 64-byte vector", () => {
    const bytes = encode(opaque, new Uint8Array(64));
    expect(toHex(bytes.subarray(0, 2))).toBe("4040");
    expect(decode(opaque, bytes)).toEqual(new Uint8Array(64));
  });

  it("rejects trailing bytes, truncation, bad presence octets and elements spilling out of a vector", () => {
    expect(code(() => decode(uint16, fromHex("000102")))).toBe("DECODE_TRAILING_BYTES");
    expect(code(() => decode(uint16, fromHex("00")))).toBe("DECODE_TRUNCATED");
    expect(code(() => decode(optional(uint16), fromHex("020001")))).toBe("DECODE_INVALID_OPTIONAL");
    expect(code(() => decode(opaque, fromHex("05aabb")))).toBe("DECODE_VECTOR_TOO_LONG");
    // a vector<V> of uint16 whose declared 3 bytes split an element
    expect(code(() => decode(vector(uint16), fromHex("03000100")))).toBe("DECODE_TRUNCATED");
  });

  it("decodePacked decodes the same values as views of one private copy of the input", () => {
    const bytes = encode(S, { a: 1, b: fromHex("aabbcc"), c: 2n, d: [fromHex("0102"), fromHex("03")], e: undefined });
    const packed = decodePacked(S, bytes);
    expect(packed).toEqual(decode(S, bytes));
    const fields = [packed.b, ...packed.d];
    // One buffer for every field, not the input's: changing the input changes nothing decoded.
    for (const f of fields) expect(f.buffer).toBe(packed.b.buffer);
    expect(packed.b.buffer).not.toBe(bytes.buffer);
    bytes.fill(0);
    expect(toHex(packed.b)).toBe("aabbcc");
    // Each view covers only its own bytes: wiping one field leaves its neighbours as they were.
    packed.b.fill(0);
    expect(packed.d.map(toHex)).toEqual(["0102", "03"]);
  });

  it("decodePacked rejects what decode rejects, with the same codes", () => {
    for (const hex of ["000102", "00", "05aabb", "03000100"]) {
      for (const codec of [uint16, opaque, vector(uint16)] as Codec<unknown>[]) {
        const bytes = fromHex(hex);
        expect(code(() => decodePacked(codec, bytes))).toBe(code(() => decode(codec, bytes)));
      }
    }
  });

  it("writes and reads uint16/32/64 big-endian, as DataView does, across their whole ranges", () => {
    const check = <T>(codec: Codec<T>, v: T, bytes: number, set: (d: DataView) => void) => {
      const expected = new Uint8Array(bytes);
      set(new DataView(expected.buffer));
      const got = encode(codec, v);
      expect(toHex(got)).toBe(toHex(expected));
      expect(decode(codec, got)).toBe(v);
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (a, b, c) => {
        check(uint16, a, 2, (d) => d.setUint16(0, a));
        check(uint32, b, 4, (d) => d.setUint32(0, b));
        check(uint64, c, 8, (d) => d.setBigUint64(0, c));
      }),
    );
    for (const c of [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n]) check(uint64, c, 8, (d) => d.setBigUint64(0, c));
    check(uint32, 0xffffffff, 4, (d) => d.setUint32(0, 0xffffffff));
  });

  it("reads a truncated uint64 as nothing: DECODE_TRUNCATED, the position unmoved", () => {
    const r = new Reader(fromHex("0102030405"));
    expect(code(() => r.u64())).toBe("DECODE_TRUNCATED");
    expect(r.remaining).toBe(5);
    expect(r.u32()).toBe(0x01020304);
  });

  it("throws only MlsError on arbitrary input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodePacked(S, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MlsError);
        }
        try {
          decode(S, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(MlsError);
        }
      }),
    );
  });
});
