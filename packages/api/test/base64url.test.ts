import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromBase64Url, toBase64Url } from "../src/base64url.js";
import { codeOf } from "./support/errors.js";

describe("base64url (RFC 4648 §5, unpadded)", () => {
  it("matches RFC 4648 §10 test vectors (URL alphabet, padding removed)", () => {
    const cases: [string, string][] = [
      ["", ""],
      ["f", "Zg"],
      ["fo", "Zm8"],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg"],
      ["fooba", "Zm9vYmE"],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, enc] of cases) {
      expect(toBase64Url(new TextEncoder().encode(plain))).toBe(enc);
      expect(new TextDecoder().decode(fromBase64Url(enc))).toBe(plain);
    }
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
  });

  it("agrees with Node's encoder and round-trips arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const enc = toBase64Url(bytes);
        expect(enc).toBe(Buffer.from(bytes).toString("base64url"));
        expect(fromBase64Url(enc)).toEqual(bytes);
      }),
    );
  });

  it("rejects padding, whitespace, the standard alphabet and impossible lengths", () => {
    for (const bad of ["Zg==", "Zm9v\n", " Zm9v", "ab+c", "ab/c", "A", "Zm9vY", "é", "Zm9v\u0000"]) {
      expect(
        codeOf(() => fromBase64Url(bad)),
        bad,
      ).toBe("INVALID_BASE64URL");
    }
  });

  it("accepts exactly one spelling per byte string (non-zero trailing bits are rejected)", () => {
    expect(fromBase64Url("Zg")).toEqual(new Uint8Array([0x66]));
    expect(codeOf(() => fromBase64Url("Zh"))).toBe("INVALID_BASE64URL");
    expect(codeOf(() => fromBase64Url("Zm9"))).toBe("INVALID_BASE64URL");
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/), (s) => {
        let decoded: Uint8Array | undefined;
        try {
          decoded = fromBase64Url(s);
        } catch {
          return; // rejected: fine, as long as accepted strings are canonical
        }
        expect(toBase64Url(decoded)).toBe(s);
      }),
    );
  });

  it("names the field in the message", () => {
    expect(() => fromBase64Url("a=", "signatureKey")).toThrow(/signatureKey/);
  });
});
