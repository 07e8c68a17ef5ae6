/**
 * PackedSignatureKeys (group/packedSignatureKeys.ts), a restored past epoch's
 * signature keys: it answers and iterates as the Map it replaces, for keys
 * given in any order, repeated leaves and keys of different lengths.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PackedSignatureKeys } from "../src/group/packedSignatureKeys.js";

describe("PackedSignatureKeys", () => {
  it("answers as a Map of the same entries", () => {
    const entry = fc.tuple(fc.nat({ max: 300 }), fc.uint8Array({ minLength: 0, maxLength: 70 }));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 200 }), fc.array(fc.nat({ max: 320 }), { maxLength: 50 }), (entries, probes) => {
        const map = new Map<number, Uint8Array>();
        for (const [l, k] of entries) map.set(l, k);
        const packed = new PackedSignatureKeys(entries);
        expect(packed.size).toBe(map.size);
        for (const l of [...probes, ...map.keys()]) expect(packed.get(l)).toEqual(map.get(l));
        expect([...packed]).toEqual([...map].sort((a, b) => a[0] - b[0]));
      }),
    );
  });

  it("copies the keys it is given", () => {
    const key = new Uint8Array([1, 2, 3]);
    const packed = new PackedSignatureKeys([[5, key]]);
    key.fill(0);
    expect(packed.get(5)).toEqual(new Uint8Array([1, 2, 3]));
    expect(packed.get(4)).toBeUndefined();
  });
});
