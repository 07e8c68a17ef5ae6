/**
 * ChunkedArray (tree/chunkedArray.ts), the ratchet tree's copy-on-write
 * per-node arrays: a copy and its original never see each other's writes, in
 * any order of writes, copies, growth and shrinking, checked against plain
 * arrays copied with slice().
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ChunkedArray } from "../src/tree/chunkedArray.js";

type Op = { kind: "set"; who: number; at: number; value: number | undefined } | { kind: "copy"; who: number } | { kind: "length"; who: number; to: number };

describe("ChunkedArray", () => {
  it("behaves as independent plain arrays under random sets, copies and length changes", () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), who: fc.nat(), at: fc.nat(), value: fc.option(fc.integer(), { nil: undefined }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("copy" as const), who: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("length" as const), who: fc.nat(), to: fc.nat({ max: 1300 }) }) },
    );
    fc.assert(
      fc.property(fc.nat({ max: 1300 }), fc.array(op, { maxLength: 80 }), (initial, ops) => {
        const start = Array.from({ length: initial }, (_, i) => (i % 3 === 0 ? undefined : i));
        const chunked = [ChunkedArray.from<number>(start)];
        const plain: (number | undefined)[][] = [start.slice()];
        for (const o of ops) {
          const w = o.who % chunked.length;
          if (o.kind === "copy") {
            chunked.push(chunked[w]!.copy());
            plain.push(plain[w]!.slice());
          } else if (o.kind === "length") {
            chunked[w]!.length = o.to;
            const p = plain[w]!;
            if (o.to < p.length) p.length = o.to;
            else while (p.length < o.to) p.push(undefined);
          } else if (plain[w]!.length > 0) {
            const at = o.at % plain[w]!.length;
            chunked[w]!.set(at, o.value);
            plain[w]![at] = o.value;
          }
        }
        for (let k = 0; k < chunked.length; k++) {
          expect(chunked[k]!.length).toBe(plain[k]!.length);
          expect(chunked[k]!.toArray()).toEqual(plain[k]!);
          expect(chunked[k]!.get(plain[k]!.length)).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("clears what it drops, so growing again reads undefined", () => {
    const a = ChunkedArray.from([1, 2, 3, 4, 5]);
    const b = a.copy();
    a.length = 2;
    a.length = 5;
    expect(a.toArray()).toEqual([1, 2, undefined, undefined, undefined]);
    expect(b.toArray()).toEqual([1, 2, 3, 4, 5]);
  });

  it("refuses a write outside its length", () => {
    const a = new ChunkedArray<number>(3);
    expect(() => a.set(3, 1)).toThrow(RangeError);
    expect(() => a.set(-1, 1)).toThrow(RangeError);
    expect(() => a.set(1.5, 1)).toThrow(RangeError);
  });
});
