/**
 * The node:crypto provider: the fast path for servers, the CLI and tests.
 * Only this directory of packages/mls may import `node:` modules.
 *
 * Everything runs synchronously on OpenSSL, so most asynchronous methods of
 * the interface return settled promises; signatures asked for together are
 * shared with a worker thread (signatureWorker.ts).
 */
import { buildCipherSuite, CIPHER_SUITES, isCipherSuiteId } from "../cipherSuite.js";
import type { CipherSuite, CipherSuiteId, CryptoPrimitives, CryptoProvider } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { nodeAead } from "./aead.js";
import { dhkem } from "./dhkem.js";
import { nodeHpke } from "./hpke.js";
import { nodeKdf } from "./kdf.js";
import { randomBytes } from "./random.js";
import { nodeSignature } from "./signature.js";
import { SignatureQueue } from "./signatureQueue.js";
import { SignatureWorker } from "./signatureWorker.js";
import { sodium } from "./sodium.js";
import { nativeCrypto, nativeSha256For } from "./nativeCrypto.js";
import { nativeHkdfSha256Prk } from "./hmacSha256Native.js";
import { settle } from "../settle.js";
import { markAsUntransferable } from "node:worker_threads";
import { setSlabPreparer } from "../../codec/byteSlab.js";

const PROVIDER = "node";

/** The message path's shared buffers (codec/byteSlab.ts) stay on their thread, as Node's Buffer pool does. */
setSlabPreparer(markAsUntransferable);

/**
 * One worker for every suite: it is the second core that is shared, not a
 * suite's keys. None on a single core, or with CONCLAVE_SIGNATURE_WORKER=0
 * (for hosts that must not start threads); everything then runs inline.
 */
const signatureWorker = SignatureWorker.useful() && process.env.CONCLAVE_SIGNATURE_WORKER !== "0" ? new SignatureWorker() : undefined;
const signatures = new SignatureQueue(signatureWorker);

/** How the node provider's signature work has been shared with its worker thread (undefined on one core). */
export function nodeSignatureStats(): ReturnType<SignatureWorker["stats"]> | undefined {
  return signatureWorker?.stats();
}

/** What computes Ed25519 here: libsodium (sodium-native, when installed) or node:crypto (OpenSSL). */
export function nodeEd25519Backend(): "libsodium" | "node:crypto" {
  return sodium === undefined ? "node:crypto" : "libsodium";
}

/**
 * Whether the optional native addon (@conclave/native-crypto, when built) is in use: for AES-GCM
 * (otherwise node:crypto's Cipher objects) and HKDF-SHA-256 expansion (otherwise JavaScript).
 */
export function nodeNativeCryptoInUse(): boolean {
  return nativeCrypto !== undefined;
}

function primitives(id: CipherSuiteId): CryptoPrimitives {
  const params = CIPHER_SUITES[id];
  const kdf = nodeKdf(params.hash, params.nh);
  const aead = nodeAead(params.aead, params.nk, params.nn);
  const kem = dhkem(params.kem);
  const hpke = nodeHpke(params, kem, aead);
  const nativeSha256 = nativeSha256For(params.hash);
  const sig = nodeSignature(params.signature);
  return {
    params,
    provider: PROVIDER,
    ...kdf,
    randomBytes,
    aeadSeal: (key, nonce, aad, plaintext) => settle(() => aead.seal(key, nonce, aad, plaintext)),
    aeadOpen: (key, nonce, aad, ciphertext) => settle(() => aead.open(key, nonce, aad, ciphertext)),
    aeadSealNow: aead.seal,
    aeadOpenNow: aead.open,
    ...(nativeSha256 === undefined ? {} : { hkdfSha256Prk: nativeHkdfSha256Prk(nativeSha256) }),
    hpkeSeal: (pk, info, aad, plaintext) => settle(() => hpke.seal(pk, info, aad, plaintext)),
    hpkeOpen: (sk, kemOutput, info, aad, ciphertext) => settle(() => hpke.open(sk, kemOutput, info, aad, ciphertext)),
    hpkeSealer(info) {
      const seal = hpke.sealer(info);
      return (pk, aad, plaintext) => settle(() => seal(pk, aad, plaintext));
    },
    hpkeExportSender: (pk, info, ctx, length) => settle(() => hpke.exportSender(pk, info, ctx, length)),
    hpkeExportReceiver: (sk, kemOutput, info, ctx, length) => settle(() => hpke.exportReceiver(sk, kemOutput, info, ctx, length)),
    hpkeDeriveKeyPair: (ikm) => settle(() => kem.deriveKeyPair(ikm)),
    hpkeGenerateKeyPair: () => settle(() => kem.generateKeyPair()),
    hpkePublicKey: (sk) => settle(() => kem.publicKey(sk)),
    sign: (sk, message) => signatures.request(() => sig.prepareSign(sk, message)) as Promise<Uint8Array>,
    verify: (pk, message, signature) => signatures.request(() => sig.prepareVerify(pk, message, signature)) as Promise<boolean>,
    signatureGenerateKeyPair: () => settle(() => sig.generateKeyPair()),
    signaturePublicKey: (sk) => settle(() => sig.publicKey(sk)),
  };
}

const suites = new Map<CipherSuiteId, CipherSuite>();

/**
 * A CryptoProvider for Node.js: node:crypto (OpenSSL), with libsodium and the native addon where installed,
 * and a signature worker thread: `suite(id)` returns the cipher suite `id` (RFC 9420 §17.1), built once.
 * `suite` throws MlsError `UNSUPPORTED_CIPHER_SUITE` for an id other than 1-7; the suite's operations
 * throw (or reject with) `CRYPTO_INVALID_KEY`, `CRYPTO_DECRYPT_FAILED`, `CRYPTO_INVALID_LENGTH` or
 * `CRYPTO_DERIVE_KEY_PAIR_FAILED` for keys, ciphertexts or lengths they cannot use.
 */
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
