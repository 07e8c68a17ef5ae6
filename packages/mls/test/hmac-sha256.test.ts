/**
 * The hand-written HMAC-SHA-256 / HKDF-Expand (crypto/hmacSha256.ts) against
 * node:crypto, byte for byte: keys shorter than, equal to and longer than a
 * block, inputs crossing every padding boundary, multi-block HKDF outputs, and
 * the suite's KdfExpander (both the SHA-256 fast path and the generic one)
 * against ExpandWithLabel.
 */
import { createHash, createHmac, hkdfSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { PreparedHmacSha256, sha256 } from "../src/crypto/hmacSha256.js";
import { errorCode } from "./support/errors.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("hand-written SHA-256 / HMAC-SHA-256 / HKDF-Expand", () => {
  it("hashes like node:crypto at every length around the padding boundaries", () => {
    for (let n = 0; n <= 200; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
      expect(hex(sha256(data))).toBe(createHash("sha256").update(data).digest("hex"));
    }
  });

  it("MACs like node:crypto for any key and data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 300 }), (key, data) => {
        expect(hex(new PreparedHmacSha256(key).mac(data))).toBe(createHmac("sha256", key).update(data).digest("hex"));
      }),
      { numRuns: 300 },
    );
  });

  it("expands like RFC 5869 HKDF-Expand (node:crypto) for any PRK, info and length, and is reusable", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 1, max: 400 }), (prk, info, length) => {
        const h = new PreparedHmacSha256(prk);
        // hkdfSync = Extract then Expand; Extract with salt = prk over empty IKM is not what we want, so build Expand from HMAC directly.
        const expected: number[] = [];
        let t = Buffer.alloc(0);
        for (let i = 1; expected.length < length; i++) {
          t = createHmac("sha256", prk).update(t).update(info).update(Uint8Array.of(i)).digest();
          expected.push(...t);
        }
        expect(hex(h.expand(info, length))).toBe(Buffer.from(expected.slice(0, length)).toString("hex"));
        expect(hex(h.expand(info, length))).toBe(Buffer.from(expected.slice(0, length)).toString("hex"));
      }),
      { numRuns: 200 },
    );
    // And once through node's own HKDF: Expand(Extract(salt, ikm)) equals hkdfSync.
    const salt = Uint8Array.from({ length: 32 }, (_, i) => i);
    const ikm = Uint8Array.from({ length: 40 }, (_, i) => 255 - i);
    const prk = createHmac("sha256", salt).update(ikm).digest();
    const info = Uint8Array.of(1, 2, 3);
    expect(hex(new PreparedHmacSha256(prk).expand(info, 100))).toBe(Buffer.from(hkdfSync("sha256", ikm, salt, info, 100)).toString("hex"));
  });

  it("rejects lengths HKDF cannot produce", () => {
    const h = new PreparedHmacSha256(new Uint8Array(32));
    expect(errorCode(() => h.expand(new Uint8Array(0), 255 * 32 + 1))).toBe("CRYPTO_INVALID_LENGTH");
    expect(errorCode(() => h.expand(new Uint8Array(0), -1))).toBe("CRYPTO_INVALID_LENGTH");
  });

  for (const id of [1, 2, 3, 5] as const) {
    it(`suite ${id}: kdfExpander gives ExpandWithLabel's bytes`, () => {
      const cs = nodeCryptoProvider.suite(id);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: cs.params.nh, maxLength: cs.params.nh }), fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 100 }), (prk, context, length) => {
          const e = cs.kdfExpander(prk);
          expect(hex(e.expandWithLabel("key", context, length))).toBe(hex(cs.expandWithLabel(prk, "key", context, length)));
          expect(hex(e.expand(context, length))).toBe(hex(cs.kdfExpand(prk, context, length)));
          e.destroy();
        }),
        { numRuns: 50 },
      );
    });
  }
});
