/**
 * The node and web providers against each other (differential), and the
 * failure modes both must report with the same stable codes.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { toHex } from "../src/codec/bytes.js";
import { CIPHER_SUITE_IDS, createWebCryptoProvider, nodeCryptoProvider, webCryptoProvider } from "../src/crypto/index.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/index.js";
import { NIST_CURVES } from "../src/crypto/node/curves.js";
import { derToP1363, p1363ToDer } from "../src/crypto/web/ecdsaDer.js";
import { MlsError } from "../src/errors.js";
import type { MlsErrorCode } from "../src/errors.js";
import { codeOf, errorCode as syncCodeOf } from "./support/errors.js";

/**
 * The web provider forced onto its pure-JS paths: on Node the default web
 * provider finds Ed25519, X25519... in WebCrypto, which browsers may lack.
 */
const webJs = createWebCryptoProvider({ name: "web-js", native: false });
const providers: readonly CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider, webJs];
/** Every ordered pair: [from, to]. */
const pairs = providers.flatMap((a) => providers.filter((b) => b !== a).map((b): [CryptoProvider, CryptoProvider] => [a, b]));

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  const i = Math.floor(bit / 8) % out.length;
  out[i]! ^= 1 << (bit % 8);
  return out;
}

/** Big-endian fixed-length bytes of a non-negative bigint. */
function bigintBytes(x: bigint, n: number): Uint8Array {
  return Uint8Array.from(Buffer.from(x.toString(16).padStart(2 * n, "0"), "hex"));
}

const isX = (s: CipherSuite): boolean => s.params.kem === "DHKEM-X25519" || s.params.kem === "DHKEM-X448";

describe("providers", () => {
  it("reject unknown cipher suites", () => {
    for (const p of providers) {
      for (const id of [0, 8, 0xffff, 1.5]) expect(syncCodeOf(() => p.suite(id))).toBe("UNSUPPORTED_CIPHER_SUITE");
    }
  });

  it("NIST group orders in the node provider match @noble/curves", () => {
    for (const [name, curve] of [
      ["P-256", p256],
      ["P-384", p384],
      ["P-521", p521],
    ] as const) {
      const c = NIST_CURVES[name];
      expect(BigInt("0x" + toHex(c.order))).toBe(curve.Point.Fn.ORDER);
      expect(c.n).toBe(curve.Point.Fn.BYTES);
    }
  });
});

