/**
 * X25519 (RFC 7748) over WebCrypto, for the DS authentication handshake
 * (auth.ts). WebCrypto has it in Node 20 and in current browsers; keys are raw
 * 32-byte strings (the private key is the RFC 7748 scalar, imported through
 * its PKCS#8 wrapping, RFC 8410).
 */
import { fromBase64Url } from "./base64url.js";
import { ApiError } from "./errors.js";

/** Length of an X25519 private or public key, in bytes (RFC 7748). */
export const X25519_KEY_LENGTH = 32;

/** A raw X25519 private scalar and its public key, 32 bytes each. */
export interface X25519KeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const ALGORITHM = { name: "X25519" } as const;
// RFC 8410 §7: PrivateKeyInfo { version 0, AlgorithmIdentifier id-X25519 (1.3.101.110), OCTET STRING { OCTET STRING key } }.
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

function invalidKey(what: string): ApiError {
  return new ApiError("INVALID_AUTH_KEY", `${what} is not a valid X25519 key`);
}

async function importPrivate(privateKey: Uint8Array): Promise<CryptoKey> {
  if (privateKey.length !== X25519_KEY_LENGTH) throw invalidKey("private key");
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + X25519_KEY_LENGTH);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(privateKey, PKCS8_PREFIX.length);
  try {
    return await subtle().importKey("pkcs8", pkcs8, ALGORITHM, true, ["deriveBits"]);
  } finally {
    pkcs8.fill(0);
  }
}

/** A fresh X25519 key pair from the platform's WebCrypto. */
export async function x25519GenerateKeyPair(): Promise<X25519KeyPair> {
  const kp = (await subtle().generateKey(ALGORITHM, true, ["deriveBits"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle().exportKey("pkcs8", kp.privateKey));
  const privateKey = pkcs8.slice(pkcs8.length - X25519_KEY_LENGTH);
  pkcs8.fill(0);
  return { privateKey, publicKey: new Uint8Array(await subtle().exportKey("raw", kp.publicKey)) };
}

/** The public key of a raw private scalar. @throws ApiError `INVALID_AUTH_KEY` (not a 32-byte key WebCrypto accepts). */
export async function x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array> {
  const jwk = await subtle().exportKey("jwk", await importPrivate(privateKey));
  if (jwk.x === undefined) throw invalidKey("private key");
  return fromBase64Url(jwk.x, "x");
}

/**
 * X25519(privateKey, peer).
 * @throws ApiError `INVALID_AUTH_KEY` for a key of the wrong length or a peer key of low order
 * (an all-zero shared secret, RFC 7748 §6.1).
 */
export async function x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array, what = "peer key"): Promise<Uint8Array> {
  if (peerPublicKey.length !== X25519_KEY_LENGTH) throw invalidKey(what);
  const own = await importPrivate(privateKey);
  let shared: Uint8Array;
  try {
    const peer = await subtle().importKey("raw", new Uint8Array(peerPublicKey), ALGORITHM, true, []);
    shared = new Uint8Array(await subtle().deriveBits({ name: "X25519", public: peer }, own, 256));
  } catch {
    throw invalidKey(what);
  }
  if (shared.every((b) => b === 0)) throw invalidKey(what);
  return shared;
}
