/**
 * The node:crypto provider: the fast path for servers, the CLI and tests.
 * Only this directory of packages/mls may import `node:` modules.
 *
 * Everything runs synchronously on OpenSSL, so most asynchronous methods of
 * the interface return settled promises; signature verifications asked for
 * together are spread over the thread pool (verifyBatch.ts).
 */
import { randomFillSync } from "node:crypto";
import { buildCipherSuite, CIPHER_SUITES, isCipherSuiteId } from "../cipherSuite.js";
import type { CipherSuite, CipherSuiteId, CryptoPrimitives, CryptoProvider } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { nodeAead } from "./aead.js";
import { dhkem } from "./dhkem.js";
import { nodeHpke } from "./hpke.js";
import { nodeKdf } from "./kdf.js";
import { nodeSignature } from "./signature.js";
import { VerifyBatcher } from "./verifyBatch.js";

const PROVIDER = "node";

function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

/** Runs `f` and reports its result or MlsError as a promise, never throwing synchronously. */
function settle<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

function primitives(id: CipherSuiteId): CryptoPrimitives {
  const params = CIPHER_SUITES[id];
  const kdf = nodeKdf(params.hash, params.nh);
  const aead = nodeAead(params.aead, params.nk, params.nn);
  const kem = dhkem(params.kem);
  const hpke = nodeHpke(params, kem, aead);
  const sig = nodeSignature(params.signature);
  const verifier = new VerifyBatcher();
  return {
    params,
    provider: PROVIDER,
    ...kdf,
    randomBytes,
    aeadSeal: (key, nonce, aad, plaintext) => settle(() => aead.seal(key, nonce, aad, plaintext)),
    aeadOpen: (key, nonce, aad, ciphertext) => settle(() => aead.open(key, nonce, aad, ciphertext)),
    hpkeSeal: (pk, info, aad, plaintext) => settle(() => hpke.seal(pk, info, aad, plaintext)),
    hpkeOpen: (sk, kemOutput, info, aad, ciphertext) => settle(() => hpke.open(sk, kemOutput, info, aad, ciphertext)),
    hpkeExportSender: (pk, info, ctx, length) => settle(() => hpke.exportSender(pk, info, ctx, length)),
    hpkeExportReceiver: (sk, kemOutput, info, ctx, length) => settle(() => hpke.exportReceiver(sk, kemOutput, info, ctx, length)),
    hpkeDeriveKeyPair: (ikm) => settle(() => kem.deriveKeyPair(ikm)),
    hpkeGenerateKeyPair: () => settle(() => kem.generateKeyPair()),
    hpkePublicKey: (sk) => settle(() => kem.publicKey(sk)),
    sign: (sk, message) => settle(() => sig.sign(sk, message)),
    verify: (pk, message, signature) => verifier.verify(() => sig.prepareVerify(pk, message, signature)),
    signatureGenerateKeyPair: () => settle(() => sig.generateKeyPair()),
    signaturePublicKey: (sk) => settle(() => sig.publicKey(sk)),
  };
}

const suites = new Map<CipherSuiteId, CipherSuite>();

export const nodeCryptoProvider: CryptoProvider = {
  name: PROVIDER,
  suite(id: number): CipherSuite {
    if (!isCipherSuiteId(id)) throw new MlsError("UNSUPPORTED_CIPHER_SUITE", `unknown cipher suite ${id}`);
    let s = suites.get(id);
    if (s === undefined) {
      s = buildCipherSuite(primitives(id));
      suites.set(id, s);
    }
    return s;
  },
};