for (const id of CIPHER_SUITE_IDS) {
  const node = nodeCryptoProvider.suite(id);
  const web = webCryptoProvider.suite(id);
  const name = node.params.name;

  describe(`suite ${id} ${name}: providers agree`, () => {
    it("hash, mac, kdfExtract, kdfExpand agree on random inputs", () => {
      fc.assert(
        fc.property(bytes(300), bytes(100), fc.integer({ min: 0, max: 4 * node.params.nh + 3 }), (data, key, length) => {
          expect(toHex(node.hash(data))).toBe(toHex(web.hash(data)));
          expect(node.hash(data).length).toBe(node.params.nh);
          expect(toHex(node.mac(key, data))).toBe(toHex(web.mac(key, data)));
          const prk = node.kdfExtract(key, data);
          expect(toHex(prk)).toBe(toHex(web.kdfExtract(key, data)));
          expect(toHex(node.kdfExpand(prk, key, length))).toBe(toHex(web.kdfExpand(prk, key, length)));
          expect(node.kdfExpand(prk, key, length).length).toBe(length);
        }),
        { numRuns: 50 },
      );
    });

    it("kdfExpand rejects lengths beyond 255 * Nh", () => {
      const prk = node.randomBytes(node.params.nh);
      for (const s of [node, web]) {
        expect(syncCodeOf(() => s.kdfExpand(prk, new Uint8Array(0), 255 * s.params.nh + 1))).toBe("CRYPTO_INVALID_LENGTH");
        expect(s.kdfExpand(prk, new Uint8Array(0), 255 * s.params.nh).length).toBe(255 * s.params.nh);
      }
    });

    it("AEAD: identical ciphertexts, and each opens the other's", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: node.params.nk, maxLength: node.params.nk }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          bytes(64),
          bytes(2000),
          async (key, nonce, aad, pt) => {
            const a = await node.aeadSeal(key, nonce, aad, pt);
            const b = await web.aeadSeal(key, nonce, aad, pt);
            expect(toHex(a)).toBe(toHex(b));
            expect(a.length).toBe(pt.length + 16);
            expect(toHex(await web.aeadOpen(key, nonce, aad, a))).toBe(toHex(pt));
            expect(toHex(await node.aeadOpen(key, nonce, aad, b))).toBe(toHex(pt));
            // The node provider's synchronous forms (used on the message path) are the same functions.
            expect(toHex(node.aeadSealNow!(key, nonce, aad, pt))).toBe(toHex(a));
            expect(toHex(node.aeadOpenNow!(key, nonce, aad, b))).toBe(toHex(pt));
            expect(syncCodeOf(() => node.aeadOpenNow!(key, nonce, aad, flipBit(a, 3)))).toBe("CRYPTO_DECRYPT_FAILED");
            // With out: the same bytes, written into a view of a larger array (as a PrivateMessage is sealed in place).
            const room = new Uint8Array(pt.length + 16 + 8);
            const into = room.subarray(5, 5 + pt.length + 16);
            expect(node.aeadSealNow!(key, nonce, aad, pt, into)).toBe(into);
            expect(toHex(into)).toBe(toHex(a));
            expect(room[4]).toBe(0);
            const opened = new Uint8Array(pt.length);
            expect(node.aeadOpenNow!(key, nonce, aad, a, opened)).toBe(opened);
            expect(toHex(opened)).toBe(toHex(pt));
            expect(syncCodeOf(() => node.aeadOpenNow!(key, nonce, aad, flipBit(a, 3), opened))).toBe("CRYPTO_DECRYPT_FAILED");
            expect(opened.every((x) => x === 0)).toBe(true);
            expect(syncCodeOf(() => node.aeadSealNow!(key, nonce, aad, pt, new Uint8Array(pt.length)))).toBe("CRYPTO_INVALID_LENGTH");
          },
        ),
        { numRuns: 30 },
      );
      expect(web.aeadSealNow).toBeUndefined();
    });

    it("DeriveKeyPair gives identical keys for random IKMs, consistent with hpkePublicKey", async () => {
      await fc.assert(
        fc.asyncProperty(bytes(80), async (ikm) => {
          const a = await node.hpkeDeriveKeyPair(ikm);
          for (const b of [await web.hpkeDeriveKeyPair(ikm), await webJs.suite(id).hpkeDeriveKeyPair(ikm)]) {
            expect(toHex(b.privateKey)).toBe(toHex(a.privateKey));
            expect(toHex(b.publicKey)).toBe(toHex(a.publicKey));
          }
          expect(a.privateKey.length).toBe(node.params.nsk);
          expect(a.publicKey.length).toBe(node.params.npk);
          expect(toHex(await node.hpkePublicKey(a.privateKey))).toBe(toHex(a.publicKey));
          expect(toHex(await web.hpkePublicKey(a.privateKey))).toBe(toHex(a.publicKey));
        }),
        { numRuns: 10 },
      );
    });

    for (const [from, to] of pairs) {
      const s = from.suite(id);
      const r = to.suite(id);

      it(`HPKE: ${from.name} seals, ${to.name} opens`, async () => {
        await fc.assert(
          fc.asyncProperty(bytes(100), bytes(40), bytes(500), async (info, aad, pt) => {
            const kp = await r.hpkeGenerateKeyPair();
            expect(toHex(await s.hpkePublicKey(kp.privateKey))).toBe(toHex(kp.publicKey));
            const ct = await s.hpkeSeal(kp.publicKey, info, aad, pt);
            expect(ct.kemOutput.length).toBe(s.params.nenc);
            expect(ct.ciphertext.length).toBe(pt.length + 16);
            expect(toHex(await r.hpkeOpen(kp.privateKey, ct.kemOutput, info, aad, ct.ciphertext))).toBe(toHex(pt));
          }),
          { numRuns: 4 },
        );
      });

      it(`HPKE export: ${from.name} sender and ${to.name} receiver agree`, async () => {
        const kp = await r.hpkeGenerateKeyPair();
        for (const length of [0, 1, s.params.nh, 3 * s.params.nh + 1]) {
          const info = s.randomBytes(20);
          const ctx = s.randomBytes(length);
          const sent = await s.hpkeExportSender(kp.publicKey, info, ctx, length);
          expect(sent.secret.length).toBe(length);
          expect(toHex(await r.hpkeExportReceiver(kp.privateKey, sent.kemOutput, info, ctx, length))).toBe(toHex(sent.secret));
          // A different exporter context gives a different secret (long enough that a collision is no fluke).
          if (length >= 16) {
            const other = await r.hpkeExportReceiver(kp.privateKey, sent.kemOutput, info, flipBit(new Uint8Array([...ctx, 0]), 0), length);
            expect(toHex(other)).not.toBe(toHex(sent.secret));
          }
        }
      });
    }

    for (const [from, to] of pairs) {
      const s = from.suite(id);
      const r = to.suite(id);

      it(`signatures: ${from.name} signs, ${to.name} verifies`, async () => {
        const kp = await s.signatureGenerateKeyPair();
        expect(toHex(await r.signaturePublicKey(kp.privateKey))).toBe(toHex(kp.publicKey));
        await fc.assert(
          fc.asyncProperty(bytes(300), fc.nat(), async (msg, bit) => {
            const sig = await s.sign(kp.privateKey, msg);
            expect(await r.verify(kp.publicKey, msg, sig)).toBe(true);
            expect(await r.verify(kp.publicKey, msg, flipBit(sig, bit))).toBe(false);
            const otherMsg = msg.length > 0 ? flipBit(msg, bit) : new Uint8Array([1]);
            expect(await r.verify(kp.publicKey, otherMsg, sig)).toBe(false);
          }),
          { numRuns: 8 },
        );
      });
    }
  });

  if (node.params.signature.startsWith("ECDSA")) {
    describe(`suite ${id} ${name}: ECDSA signature encodings`, () => {
      const curve = { "ECDSA-P256-SHA256": p256, "ECDSA-P384-SHA384": p384, "ECDSA-P521-SHA512": p521 }[node.params.signature as "ECDSA-P256-SHA256"];
      const n = curve.Point.Fn.BYTES;
      const order = curve.Point.Fn.ORDER;
      const scalar = fc.bigInt({ min: 1n, max: order - 1n }).map((x) => bigintBytes(x, n));

      it("DER <-> r||s conversion round-trips and matches @noble's DER", () => {
        fc.assert(
          fc.property(scalar, scalar, (r, s) => {
            const rs = new Uint8Array([...r, ...s]);
            const der = p1363ToDer(rs, n);
            expect(toHex(der)).toBe(toHex(curve.Signature.fromBytes(rs, "compact").toBytes("der")));
            expect(toHex(derToP1363(der, n)!)).toBe(toHex(rs));
          }),
          { numRuns: 200 },
        );
      });

      it("every provider accepts high-S and rejects non-canonical DER alike", async () => {
        const kp = await node.signatureGenerateKeyPair();
        const msg = node.randomBytes(40);
        const rs = derToP1363(await node.sign(kp.privateKey, msg), n)!;
        const r = rs.subarray(0, n);
        const sBig = BigInt("0x" + toHex(rs.subarray(n)));
        const flipped = new Uint8Array([...r, ...bigintBytes(order - sBig, n)]);
        const canonical = [p1363ToDer(rs, n), p1363ToDer(flipped, n)];
        const der = canonical[0]!;
        const bodyStart = der[1] === 0x81 ? 3 : 2;
        const body = der.subarray(bodyStart);
        const rebuild = (content: number[], longForm = false): Uint8Array =>
          Uint8Array.from([0x30, ...(content.length >= 0x80 || longForm ? [0x81, content.length] : [content.length]), ...content]);
        const rLen = body[1]!;
        const padded = [0x02, rLen + 1, 0x00, ...body.subarray(2, 2 + rLen), ...body.subarray(2 + rLen)];
        const nonCanonical = [
          rebuild(padded), // unnecessary leading zero on r (when r's top bit is clear) or double zero
          ...(body.length < 0x80 ? [rebuild([...body], true)] : []), // long-form length where short fits
          Uint8Array.from([...der, 0x00]), // trailing byte
          der.subarray(0, der.length - 1), // truncated
        ];
        for (const p of providers) {
          const s = p.suite(id);
          for (const sig of canonical) expect(await s.verify(kp.publicKey, msg, sig)).toBe(true);
          for (const sig of nonCanonical) expect(await s.verify(kp.publicKey, msg, sig)).toBe(false);
        }
      });
    });
  }

  describe(`suite ${id} ${name}: failures`, () => {
    for (const p of providers) {
      const s = p.suite(id);
      const { nk, nn, npk, nsk, nenc } = s.params;

      it(`${p.name}: tampered or truncated AEAD ciphertext -> CRYPTO_DECRYPT_FAILED`, async () => {
        const key = s.randomBytes(nk);
        const nonce = s.randomBytes(nn);
        const aad = s.randomBytes(10);
        const ct = await s.aeadSeal(key, nonce, aad, s.randomBytes(100));
        for (const bit of [0, 7, 8 * 50 + 3, 8 * ct.length - 1]) {
          expect(await codeOf(s.aeadOpen(key, nonce, aad, flipBit(ct, bit)))).toBe("CRYPTO_DECRYPT_FAILED");
        }
        expect(await codeOf(s.aeadOpen(key, nonce, flipBit(aad, 0), ct))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.aeadOpen(key, flipBit(nonce, 5), aad, ct))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.aeadOpen(key, nonce, aad, ct.subarray(0, 15)))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.aeadOpen(key, nonce, aad, ct.subarray(0, ct.length - 1)))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.aeadSeal(key.subarray(1), nonce, aad, ct))).toBe("CRYPTO_INVALID_KEY");
      });

      it(`${p.name}: tampered HPKE ciphertext -> CRYPTO_DECRYPT_FAILED, bad kem output -> CRYPTO_INVALID_KEY`, async () => {
        const kp = await s.hpkeGenerateKeyPair();
        const info = s.randomBytes(8);
        const ct = await s.hpkeSeal(kp.publicKey, info, new Uint8Array(0), s.randomBytes(50));
        expect(await codeOf(s.hpkeOpen(kp.privateKey, ct.kemOutput, info, new Uint8Array(0), flipBit(ct.ciphertext, 77)))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.hpkeOpen(kp.privateKey, ct.kemOutput, flipBit(info, 1), new Uint8Array(0), ct.ciphertext))).toBe("CRYPTO_DECRYPT_FAILED");
        expect(await codeOf(s.hpkeOpen(kp.privateKey, ct.kemOutput, info, new Uint8Array(1), ct.ciphertext))).toBe("CRYPTO_DECRYPT_FAILED");
        // Another valid key pair cannot open it.
        const other = await s.hpkeGenerateKeyPair();
        expect(await codeOf(s.hpkeOpen(other.privateKey, ct.kemOutput, info, new Uint8Array(0), ct.ciphertext))).toBe("CRYPTO_DECRYPT_FAILED");
        // A flipped bit in the KEM output: still a point on a Montgomery curve (so the AEAD fails), off the curve for NIST.
        const tampered = flipBit(ct.kemOutput, 8 * 5 + 2);
        expect(await codeOf(s.hpkeOpen(kp.privateKey, tampered, info, new Uint8Array(0), ct.ciphertext))).toBe(isX(s) ? "CRYPTO_DECRYPT_FAILED" : "CRYPTO_INVALID_KEY");
        expect(await codeOf(s.hpkeOpen(kp.privateKey, ct.kemOutput.subarray(1), info, new Uint8Array(0), ct.ciphertext))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.hpkeExportReceiver(kp.privateKey, ct.kemOutput.subarray(1), info, new Uint8Array(0), 32))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.hpkeOpen(kp.privateKey, new Uint8Array(nenc), info, new Uint8Array(0), ct.ciphertext))).toBe("CRYPTO_INVALID_KEY");
      });

      if (isX(s)) {
        it(`${p.name}: low-order X25519/X448 points (all-zero shared secret) -> CRYPTO_INVALID_KEY`, async () => {
          const kp = await s.hpkeGenerateKeyPair();
          const one = new Uint8Array(npk);
          one[0] = 1;
          for (const bad of [new Uint8Array(npk), one]) {
            expect(await codeOf(s.hpkeSeal(bad, new Uint8Array(0), new Uint8Array(0), new Uint8Array(1)))).toBe("CRYPTO_INVALID_KEY");
            expect(await codeOf(s.hpkeOpen(kp.privateKey, bad, new Uint8Array(0), new Uint8Array(0), new Uint8Array(17)))).toBe("CRYPTO_INVALID_KEY");
          }
        });
      }

      it(`${p.name}: malformed HPKE keys -> CRYPTO_INVALID_KEY`, async () => {
        const kp = await s.hpkeGenerateKeyPair();
        const e = new Uint8Array(0);
        expect(await codeOf(s.hpkeSeal(kp.publicKey.subarray(1), e, e, e))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.hpkeExportSender(new Uint8Array(npk + 1), e, e, 16))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.hpkePublicKey(kp.privateKey.subarray(1)))).toBe("CRYPTO_INVALID_KEY");
        if (!isX(s)) {
          expect(await codeOf(s.hpkeSeal(flipBit(kp.publicKey, 8 * 3), e, e, e))).toBe("CRYPTO_INVALID_KEY");
          expect(await codeOf(s.hpkePublicKey(new Uint8Array(nsk)))).toBe("CRYPTO_INVALID_KEY");
        }
      });
    }
    for (const p of providers) {
      const s = p.suite(id);
      const { npk } = s.params;

      it(`${p.name}: bad signatures -> false, malformed public keys -> CRYPTO_INVALID_KEY`, async () => {
        const kp = await s.signatureGenerateKeyPair();
        const msg = s.randomBytes(64);
        const sig = await s.sign(kp.privateKey, msg);
        expect(await s.verify(kp.publicKey, msg, sig)).toBe(true);
        expect(await s.verify(kp.publicKey, msg, sig.subarray(0, sig.length - 1))).toBe(false);
        expect(await s.verify(kp.publicKey, msg, new Uint8Array(0))).toBe(false);
        expect(await s.verify(kp.publicKey, msg, new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]))).toBe(false);
        expect(await s.verify(kp.publicKey, msg, s.randomBytes(sig.length))).toBe(false);
        const other = await s.signatureGenerateKeyPair();
        expect(await s.verify(other.publicKey, msg, sig)).toBe(false);
        expect(await codeOf(s.verify(kp.publicKey.subarray(1), msg, sig))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.verify(new Uint8Array(0), msg, sig))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.signaturePublicKey(kp.privateKey.subarray(1)))).toBe("CRYPTO_INVALID_KEY");
        expect(await codeOf(s.sign(new Uint8Array(1), msg))).toBe("CRYPTO_INVALID_KEY");
        if (s.params.signature.startsWith("ECDSA")) {
          // Off the curve, and a compressed encoding (RFC 9420 §5.1.1 requires uncompressed).
          expect(await codeOf(s.verify(flipBit(kp.publicKey, 8 * 7), msg, sig))).toBe("CRYPTO_INVALID_KEY");
          const compressed = kp.publicKey.subarray(0, 1 + (npk - 1) / 2).slice();
          compressed[0] = 0x02;
          expect(await codeOf(s.verify(compressed, msg, sig))).toBe("CRYPTO_INVALID_KEY");
          expect(await codeOf(s.sign(new Uint8Array(kp.privateKey.length), msg))).toBe("CRYPTO_INVALID_KEY");
        }
      });
    }
  });
}
