/**
 * HPKE base mode (RFC 9180) for browsers on @hpke/core: NIST DHKEMs and
 * AES-GCM through WebCrypto, X25519 / X448 / ChaCha20-Poly1305 through the
 * pure-JS @hpke add-ons (WebCrypto X25519/X448 is not everywhere yet).
 * Public-from-private uses @noble/curves, which @hpke does not expose.
 */
import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite as HpkeSuite,
  DecapError,
  DeriveKeyPairError,
  DeserializeError,
  DhkemP256HkdfSha256,
  DhkemP384HkdfSha384,
  DhkemP521HkdfSha512,
  EncapError,
  HkdfSha256,
  HkdfSha384,
  HkdfSha512,
  InvalidParamError,
  OpenError,
  ValidationError,
} from "@hpke/core";
import type { AeadInterface, KdfInterface, KemInterface } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { DhkemX448HkdfSha512 } from "@hpke/dhkem-x448";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import { x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import type { CipherSuiteParams, HpkeCiphertext, KeyPair } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import type { MlsErrorCode } from "../../errors.js";

export interface WebHpke {
  seal(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<HpkeCiphertext>;
  open(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
  exportSender(pkR: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Promise<{ kemOutput: Uint8Array; secret: Uint8Array }>;
  exportReceiver(skR: Uint8Array, enc: Uint8Array, info: Uint8Array, exporterContext: Uint8Array, length: number): Promise<Uint8Array>;
  deriveKeyPair(ikm: Uint8Array): Promise<KeyPair>;
  generateKeyPair(): Promise<KeyPair>;
  publicKey(skR: Uint8Array): Promise<Uint8Array>;
}

/** @hpke errors -> our stable codes; anything unexpected becomes `fallback`. */
function mapError(e: unknown, fallback: MlsErrorCode): MlsError {
  if (e instanceof MlsError) return e;
  let code: MlsErrorCode = fallback;
  if (e instanceof OpenError) code = "CRYPTO_DECRYPT_FAILED";
  else if (e instanceof DeriveKeyPairError) code = "CRYPTO_DERIVE_KEY_PAIR_FAILED";
  else if (e instanceof DeserializeError || e instanceof DecapError || e instanceof EncapError || e instanceof ValidationError || e instanceof InvalidParamError) {
    code = "CRYPTO_INVALID_KEY";
  }
  return new MlsError(code, `HPKE failed: ${e instanceof Error ? e.name : "error"}`, { cause: e });
}

async function guard<T>(fallback: MlsErrorCode, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw mapError(e, fallback);
  }
}

function kemFor(p: CipherSuiteParams): KemInterface {
  switch (p.kem) {
    case "DHKEM-P256":
      return new DhkemP256HkdfSha256();
    case "DHKEM-P384":
      return new DhkemP384HkdfSha384();
    case "DHKEM-P521":
      return new DhkemP521HkdfSha512();
    case "DHKEM-X25519":
      return new DhkemX25519HkdfSha256();
    case "DHKEM-X448":
      return new DhkemX448HkdfSha512();
  }
}

function kdfFor(p: CipherSuiteParams): KdfInterface {
  switch (p.hash) {
    case "SHA-256":
      return new HkdfSha256();
    case "SHA-384":
      return new HkdfSha384();
    case "SHA-512":
      return new HkdfSha512();
  }
}

function aeadFor(p: CipherSuiteParams): AeadInterface {
  switch (p.aead) {
    case "AES-128-GCM":
      return new Aes128Gcm();
    case "AES-256-GCM":
      return new Aes256Gcm();
    case "ChaCha20-Poly1305":
      return new Chacha20Poly1305();
  }
}

/** RFC 9180 §7.1.1 public key from a serialized private key, synchronously. */
function publicFromPrivate(p: CipherSuiteParams): (sk: Uint8Array) => Uint8Array {
  switch (p.kem) {
    case "DHKEM-X25519":
      return (sk) => x25519.getPublicKey(sk);
    case "DHKEM-X448":
      return (sk) => x448.getPublicKey(sk);
    case "DHKEM-P256":
      return (sk) => p256.getPublicKey(sk, false);
    case "DHKEM-P384":
      return (sk) => p384.getPublicKey(sk, false);
    case "DHKEM-P521":
      return (sk) => p521.getPublicKey(sk, false);
  }
}

export function webHpke(params: CipherSuiteParams): WebHpke {
  const suite = new HpkeSuite({ kem: kemFor(params), kdf: kdfFor(params), aead: aeadFor(params) });
  const kem = suite.kem;
  const pubOf = publicFromPrivate(params);

  const checkEnc = (enc: Uint8Array): void => {
    if (enc.length !== params.nenc) throw new MlsError("CRYPTO_INVALID_KEY", `KEM output must be ${params.nenc} bytes`);
  };
  const checkPk = (pk: Uint8Array): void => {
    if (pk.length !== params.npk) throw new MlsError("CRYPTO_INVALID_KEY", `HPKE public key must be ${params.npk} bytes`);
  };
  const checkSk = (sk: Uint8Array): void => {
    if (sk.length !== params.nsk) throw new MlsError("CRYPTO_INVALID_KEY", `HPKE private key must be ${params.nsk} bytes`);
  };
  const publicKey = (pk: Uint8Array): Promise<CryptoKey> => {
    checkPk(pk);
    return kem.deserializePublicKey(pk);
  };
  const privateKey = (sk: Uint8Array): Promise<CryptoKey> => {
    checkSk(sk);
    return kem.deserializePrivateKey(sk);
  };
  const serialize = async (kp: CryptoKeyPair): Promise<KeyPair> => ({
    privateKey: new Uint8Array(await kem.serializePrivateKey(kp.privateKey)),
    publicKey: new Uint8Array(await kem.serializePublicKey(kp.publicKey)),
  });

  return {
    seal: (pkR, info, aad, plaintext) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        const r = await suite.seal({ recipientPublicKey: await publicKey(pkR), info }, plaintext, aad);
        return { kemOutput: new Uint8Array(r.enc), ciphertext: new Uint8Array(r.ct) };
      }),
    open: (skR, enc, info, aad, ciphertext) =>
      guard("CRYPTO_DECRYPT_FAILED", async () => {
        checkEnc(enc);
        return new Uint8Array(await suite.open({ recipientKey: await privateKey(skR), enc, info }, ciphertext, aad));
      }),
    exportSender: (pkR, info, exporterContext, length) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        const ctx = await suite.createSenderContext({ recipientPublicKey: await publicKey(pkR), info });
        return { kemOutput: new Uint8Array(ctx.enc), secret: new Uint8Array(await ctx.export(exporterContext, length)) };
      }),
    exportReceiver: (skR, enc, info, exporterContext, length) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        checkEnc(enc);
        const ctx = await suite.createRecipientContext({ recipientKey: await privateKey(skR), enc, info });
        return new Uint8Array(await ctx.export(exporterContext, length));
      }),
    deriveKeyPair: (ikm) => guard("CRYPTO_DERIVE_KEY_PAIR_FAILED", async () => serialize(await kem.deriveKeyPair(ikm))),
    generateKeyPair: () => guard("CRYPTO_INVALID_KEY", async () => serialize(await kem.generateKeyPair())),
    publicKey: (skR) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        checkSk(skR);
        return pubOf(skR);
      }),
  };
}
