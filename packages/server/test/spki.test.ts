import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SignatureAlgorithm } from "@conclave/mls";
import { hasSignatureKeyShape, rawKeyFromSpki, spkiFromRawKey } from "../src/as/spki.js";

const ALGS: [SignatureAlgorithm, () => ReturnType<typeof generateKeyPairSync>][] = [
  ["Ed25519", () => generateKeyPairSync("ed25519")],
  ["Ed448", () => generateKeyPairSync("ed448")],
  ["ECDSA-P256-SHA256", () => generateKeyPairSync("ec", { namedCurve: "P-256" })],
  ["ECDSA-P384-SHA384", () => generateKeyPairSync("ec", { namedCurve: "P-384" })],
  ["ECDSA-P521-SHA512", () => generateKeyPairSync("ec", { namedCurve: "P-521" })],
];

function raw(jwk: { kty?: string; x?: string; y?: string }): Uint8Array {
  const x = Buffer.from(jwk.x!, "base64url");
  return jwk.kty === "OKP" ? new Uint8Array(x) : new Uint8Array([4, ...x, ...Buffer.from(jwk.y!, "base64url")]);
}

describe("SubjectPublicKeyInfo <-> MLS signature keys (RFC 9420 §5.3, RFC 8410, RFC 5480)", () => {
  it.each(ALGS)("%s: matches node:crypto's DER both ways", (alg, gen) => {
    for (let i = 0; i < 3; i++) {
      const { publicKey } = gen();
      const der = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
      const key = raw(publicKey.export({ format: "jwk" }));
      expect(hasSignatureKeyShape(alg, key)).toBe(true);
      expect(spkiFromRawKey(alg, key)).toEqual(der);
      expect(rawKeyFromSpki(der)).toEqual({ algorithm: alg, key });
    }
  });

  it("rejects keys and SPKIs of other shapes", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
    const compressed = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
    compressed[26] = 0x02; // point form byte
    expect(rawKeyFromSpki(compressed)).toBeUndefined();
    expect(rawKeyFromSpki(der.subarray(0, der.length - 1))).toBeUndefined();
    expect(rawKeyFromSpki(new Uint8Array([...der, 0]))).toBeUndefined();
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" });
    expect(rawKeyFromSpki(new Uint8Array(rsa))).toBeUndefined();
    expect(hasSignatureKeyShape("Ed25519", new Uint8Array(33))).toBe(false);
    expect(hasSignatureKeyShape("ECDSA-P256-SHA256", new Uint8Array(65))).toBe(false); // no 0x04
    expect(() => spkiFromRawKey("Ed448", new Uint8Array(32))).toThrow(RangeError);
  });
});
