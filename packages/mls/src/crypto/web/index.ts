/**
 * The browser provider: WebCrypto where it is universal (AES-GCM, the NIST
 * DHKEMs inside @hpke/core) or present (signatures, X25519 / X448: probed
 * once per suite), audited pure-JS code elsewhere (@noble for hashing, HKDF,
 * ChaCha20-Poly1305 and as the signature fallback; @hpke add-ons for the
 * X25519 / X448 fallback). No `node:` imports: it runs anywhere
 * globalThis.crypto exists.
 */
import { buildCipherSuite, CIPHER_SUITES, isCipherSuiteId } from "../cipherSuite.js";
import type { CipherSuite, CipherSuiteId, CryptoPrimitives, CryptoProvider } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { webAead } from "./aead.js";
import { webHpke } from "./hpke.js";
import { webKdf } from "./kdf.js";
import { webSignature } from "./signature.js";
import { randomBytes } from "./webcrypto.js";
import { settle } from "../settle.js";

const PROVIDER = "web";

/** Options of {@link createWebCryptoProvider}. */
export interface WebCryptoProviderOptions {
  /** Provider name, reported by `CryptoPrimitives.provider` (default "web"). */
  readonly name?: string;
  /**
   * Use WebCrypto for signatures and X25519 / X448 where the platform
   * supports them (probed once per suite), else pure JS. Default true; false
   * forces pure JS (tests use it to cover that path on Node).
   */
  readonly native?: boolean;
}

function primitives(id: CipherSuiteId, name: string, options: WebCryptoProviderOptions): CryptoPrimitives {
  const params = CIPHER_SUITES[id];
  const aead = webAead(params.aead, params.nk, params.nn);
  const native = options.native ?? true;
  const kdf = webKdf(params.hash, params.nh);
  const hpke = webHpke(params, { native }, { kdf, aead });
  const sig = webSignature(params.signature, { native });
  return {
    params,
    provider: name,
    ...kdf,
    randomBytes,
    aeadSeal: (key, nonce, aad, plaintext) => aead.seal(key, nonce, aad, plaintext),
    aeadOpen: (key, nonce, aad, ciphertext) => aead.open(key, nonce, aad, ciphertext),
    hpkeSeal: (pk, info, aad, plaintext) => hpke.seal(pk, info, aad, plaintext),
    hpkeOpen: (sk, kemOutput, info, aad, ciphertext) => hpke.open(sk, kemOutput, info, aad, ciphertext),
    hpkeSealer: (info) => hpke.sealer(info),
    hpkeExportSender: (pk, info, ctx, length) => hpke.exportSender(pk, info, ctx, length),
    hpkeExportReceiver: (sk, kemOutput, info, ctx, length) => hpke.exportReceiver(sk, kemOutput, info, ctx, length),
    hpkeDeriveKeyPair: (ikm) => hpke.deriveKeyPair(ikm),
    hpkeGenerateKeyPair: () => hpke.generateKeyPair(),
    hpkePublicKey: (sk) => hpke.publicKey(sk),
    sign: (sk, message) => sig.sign(sk, message),
    verify: (pk, message, signature) => sig.verify(pk, message, signature),
    signatureGenerateKeyPair: () => settle(() => sig.generateKeyPair()),
    signaturePublicKey: (sk) => settle(() => sig.publicKey(sk)),
  };
}

/**
 * A CryptoProvider for browsers and any runtime with WebCrypto (WebCrypto where the platform has the
 * algorithm, else @noble / @hpke in JavaScript): `suite(id)` returns the cipher suite `id` (RFC 9420 §17.1), built once.
 * `suite` throws MlsError `UNSUPPORTED_CIPHER_SUITE` for an id other than 1-7; the suite's operations
 * throw (or reject with) `CRYPTO_INVALID_KEY`, `CRYPTO_DECRYPT_FAILED`, `CRYPTO_INVALID_LENGTH` or
 * `CRYPTO_DERIVE_KEY_PAIR_FAILED` for keys, ciphertexts or lengths they cannot use.
 */
export function createWebCryptoProvider(options: WebCryptoProviderOptions = {}): CryptoProvider {
  const name = options.name ?? PROVIDER;
  const suites = new Map<CipherSuiteId, CipherSuite>();
  return {
    name,
    suite(id: number): CipherSuite {
      if (!isCipherSuiteId(id)) throw new MlsError("UNSUPPORTED_CIPHER_SUITE", `unknown cipher suite ${id}`);
      let s = suites.get(id);
      if (s === undefined) {
        s = buildCipherSuite(primitives(id, name, options));
        suites.set(id, s);
      }
      return s;
    },
  };
}

/** {@link createWebCryptoProvider} with the default options. */
export const webCryptoProvider: CryptoProvider = createWebCryptoProvider();
