/*
 * AES-GCM (NIST SP 800-38D) seal and open, each in one call, on the OpenSSL
 * that Node itself links (its symbols and headers; no second copy).
 *
 * Why: through node:crypto every AEAD call builds a Cipher object (a JS
 * wrapper, a native CipherBase behind a weak handle the collector must
 * finalize) and calls five methods on it. An MLS PrivateMessage needs two
 * AEAD calls on each side, with a fresh key each time (RFC 9420 §6.3), so
 * there is no object to reuse: here a message's four calls cost ~7 µs
 * instead of ~24 µs, and leave nothing for the collector.
 *
 * Every call makes its own EVP_CIPHER_CTX and frees it before returning:
 * OpenSSL cleanses the expanded key on free, so no key schedule outlives the
 * call, and no state is shared between threads (the addon may be loaded in
 * worker threads too). The cipher is fetched once per process.
 *
 * The caller allocates the output; on any failure it is zeroed, so a
 * plaintext that failed authentication is never exposed.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "args.h"

#define NONCE_LENGTH 12
#define TAG_LENGTH 16

static EVP_CIPHER *ciphers[2];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* An explicit fetch: with the legacy EVP_aes_*_gcm() OpenSSL 3 fetches again on every init. */
static void fetch_ciphers(void) {
  ciphers[0] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  ciphers[1] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* (variant, key, nonce, aad, input, out) -> boolean. encrypt: out = ciphertext || tag; decrypt: out = plaintext. */
static napi_value run(napi_env env, napi_callback_info info, int encrypt) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) return fail(env, "expected 6 arguments");
  uint32_t variant;
  if (napi_get_value_uint32(env, argv[0], &variant) != napi_ok || variant > 1) return fail(env, "variant must be 0 (AES-128) or 1 (AES-256)");
  bytes key, nonce, aad, input, out;
  if (!get_bytes(env, argv[1], &key) || !get_bytes(env, argv[2], &nonce) || !get_bytes(env, argv[3], &aad) || !get_bytes(env, argv[4], &input) ||
      !get_bytes(env, argv[5], &out))
    return fail(env, "key, nonce, aad, input and output must be Uint8Arrays");
  if (key.length != (variant == 0 ? 16u : 32u)) return fail(env, "wrong key length");
  if (nonce.length != NONCE_LENGTH) return fail(env, "nonce must be 12 bytes");
  if (!encrypt && input.length < TAG_LENGTH) return fail(env, "ciphertext shorter than the tag");
  size_t body = encrypt ? input.length : input.length - TAG_LENGTH;
  if (out.length != (encrypt ? body + TAG_LENGTH : body)) return fail(env, "wrong output length");
  /* The output must not overlap the input: OpenSSL's GCM reads each block before writing it, but the tag (open) is read last. */
  if (overlap(input, out)) return fail(env, "output overlaps input");

  pthread_once(&fetch_once, fetch_ciphers);
  const EVP_CIPHER *cipher = ciphers[variant];
  EVP_CIPHER_CTX *ctx = cipher == NULL ? NULL : EVP_CIPHER_CTX_new();
  int ok = ctx != NULL && EVP_CipherInit_ex(ctx, cipher, NULL, key.data, nonce.data, encrypt) == 1;
  int written = 0;
  if (ok && aad.length > 0) ok = EVP_CipherUpdate(ctx, NULL, &written, aad.data, (int)aad.length) == 1;
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LENGTH, input.data + body) == 1;
  if (ok && body > 0) ok = EVP_CipherUpdate(ctx, out.data, &written, input.data, (int)body) == 1 && (size_t)written == body;
  /* GCM's final writes nothing; for open it is where the tag is checked. */
  if (ok) ok = EVP_CipherFinal_ex(ctx, out.data + body, &written) == 1 && written == 0;
  if (ok && encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LENGTH, out.data + body) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok && out.length > 0) OPENSSL_cleanse(out.data, out.length);
  return boolean(env, ok);
}

napi_value aes_gcm_seal(napi_env env, napi_callback_info info) { return run(env, info, 1); }

napi_value aes_gcm_open(napi_env env, napi_callback_info info) { return run(env, info, 0); }
