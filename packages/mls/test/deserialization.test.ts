/**
 * deserialization.json: variable-length vector headers (RFC 9420 §2.1.2).
 * Each vlbytes_header must decode to `length` and re-encode to the same bytes;
 * with that many body bytes appended, opaque<V> must read exactly the body.
 */
import { afterAll, describe, expect, it } from "vitest";
import { decode, encode, opaque, Reader, Writer } from "../src/codec/tls.js";
import { fromHex, toHex } from "../src/codec/bytes.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";

interface HeaderCase {
  vlbytes_header: string;
  length: number;
}

describe.skipIf(!haveVectors)("deserialization.json", () => {
  const tally = new VectorTally("deserialization.json");
  afterAll(() => tally.report());
  const cases = haveVectors ? loadVectors<HeaderCase[]>("deserialization") : [];

  it("decodes each header to its length and re-encodes it identically", () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const header = fromHex(c.vlbytes_header);
      const r = new Reader(header);
      expect(r.varint()).toBe(c.length);
      r.expectEnd();

      const w = new Writer();
      w.varint(c.length);
      expect(toHex(w.finish())).toBe(c.vlbytes_header);

      if (c.length <= 1 << 16) {
        // The header in use: opaque<V> with that many body bytes.
        const body = new Uint8Array(c.length);
        for (let i = 0; i < body.length; i++) body[i] = i & 0xff;
        const framed = new Uint8Array(header.length + c.length);
        framed.set(header);
        framed.set(body, header.length);
        expect(decode(opaque, framed)).toEqual(body);
        expect(toHex(encode(opaque, body).subarray(0, header.length))).toBe(c.vlbytes_header);
      }
      if (c.length > 0) {
        // One byte short of the declared body: the vector is longer than the input.
        const short = new Uint8Array(header.length + Math.min(c.length - 1, 16));
        short.set(header);
        expect(() => decode(opaque, short)).toThrow(expect.objectContaining({ code: "DECODE_VECTOR_TOO_LONG" }));
      }
      tally.pass();
    }
    expect(tally.passed).toBe(cases.length);
  });
});
