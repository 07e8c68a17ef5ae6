/*
 * HKDF-Expand (RFC 5869 §2.3) over HMAC-SHA-256 (RFC 2104) with the key's
 * inner and outer hash states computed once, on the SHA-256 of the OpenSSL
 * that Node links (SHA extensions where the CPU has them).
 *
 * Why: an MLS message derives five values on each side from two secrets (the
 * ratchet's key, nonce and next secret, RFC 9420 §9.1; the sender-data key
 * and nonce, §6.3.2). In JavaScript (packages/mls/src/crypto/hmacSha256.ts) a
 * ratchet step, the key states and three expansions, costs ~4 µs; here ~1.5.
 *
 * The prepared state lives in a Uint8Array the caller owns (and wipes): two
 * SHA256_CTX after the key block, checked on every use so that a wiped or
 * foreign array is refused rather than hashed.
 *
 * One-shot HMAC and SHA-256 too: node:crypto's createHmac/createHash build an
 * object per call (~4 µs for an HMAC here), and HPKE (RFC 9180 §4, §5.1)
 * computes eight HMACs per seal or open, the key schedule and tree hashes
 * many more; one call each is ~1 µs.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the only API that lets a hash state be copied as plain memory */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

#include "args.h"

#define BLOCK 64
#define HASH 32

size_t hmac_sha256_state_size(void) { return 2 * sizeof(SHA256_CTX); }

/* A state as hmac_sha256_prepare leaves it: exactly one block hashed, nothing buffered. */
static int prepared(const SHA256_CTX *c) { return c->num == 0 && c->md_len == SHA256_DIGEST_LENGTH && c->Nl == BLOCK * 8 && c->Nh == 0; }

/*
 * md = SHA-256(data) on the SHA256_CTX functions: OpenSSL 3's one-shot
 * SHA256() goes through EVP_Q_digest, which looks the algorithm up by name on
 * every call (locks, a hash table, a context allocated and freed): more than
 * the compression of a one- or two-block input, which tree hashes mostly are.
 */
static void sha256_once(const bytes data, unsigned char md[HASH]) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data, data.length);
  SHA256_Final(md, &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
}

/* ctx[0], ctx[1]: SHA-256 after one block of (key ^ ipad), (key ^ opad); RFC 2104 §2. */
static void hmac_keyed(const bytes key, SHA256_CTX ctx[2]) {
  unsigned char pad[BLOCK] = {0};
  /* Keys longer than a block are hashed first (RFC 2104 §2). */
  if (key.length > BLOCK) sha256_once(key, pad);
  else if (key.length > 0) memcpy(pad, key.data, key.length);
  for (int i = 0; i < BLOCK; i++) pad[i] ^= 0x36;
  SHA256_Init(&ctx[0]);
  SHA256_Update(&ctx[0], pad, BLOCK);
  for (int i = 0; i < BLOCK; i++) pad[i] ^= 0x36 ^ 0x5c;
  SHA256_Init(&ctx[1]);
  SHA256_Update(&ctx[1], pad, BLOCK);
  OPENSSL_cleanse(pad, sizeof pad);
}

/* (key, state) -> undefined: state = inner and outer SHA-256 states after (key ^ ipad), (key ^ opad). */
napi_value hmac_sha256_prepare(napi_env env, napi_callback_info info) {
  bytes args[2];
  if (!get_byte_args(env, info, 2, args)) return fail(env, "expected a key and a state, both Uint8Arrays");
  const bytes key = args[0], state = args[1];
  if (state.length != hmac_sha256_state_size()) return fail(env, "wrong state length");
  if (overlap(key, state)) return fail(env, "state overlaps key");
  SHA256_CTX ctx[2];
  hmac_keyed(key, ctx);
  memcpy(state.data, ctx, sizeof ctx);
  OPENSSL_cleanse(ctx, sizeof ctx);
  return NULL;
}

