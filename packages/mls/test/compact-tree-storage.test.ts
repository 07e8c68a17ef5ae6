/**
 * The ratchet tree's compact storage: PackedHashes (per-node hashes in chunks,
 * copied on write) against a plain array model, and KeyTable (hashed key ->
 * index) returning exactly the indices whose key matches, duplicates and
 * misses included.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bytesEqual } from "../src/codec/bytes.js";
import { KeyTable } from "../src/tree/keyTable.js";
import { PackedHashes } from "../src/tree/packedHashes.js";

describe("PackedHashes", () => {
  it("behaves as an array of optional hashes under set/clear/resize, and copies are independent", () => {
    type Op = { kind: "set"; i: number; v: number } | { kind: "clear"; i: number } | { kind: "length"; n: number } | { kind: "copy" };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), i: fc.nat(1200), v: fc.nat(255) }),
      fc.record({ kind: fc.constant("clear" as const), i: fc.nat(1200) }),
      fc.record({ kind: fc.constant("length" as const), n: fc.nat(1300) }),
      fc.constant({ kind: "copy" as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        let h = new PackedHashes(32, 600);
        let model: (number | undefined)[] = new Array(600).fill(undefined);
        const copies: { h: PackedHashes; model: (number | undefined)[] }[] = [];
        for (const o of ops) {
          if (o.kind === "set" && o.i < model.length) {
            h.set(o.i, new Uint8Array(32).fill(o.v));
            model[o.i] = o.v;
          } else if (o.kind === "clear" && o.i < model.length) {
            h.set(o.i, undefined);
            model[o.i] = undefined;
          } else if (o.kind === "length") {
            h.length = o.n;
            model = Array.from({ length: o.n }, (_, i) => model[i]);
          } else if (o.kind === "copy") {
            copies.push({ h, model: model.slice() });
            h = h.copy();
          }
        }
        for (const c of [...copies, { h, model }]) {
          for (let i = 0; i < c.model.length; i++) {
            const got = c.h.get(i);
            expect(got === undefined ? undefined : got[0]).toBe(c.model[i]);
            expect(c.h.has(i)).toBe(c.model[i] !== undefined);
          }
        }
      }),
    );
  });

  it("get returns a copy: a kept hash does not change when the node is written again", () => {
    const h = new PackedHashes(32, 4);
    h.set(1, new Uint8Array(32).fill(7));
    const kept = h.get(1)!;
    h.set(1, new Uint8Array(32).fill(9));
    expect(kept[0]).toBe(7);
    expect(h.get(1)![0]).toBe(9);
    expect(() => h.set(1, new Uint8Array(31))).toThrow(RangeError);
    expect(() => h.set(4, new Uint8Array(32))).toThrow(RangeError);
  });
});

describe("KeyTable", () => {
  it("finds every index stored under a key, only where the caller confirms it; misses are undefined", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.nat(5000)), { maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), (entries, probe) => {
        const table = KeyTable.build(entries);
        const keyAt = new Map<number, Uint8Array[]>();
        for (const [k, i] of entries) keyAt.set(i, [...(keyAt.get(i) ?? []), k]);
        const holders = entries.filter(([k]) => bytesEqual(k, probe)).map(([, i]) => i);
        const seen: number[] = [];
        const found = table.find(probe, (i) => {
          seen.push(i);
          return false;
        });
        expect(found).toBeUndefined();
        // Every real holder is offered (others only on a hash collision).
        for (const i of holders) expect(seen).toContain(i);
        // With a check that accepts holders, the first holder in insertion order is returned.
        const accepted = table.find(probe, (i) => (keyAt.get(i) ?? []).some((k) => bytesEqual(k, probe)));
        expect(accepted).toBe(holders[0]);
      }),
    );
  });
});
