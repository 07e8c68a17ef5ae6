/**
 * Ed25519 and X25519 on libsodium (crypto/node/sodium.ts) must be the same
 * functions as on node:crypto, byte for byte: the same public key from a
 * private key, the same (deterministic, RFC 8032 §5.1.6) signatures and
 * shared secrets, the same answers to valid, tampered and malformed input,
 * alone or in batches through the worker. The one known difference, Ed25519
 * keys of small order, is pinned down.
 */
import { describe, expect, it } from "vitest";
import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, sign as nodeSign, verify as nodeVerify, randomBytes } from "node:crypto";
import { dhGroup } from "../src/crypto/node/dh.js";
import { okpPrivateKeyObject, okpPublicKeyObject, okpRawPublicKey } from "../src/crypto/node/keyEncoding.js";
import { nodeCryptoProvider, nodeEd25519Backend } from "../src/crypto/node/index.js";
import { sodium } from "../src/crypto/node/sodium.js";
import { MlsError } from "../src/errors.js";

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const opensslPrivate = (seed: Uint8Array) => createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
const opensslPublic = (pk: Uint8Array) => createPublicKey({ key: Buffer.concat([SPKI_ED25519, pk]), format: "der", type: "spki" });

describe("node provider: Ed25519 on libsodium", () => {
  const suite = nodeCryptoProvider.suite(1);

  it("is in use where sodium-native is installed", () => {
    expect(sodium).toBeDefined();
    expect(nodeEd25519Backend()).toBe("libsodium");
  });

  it("keys and signatures equal node:crypto's, one at a time and 200 at once (through the worker)", async () => {
    const seeds = Array.from({ length: 20 }, () => new Uint8Array(randomBytes(32)));
    const msgs = Array.from({ length: 200 }, (_, i) => new Uint8Array(randomBytes(i * 7)));
    for (const seed of seeds) {
      const expected = createPublicKey(opensslPrivate(seed)).export({ format: "der", type: "spki" }).subarray(SPKI_ED25519.length);
      expect(Buffer.from(await suite.signaturePublicKey(seed)).equals(expected)).toBe(true);
    }
    const together = await Promise.all(msgs.map((m, i) => suite.sign(seeds[i % seeds.length]!, m)));
    for (let i = 0; i < msgs.length; i++) {
      const openssl = nodeSign(null, msgs[i]!, opensslPrivate(seeds[i % seeds.length]!));
      expect(Buffer.from(together[i]!).equals(openssl)).toBe(true);
      if (i % 20 === 0) expect(Buffer.from(await suite.sign(seeds[i % seeds.length]!, msgs[i]!)).equals(openssl)).toBe(true);
    }
  });

  it("verification answers as node:crypto does: valid, tampered signature or message, wrong lengths, a non-point key", async () => {
    const kp = await suite.signatureGenerateKeyPair();
    const other = await suite.signatureGenerateKeyPair();
    const msg = new Uint8Array(randomBytes(300));
    const sig = await suite.sign(kp.privateKey, msg);
    const flipped = (a: Uint8Array, at: number) => {
      const b = a.slice();
      b[at]! ^= 1;
      return b;
    };
    // A 32-byte string that decodes to no curve point (y = 2 has no x on edwards25519).
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
      [kp.publicKey, msg, sig],
      [kp.publicKey, msg, flipped(sig, 5)],
      [kp.publicKey, msg, flipped(sig, 40)],
      [kp.publicKey, flipped(msg, 0), sig],
      [other.publicKey, msg, sig],
      [kp.publicKey, msg, sig.subarray(0, 63)],
      [kp.publicKey, msg, new Uint8Array([...sig, 0])],
      [notAPoint, msg, sig],
    ];
    const openssl = (pk: Uint8Array, m: Uint8Array, s: Uint8Array): boolean => {
      try {
        return s.length === 64 && nodeVerify(null, m, opensslPublic(pk), s);
      } catch {
        return false;
      }
    };
    const alone: boolean[] = [];
    for (const [pk, m, s] of cases) alone.push(await suite.verify(pk, m, s));
    expect(alone).toEqual(cases.map(([pk, m, s]) => openssl(pk, m, s)));
    expect(alone.filter((ok) => ok).length).toBe(1);
    expect(await Promise.all(cases.map(([pk, m, s]) => suite.verify(pk, m, s)))).toEqual(alone);
    // A public key of the wrong length is a malformed key, as on node:crypto.
    const err = await suite.verify(kp.publicKey.subarray(1), msg, sig).catch((e: unknown) => e);
    expect(err instanceof MlsError && err.code).toBe("CRYPTO_INVALID_KEY");
  });

  it("a public key of small order verifies nothing (OpenSSL's cofactorless check accepts a forgery under it)", async () => {
    // A = the identity point, R = the identity, S = 0: [S]B = R + [k]A holds for every message.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = new Uint8Array(64);
    forged[0] = 1;
    const msg = new Uint8Array([1, 2, 3]);
    expect(nodeVerify(null, msg, opensslPublic(identity), forged)).toBe(true);
    expect(await suite.verify(identity, msg, forged)).toBe(false);
    expect((await Promise.all([suite.verify(identity, msg, forged), suite.verify(identity, msg, forged)])).every((ok) => !ok)).toBe(true);
  });

  it("X25519: public keys and shared secrets equal node:crypto's; low-order points and wrong lengths are CRYPTO_INVALID_KEY", () => {
    const group = dhGroup("DHKEM-X25519");
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
        return undefined;
      } catch (e) {
        return e instanceof MlsError ? e.code : String(e);
      }
    };
    for (let i = 0; i < 30; i++) {
      const a = new Uint8Array(randomBytes(32));
      const b = new Uint8Array(randomBytes(32));
      const pkA = group.publicKey(a);
      expect(Buffer.from(pkA).equals(okpRawPublicKey(okpPrivateKeyObject("X25519", a, 32)))).toBe(true);
      const pkB = group.publicKey(b);
      // Each public key is its own array: computing pkB left pkA as it was.
      expect(Buffer.from(pkA).equals(okpRawPublicKey(okpPrivateKeyObject("X25519", a, 32)))).toBe(true);
      const openssl = diffieHellman({ privateKey: okpPrivateKeyObject("X25519", a, 32), publicKey: okpPublicKeyObject("X25519", pkB) });
      expect(Buffer.from(group.dh(a, pkB)).equals(openssl)).toBe(true);
      expect(Buffer.from(group.dh(b, pkA)).equals(openssl)).toBe(true);
      // An ephemeral key: its public key matches its DH, and it serves once.
      const e = group.ephemeral();
      const shared = e.dh(pkB);
      expect(Buffer.from(group.dh(b, e.publicKey)).equals(Buffer.from(shared))).toBe(true);
      expect(codeOf(() => e.dh(pkB))).toBe("INVALID_ARGUMENT");
    }
    // RFC 7748 §6 / RFC 9180 §7.1.4: points of small order give an all-zero secret, which is refused.
    const lowOrder = [new Uint8Array(32), Uint8Array.from([1, ...new Array<number>(31).fill(0)])];
    for (const p of lowOrder) expect(codeOf(() => group.dh(new Uint8Array(randomBytes(32)), p))).toBe("CRYPTO_INVALID_KEY");
    expect(codeOf(() => group.dh(new Uint8Array(31), new Uint8Array(32).fill(9)))).toBe("CRYPTO_INVALID_KEY");
    expect(codeOf(() => group.dh(new Uint8Array(32), new Uint8Array(33)))).toBe("CRYPTO_INVALID_KEY");
    expect(codeOf(() => group.publicKey(new Uint8Array(33)))).toBe("CRYPTO_INVALID_KEY");
  });

  it("ChaCha20-Poly1305 (suite 3): the same ciphertexts as node:crypto, empty plaintext and AAD included; a forged tag is CRYPTO_DECRYPT_FAILED", async () => {
    const s3 = nodeCryptoProvider.suite(3);
    for (const [ptLen, aadLen] of [
      [0, 0],
      [0, 20],
      [12, 0],
      [12, 43],
      [1092, 43],
      [5000, 7],
    ] as const) {
      const key = new Uint8Array(randomBytes(32));
      const nonce = new Uint8Array(randomBytes(12));
      const aad = new Uint8Array(randomBytes(aadLen));
      const pt = new Uint8Array(randomBytes(ptLen));
      const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: ptLen });
      const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      const sealed = await s3.aeadSeal(key, nonce, aad, pt);
      expect(Buffer.from(sealed).equals(expected)).toBe(true);
      expect(Buffer.from(await s3.aeadOpen(key, nonce, aad, sealed)).equals(Buffer.from(pt))).toBe(true);
      const forged = sealed.slice();
      forged[forged.length - 1]! ^= 1;
      const err = await s3.aeadOpen(key, nonce, aad, forged).catch((e: unknown) => e);
      expect(err instanceof MlsError && err.code).toBe("CRYPTO_DECRYPT_FAILED");
    }
  });

  it("a public key array changed in place is read again, alone and through the worker (no stale copy)", async () => {
    const one = await suite.signatureGenerateKeyPair();
    const two = await suite.signatureGenerateKeyPair();
    const msg = new Uint8Array([9, 9, 9]);
    const sigTwo = await suite.sign(two.privateKey, msg);
    const pk = one.publicKey.slice();
    expect(await suite.verify(pk, msg, sigTwo)).toBe(false);
    expect((await Promise.all([suite.verify(pk, msg, sigTwo), suite.verify(pk, msg, sigTwo)])).some((ok) => ok)).toBe(false);
    pk.set(two.publicKey);
    expect(await suite.verify(pk, msg, sigTwo)).toBe(true);
    expect((await Promise.all([suite.verify(pk, msg, sigTwo), suite.verify(pk, msg, sigTwo)])).every((ok) => ok)).toBe(true);
  });
});
