/**
 * libsodium (sodium-native, an optional dependency) for Ed25519, X25519 and
 * ChaCha20-Poly1305 on Node.
 *
 * Signatures are most of the CPU of every MLS operation: each message is
 * signed once and verified once, a joiner verifies every leaf. libsodium's
 * Ed25519 is ~1.6x faster than OpenSSL 3.0's through node:crypto here
 * (sign ~26 vs ~44 µs, verify ~63 vs ~104 µs, measured in one process), and
 * its calls write into arrays we give, with no KeyObject or job per call.
 * Ed25519 is deterministic (RFC 8032 §5.1.6): both give the same signature
 * bytes, which the tests check.
 *
 * Verification differs from OpenSSL only on keys and signatures no honest
 * signer makes: libsodium also rejects a public key or R of small order and a
 * non-canonical public key encoding (RFC 8032 §5.1.3 decoding fails for the
 * latter; §5.1.7 lets a verifier reject the former). OpenSSL accepts those if
 * the equation holds.
 *
 * Absent (a platform without a prebuilt binary, an install without optional
 * dependencies) or with CONCLAVE_SODIUM=0, the node provider stays on
 * node:crypto.
 */
import { createRequire } from "node:module";

/**
 * The part of sodium-native's API used here. It takes any Uint8Array view
 * of a plain ArrayBuffer; see unshared() for shared memory. Failures throw.
 */
export interface Sodium {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_scalarmult_base(publicKey: Uint8Array, secretKey: Uint8Array): void;
  crypto_scalarmult(shared: Uint8Array, secretKey: Uint8Array, publicKey: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(ciphertext: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nsec: null, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(plaintext: Uint8Array, nsec: null, ciphertext: Uint8Array, aad: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
}

/** sodium-native reads only plain ArrayBuffers (given shared memory, some calls answer undefined): a copy then. */
export function unshared(a: Uint8Array): Uint8Array {
  return a.buffer instanceof ArrayBuffer ? a : a.slice();
}

function load(): { sodium: Sodium; path: string } | undefined {
  if (process.env.CONCLAVE_SODIUM === "0") return undefined;
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve("sodium-native");
    const sodium = require(path) as Sodium;
    // A binary that loads but misbehaves is not used: one known answer (RFC 8032 §7.1, test 1's key pair).
    const pk = new Uint8Array(32);
    sodium.crypto_sign_seed_keypair(pk, new Uint8Array(64), SEED_TEST_1);
    if (!pk.every((b, i) => b === PUBLIC_TEST_1[i])) return undefined;
    return { sodium, path };
  } catch {
    return undefined;
  }
}

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const SEED_TEST_1 = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const PUBLIC_TEST_1 = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");

const loaded = load();

/** libsodium's Ed25519, or undefined when the node provider uses node:crypto for it. */
export const sodium: Sodium | undefined = loaded?.sodium;

/** Where the worker thread loads the same module from. */
export const sodiumPath: string | undefined = loaded?.path;

/** The `algorithm` of a signature job computed by libsodium (Ed25519; keys are raw bytes). */
export const SODIUM_ED25519 = "sodium-ed25519";
