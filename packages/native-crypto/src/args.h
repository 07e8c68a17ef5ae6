/* Argument checks shared by the addon's functions: bad input from JavaScript
 * becomes a TypeError before any pointer reaches OpenSSL. */
#ifndef CONCLAVE_NATIVE_ARGS_H
#define CONCLAVE_NATIVE_ARGS_H

#include <limits.h>
#include <node_api.h>
#include <stdint.h>

typedef struct {
  unsigned char *data;
  size_t length;
} bytes;

/* A Uint8Array (Buffer included) argument; false for anything else or a length past INT_MAX / 2 (OpenSSL takes int lengths). */
static inline int get_bytes(napi_env env, napi_value value, bytes *out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return 0;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &out->length, &data, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array || out->length > INT_MAX / 2) return 0;
  out->data = data;
  return 1;
}

/* Exactly n arguments (n <= 8), each a Uint8Array as get_bytes takes it; false otherwise. */
static inline int get_byte_args(napi_env env, napi_callback_info info, size_t n, bytes *out) {
  size_t argc = n;
  napi_value argv[8];
  if (n > 8 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!get_bytes(env, argv[i], &out[i])) return 0;
  return 1;
}

/* Whether two byte ranges share memory. */
static inline int overlap(bytes a, bytes b) {
  uintptr_t as = (uintptr_t)a.data, bs = (uintptr_t)b.data;
  return a.length > 0 && b.length > 0 && as < bs + b.length && bs < as + a.length;
}

static inline napi_value boolean(napi_env env, int value) {
  napi_value result = NULL;
  napi_get_boolean(env, value != 0, &result);
  return result;
}

static inline napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

napi_value aes_gcm_seal(napi_env env, napi_callback_info info);
napi_value aes_gcm_open(napi_env env, napi_callback_info info);
napi_value hmac_sha256_prepare(napi_env env, napi_callback_info info);
napi_value hkdf_sha256_expand(napi_env env, napi_callback_info info);
napi_value hmac_sha256(napi_env env, napi_callback_info info);
napi_value sha256(napi_env env, napi_callback_info info);
/* sizeof the prepared HMAC-SHA-256 state: two SHA256_CTX. */
size_t hmac_sha256_state_size(void);

#endif
