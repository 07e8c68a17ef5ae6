/**
 * HPKE base mode (RFC 9180) for browsers on @hpke/core: NIST DHKEMs and
 * AES-GCM through WebCrypto, ChaCha20-Poly1305 through the pure-JS @hpke
 * add-on. X25519 / X448 use WebCrypto when a one-time probe shows the
 * platform has them and agrees with the pure-JS @hpke add-ons (10x faster),
 * else those add-ons. Public-from-private uses @noble/curves, which @hpke
 * does not expose.
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
  DhkemX25519HkdfSha256 as NativeDhkemX25519,
  DhkemX448HkdfSha512 as NativeDhkemX448,
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
import type { CipherSuiteParams, HpkeCiphertext, HpkeSealer, KeyPair } from "../cipherSuite.js";
import { bytesEqual, zeroize } from "../../codec/bytes.js";
import { hpkeBaseSchedule, hpkeLabeledKdf, hpkeSuiteId, type HpkeBaseSchedule, type Hkdf } from "../hpkeKeySchedule.js";
import type { WebAead } from "./aead.js";
import { MlsError } from "../../errors.js";
import type { MlsErrorCode } from "../../errors.js";

export interface WebHpke {
  seal(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<HpkeCiphertext>;
  /**
   * SealBase to many recipients under one info: @hpke/core hashes the info on
   * every seal, so this runs the key schedule itself (hpkeKeySchedule.ts) on
   * @hpke/core's KEM and our AEAD, with the info hashed once.
   */
  sealer(info: Uint8Array): HpkeSealer;
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

/** The pure-JS (or, for NIST curves, the only) KEM. */
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

/** WebCrypto X25519 / X448, where the platform may or may not have them. */
function nativeKemFor(p: CipherSuiteParams): KemInterface | undefined {
  switch (p.kem) {
    case "DHKEM-X25519":
      return new NativeDhkemX25519();
    case "DHKEM-X448":
      return new NativeDhkemX448();
    default:
      return undefined;
  }
}

