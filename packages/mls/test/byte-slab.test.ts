import { describe, expect, it } from "vitest";
import { ByteSlab } from "../src/codec/byteSlab.js";

describe("ByteSlab (codec/byteSlab.ts)", () => {
  it("carves zeroed, 8-byte aligned, non-overlapping arrays from one buffer until it is full", () => {
    const slab = new ByteSlab(256, 64);
    const a = slab.take(13);
    const b = slab.take(64);
    const c = slab.take(1);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).toBe(a.buffer);
    expect([a.byteOffset, b.byteOffset, c.byteOffset]).toEqual([0, 16, 80]);
    expect([a.length, b.length, c.length]).toEqual([13, 64, 1]);
    for (const x of [a, b, c]) expect(x.every((v) => v === 0)).toBe(true);
    a.fill(1);
    b.fill(2);
    expect(c[0]).toBe(0);
    expect(b.every((v) => v === 2)).toBe(true);
    // 88 of 256 bytes used: two more of 64 fit, the next starts a new buffer.
    slab.take(64);
    slab.take(64);
    const d = slab.take(64);
    expect(d.buffer).not.toBe(a.buffer);
    expect(d.byteOffset).toBe(0);
    expect(d.buffer.byteLength).toBe(256);
  });

  it("gives an array over the carving limit a buffer of its own, leaving the slab as it was", () => {
    const slab = new ByteSlab(256, 64);
    const a = slab.take(8);
    const big = slab.take(65);
    expect(big.buffer.byteLength).toBe(65);
    expect(big.byteOffset).toBe(0);
    expect(slab.take(8).byteOffset).toBe(8);
    expect(a.buffer.byteLength).toBe(256);
  });

  it("starts a new buffer when its slab was transferred away", () => {
    const slab = new ByteSlab(256, 64);
    const a = slab.take(8);
    a.set([1, 2, 3]);
    const moved = structuredClone(a, { transfer: [a.buffer] });
    expect(a.length).toBe(0); // detached
    expect(Array.from(moved.subarray(0, 3))).toEqual([1, 2, 3]);
    const b = slab.take(8);
    expect(b.length).toBe(8);
    expect(b.buffer.byteLength).toBe(256);
    expect(b.byteOffset).toBe(0);
  });
});