/* (state, a, b, c, out) -> undefined: out = HKDF-Expand(PRK, info = a || b || c, out.length), out.length <= 255 * 32. */
napi_value hkdf_sha256_expand(napi_env env, napi_callback_info info) {
  bytes args[5];
  if (!get_byte_args(env, info, 5, args)) return fail(env, "expected a state, three info parts and an output, all Uint8Arrays");
  const bytes state = args[0], *part = &args[1], out = args[4];
  if (state.length != hmac_sha256_state_size()) return fail(env, "wrong state length");
  if (out.length > 255 * HASH) return fail(env, "HKDF-Expand output longer than 255 blocks");
  if (overlap(out, state) || overlap(out, part[0]) || overlap(out, part[1]) || overlap(out, part[2])) return fail(env, "output overlaps an input");
  SHA256_CTX keyed[2];
  memcpy(keyed, state.data, sizeof keyed);
  if (!prepared(&keyed[0]) || !prepared(&keyed[1])) {
    OPENSSL_cleanse(keyed, sizeof keyed);
    return fail(env, "state is not a prepared HMAC-SHA-256 key (wiped?)");
  }
  unsigned char t[HASH];
  SHA256_CTX c;
  for (size_t done = 0, i = 1; done < out.length; i++) {
    /* T(i) = HMAC(PRK, T(i-1) || info || i) */
    unsigned char counter = (unsigned char)i;
    c = keyed[0];
    if (i > 1) SHA256_Update(&c, t, HASH);
    for (int p = 0; p < 3; p++)
      if (part[p].length > 0) SHA256_Update(&c, part[p].data, part[p].length);
    SHA256_Update(&c, &counter, 1);
    SHA256_Final(t, &c);
    c = keyed[1];
    SHA256_Update(&c, t, HASH);
    SHA256_Final(t, &c);
    size_t n = out.length - done < HASH ? out.length - done : HASH;
    memcpy(out.data + done, t, n);
    done += n;
  }
  OPENSSL_cleanse(t, sizeof t);
  OPENSSL_cleanse(&c, sizeof c);
  OPENSSL_cleanse(keyed, sizeof keyed);
  return NULL;
}

#define HMAC_PARTS 4

/* (key, a, b, c, d, out) -> undefined: out = the first out.length (<= 32) bytes of HMAC-SHA-256(key, a || b || c || d). */
napi_value hmac_sha256(napi_env env, napi_callback_info info) {
  bytes args[2 + HMAC_PARTS];
  if (!get_byte_args(env, info, 2 + HMAC_PARTS, args)) return fail(env, "expected a key, four message parts and an output, all Uint8Arrays");
  const bytes key = args[0], *part = &args[1], out = args[1 + HMAC_PARTS];
  if (out.length > HASH) return fail(env, "HMAC-SHA-256 output longer than 32 bytes");
  if (overlap(out, key)) return fail(env, "output overlaps an input");
  for (int p = 0; p < HMAC_PARTS; p++)
    if (overlap(out, part[p])) return fail(env, "output overlaps an input");
  SHA256_CTX ctx[2];
  hmac_keyed(key, ctx);
  unsigned char t[HASH];
  for (int p = 0; p < HMAC_PARTS; p++)
    if (part[p].length > 0) SHA256_Update(&ctx[0], part[p].data, part[p].length);
  SHA256_Final(t, &ctx[0]);
  SHA256_Update(&ctx[1], t, HASH);
  SHA256_Final(t, &ctx[1]);
  memcpy(out.data, t, out.length);
  OPENSSL_cleanse(t, sizeof t);
  OPENSSL_cleanse(ctx, sizeof ctx);
  return NULL;
}

/* (data, out) -> undefined: out (32 bytes) = SHA-256(data). */
napi_value sha256(napi_env env, napi_callback_info info) {
  bytes args[2];
  if (!get_byte_args(env, info, 2, args)) return fail(env, "expected data and an output, both Uint8Arrays");
  const bytes data = args[0], out = args[1];
  if (out.length != HASH) return fail(env, "SHA-256 output must be 32 bytes");
  if (overlap(out, data)) return fail(env, "output overlaps the input");
  sha256_once(data, out.data);
  return NULL;
}
