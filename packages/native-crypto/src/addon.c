/*
 * @conclave/native-crypto: the node provider's optional native calls on the
 * OpenSSL that Node links (its symbols and headers; no second copy):
 * AES-GCM seal and open (aesGcm.c), prepared HMAC-SHA-256 / HKDF-Expand and
 * one-shot HMAC-SHA-256 and SHA-256 (hkdfSha256.c). Context-aware, so worker threads may load it too.
 */
#include "args.h"

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok && napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  napi_value size;
  if (!export_function(env, exports, "aesGcmSeal", aes_gcm_seal) || !export_function(env, exports, "aesGcmOpen", aes_gcm_open) ||
      !export_function(env, exports, "hmacSha256Prepare", hmac_sha256_prepare) || !export_function(env, exports, "hkdfSha256Expand", hkdf_sha256_expand) ||
      !export_function(env, exports, "hmacSha256", hmac_sha256) || !export_function(env, exports, "sha256", sha256) ||
      napi_create_uint32(env, (uint32_t)hmac_sha256_state_size(), &size) != napi_ok || napi_set_named_property(env, exports, "hmacSha256StateSize", size) != napi_ok)
    return NULL;
  return exports;
}
