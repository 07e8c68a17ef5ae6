/**
 * AEAD for browsers: AES-GCM on WebCrypto, ChaCha20-Poly1305 on
 * @noble/ciphers (WebCrypto has no ChaCha). Ciphertext = bytes || 16-byte tag.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadAlgorithm } from "../cipherSuite.js";
import { MlsError } from "../../errors.js";
import { buf, subtle } from "./webcrypto.js";

const TAG_LENGTH = 16;

export interface WebAead {
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Rejects with MlsError CRYPTO_DECRYPT_FAILED when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;
}

function decryptFailed(cause?: unknown): MlsError {
  return new MlsError("CRYPTO_DECRYPT_FAILED", "AEAD authentication failed", cause === undefined ? undefined : { cause });
}

export function webAead(alg: AeadAlgorithm, nk: number, nn: number): WebAead {
  const check = (key: Uint8Array, nonce: Uint8Array): void => {
    if (key.length !== nk) throw new MlsError("CRYPTO_INVALID_KEY", `${alg} key must be ${nk} bytes`);
    if (nonce.length !== nn) throw new MlsError("CRYPTO_INVALID_LENGTH", `${alg} nonce must be ${nn} bytes`);
  };
  if (alg === "ChaCha20-Poly1305") {
    return {
      seal: async (key, nonce, aad, plaintext) => {
        check(key, nonce);
        return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
      },
      open: async (key, nonce, aad, ciphertext) => {
        check(key, nonce);
        if (ciphertext.length < TAG_LENGTH) throw decryptFailed();
        try {
          return chacha20poly1305(key, nonce, aad).decrypt(ciphertext);
        } catch (e) {
          throw decryptFailed(e);
        }
      },
    };
  }
  const importKey = (key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> => subtle().importKey("raw", buf(key), { name: "AES-GCM" }, false, [usage]);
  return {
    seal: async (key, nonce, aad, plaintext) => {
      check(key, nonce);
      const k = await importKey(key, "encrypt");
      const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce), additionalData: buf(aad), tagLength: 128 };
      return new Uint8Array(await subtle().encrypt(params, k, buf(plaintext)));
    },
    open: async (key, nonce, aad, ciphertext) => {
      check(key, nonce);
      if (ciphertext.length < TAG_LENGTH) throw decryptFailed();
      const k = await importKey(key, "decrypt");
      const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce), additionalData: buf(aad), tagLength: 128 };
      try {
        return new Uint8Array(await subtle().decrypt(params, k, buf(ciphertext)));
      } catch (e) {
        throw decryptFailed(e);
      }
    },
  };
}