/** Whether `native` derives the same keys as `js` and each opens what the other sealed. */
async function agrees(native: HpkeSuite, js: HpkeSuite): Promise<boolean> {
  try {
    const ikm = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    const a = await native.kem.deriveKeyPair(ikm);
    const b = await js.kem.deriveKeyPair(ikm);
    const skA = new Uint8Array(await native.kem.serializePrivateKey(a.privateKey));
    const pkA = new Uint8Array(await native.kem.serializePublicKey(a.publicKey));
    if (!bytesEqual(skA, new Uint8Array(await js.kem.serializePrivateKey(b.privateKey)))) return false;
    if (!bytesEqual(pkA, new Uint8Array(await js.kem.serializePublicKey(b.publicKey)))) return false;
    const info = Uint8Array.of(0x69);
    const pt = Uint8Array.of(0x70, 0x74);
    const fromNative = await native.seal({ recipientPublicKey: await native.kem.deserializePublicKey(pkA), info }, pt);
    const opened = await js.open({ recipientKey: await js.kem.deserializePrivateKey(skA), enc: fromNative.enc, info }, fromNative.ct);
    const fromJs = await js.seal({ recipientPublicKey: await js.kem.deserializePublicKey(pkA), info }, pt);
    const opened2 = await native.open({ recipientKey: await native.kem.deserializePrivateKey(skA), enc: fromJs.enc, info }, fromJs.ct);
    return bytesEqual(new Uint8Array(opened), pt) && bytesEqual(new Uint8Array(opened2), pt);
  } catch {
    return false;
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

export interface WebHpkeOptions {
  /** Try WebCrypto X25519 / X448 (default true). */
  readonly native?: boolean;
}

/** What the prepared sealer runs on besides @hpke/core's KEM: the provider's own HKDF and AEAD. */
export interface WebHpkeParts {
  readonly kdf: Hkdf;
  readonly aead: WebAead;
}

/**
 * RFC 9180 §5.1 / §5.2 SealBase once the KEM has run: key and base_nonce from
 * the shared secret (zeroized) and a precomputed key_schedule_context, then
 * the AEAD at sequence number 0.
 */
export async function sealWithSharedSecret(
  schedule: HpkeBaseSchedule,
  aead: WebAead,
  context: Uint8Array,
  kemResult: { sharedSecret: Uint8Array; enc: Uint8Array },
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<HpkeCiphertext> {
  const { key, nonce } = schedule.keyAndNonce(kemResult.sharedSecret, context);
  try {
    return { kemOutput: kemResult.enc, ciphertext: await aead.seal(key, nonce, aad, plaintext) };
  } finally {
    zeroize(key);
  }
}

/** The base-mode key schedule on a provider's HKDF, for one suite. */
export function webHpkeSchedule(params: CipherSuiteParams, kdf: Hkdf): HpkeBaseSchedule {
  return hpkeBaseSchedule(hpkeLabeledKdf(kdf, hpkeSuiteId(params)), params);
}

export function webHpke(params: CipherSuiteParams, options: WebHpkeOptions, parts: WebHpkeParts): WebHpke {
  const schedule = webHpkeSchedule(params, parts.kdf);
  const js = new HpkeSuite({ kem: kemFor(params), kdf: kdfFor(params), aead: aeadFor(params) });
  const nativeKem = options.native === false ? undefined : nativeKemFor(params);
  let chosen: Promise<HpkeSuite> | undefined;
  const pick = async (): Promise<HpkeSuite> => {
    if (nativeKem === undefined) return js;
    const native = new HpkeSuite({ kem: nativeKem, kdf: kdfFor(params), aead: aeadFor(params) });
    return (await agrees(native, js)) ? native : js;
  };
  const hpke = (): Promise<HpkeSuite> => (chosen ??= pick());
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
  const publicKey = (suite: HpkeSuite, pk: Uint8Array): Promise<CryptoKey> => {
    checkPk(pk);
    return suite.kem.deserializePublicKey(pk);
  };
  const privateKey = (suite: HpkeSuite, sk: Uint8Array): Promise<CryptoKey> => {
    checkSk(sk);
    return suite.kem.deserializePrivateKey(sk);
  };
  const serialize = async (kem: KemInterface, kp: CryptoKeyPair): Promise<KeyPair> => ({
    privateKey: new Uint8Array(await kem.serializePrivateKey(kp.privateKey)),
    publicKey: new Uint8Array(await kem.serializePublicKey(kp.publicKey)),
  });

  return {
    seal: (pkR, info, aad, plaintext) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        const suite = await hpke();
        const r = await suite.seal({ recipientPublicKey: await publicKey(suite, pkR), info }, plaintext, aad);
        return { kemOutput: new Uint8Array(r.enc), ciphertext: new Uint8Array(r.ct) };
      }),
    sealer(info) {
      const context = schedule.context(info);
      return (pkR, aad, plaintext) =>
        guard("CRYPTO_INVALID_KEY", async () => {
          const suite = await hpke();
          const r = await suite.kem.encap({ recipientPublicKey: await publicKey(suite, pkR) });
          return sealWithSharedSecret(schedule, parts.aead, context, { sharedSecret: new Uint8Array(r.sharedSecret), enc: new Uint8Array(r.enc) }, aad, plaintext);
        });
    },
    open: (skR, enc, info, aad, ciphertext) =>
      guard("CRYPTO_DECRYPT_FAILED", async () => {
        checkEnc(enc);
        const suite = await hpke();
        return new Uint8Array(await suite.open({ recipientKey: await privateKey(suite, skR), enc, info }, ciphertext, aad));
      }),
    exportSender: (pkR, info, exporterContext, length) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        const suite = await hpke();
        const ctx = await suite.createSenderContext({ recipientPublicKey: await publicKey(suite, pkR), info });
        return { kemOutput: new Uint8Array(ctx.enc), secret: new Uint8Array(await ctx.export(exporterContext, length)) };
      }),
    exportReceiver: (skR, enc, info, exporterContext, length) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        checkEnc(enc);
        const suite = await hpke();
        const ctx = await suite.createRecipientContext({ recipientKey: await privateKey(suite, skR), enc, info });
        return new Uint8Array(await ctx.export(exporterContext, length));
      }),
    deriveKeyPair: (ikm) =>
      guard("CRYPTO_DERIVE_KEY_PAIR_FAILED", async () => {
        const { kem } = await hpke();
        return serialize(kem, await kem.deriveKeyPair(ikm));
      }),
    generateKeyPair: () =>
      guard("CRYPTO_INVALID_KEY", async () => {
        const { kem } = await hpke();
        return serialize(kem, await kem.generateKeyPair());
      }),
    publicKey: (skR) =>
      guard("CRYPTO_INVALID_KEY", async () => {
        checkSk(skR);
        return pubOf(skR);
      }),
  };
}
