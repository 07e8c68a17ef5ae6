/**
 * How a client authenticates to the DS/AS: a deniable Diffie-Hellman handshake
 * (draft-robert-mls-delivery-service §"Authentication to the DS": the DS
 * SHOULD NOT be able to prove to a third party that a client is in a group).
 *
 * Keys: each device registers a long-term X25519 authentication key A_c next
 * to its MLS signature key (the signature key is for MLS); the server has a
 * static X25519 key S_s. A challenge carries a fresh nonce and a server
 * ephemeral key E_s (single use, short-lived).
 *
 * 1. POST /v1/auth/challenges -> { nonce, serverKey = S_s, serverEphemeral = E_s, domain }.
 * 2. The client picks an ephemeral e_c and computes, with its auth key a_c,
 *
 *        ikm  = DH(e_c, E_s) || DH(e_c, S_s) || DH(a_c, E_s) || DH(a_c, S_s)
 *        prk  = HKDF-Extract(salt = "Conclave DS auth v1", ikm)          // SHA-256
 *        key  = HKDF-Expand(prk, SHA-256(transcript), 32)
 *        mac  = HMAC-SHA-256(key, transcript)
 *
 *        struct {
 *            opaque label<V>;             // "Conclave DS auth v1"
 *            opaque domain<V>;            // the server's domain: a MAC for one deployment is useless at another
 *            AuthPurpose purpose;         // register(1), login(2) or upgrade(3)
 *            opaque user<V>;
 *            opaque device<V>;
 *            opaque nonce[32];
 *            opaque server_key[32];       // S_s
 *            opaque server_ephemeral[32]; // E_s
 *            opaque client_ephemeral[32]; // e_c's public key
 *            opaque client_auth_key[32];  // A_c
 *        } HandshakeTranscript;           // TLS presentation language, MLS varint vectors (RFC 9420 §2.1.2)
 *
 * 3. It sends { nonce, clientEphemeral, mac }; the server consumes the nonce
 *    (one try per challenge), recomputes the four DH values from its side
 *    (E_s and S_s private keys with e_c and A_c), and compares in constant time.
 *
 * Why it is deniable: every input of the MAC is computable by the server
 * alone. DH(a_c, E_s) = DH(E_s, A_c) and DH(a_c, S_s) = DH(S_s, A_c) need only
 * the client's PUBLIC auth key; the server can pick any e_c and make a
 * transcript that verifies exactly like a real one (`forgeTranscript` below,
 * exercised by the tests). A transcript therefore convinces the server (it
 * knows it did not make it) and no one else. Limits and the rest of the
 * argument: docs/security.md.
 *
 * Registration (POST /v1/clients) adds, for the AS, proof of possession of the
 * MLS signature key, binding it to the auth key (RFC 9750 §4):
 *
 *        signature = SignWithLabel(signature_private_key, "Conclave auth", nonce || AuthContext)
 *
 *        struct {
 *            opaque domain<V>;
 *            AuthPurpose purpose;         // register(1), or upgrade(3) for a legacy device
 *            opaque user<V>;
 *            opaque device<V>;
 *            CipherSuite cipher_suite;    // uint16
 *            opaque signature_key<V>;     // SignaturePublicKey (RFC 9420 §5.1.1 form)
 *            opaque auth_key<V>;          // A_c
 *        } AuthContext;
 *
 * That signature is transferable, deliberately: the AS publishes the binding
 * in its transparency log anyway. It says nothing about groups or logins.
 */
import { CIPHER_SUITES, Writer, constantTimeEqual, utf8, zeroize, type CipherSuite, type CipherSuiteId } from "@conclave/mls";
import { ApiError } from "./errors.js";
import { X25519_KEY_LENGTH, x25519, x25519GenerateKeyPair, type X25519KeyPair } from "./x25519.js";

/** The SignWithLabel label (RFC 9420 §5.1.2) of the registration signature: {@link signAuthChallenge}. */
export const AUTH_LABEL = "Conclave auth";
/** The handshake's HKDF salt and the first field of its MAC transcript: {@link encodeHandshakeTranscript}. */
export const HANDSHAKE_LABEL = "Conclave DS auth v1";
/** Length of a challenge nonce, bytes; another length is `AUTH_CHALLENGE_INVALID`. */
export const AUTH_NONCE_LENGTH = 32;
/** Length of the handshake MAC (HMAC-SHA-256), bytes. */
export const AUTH_MAC_LENGTH = 32;
/** The suite whose hash, HKDF and HMAC (SHA-256) the handshake uses: pass `provider.suite(AUTH_HASH_SUITE)`. */
export const AUTH_HASH_SUITE: CipherSuiteId = 1;

/** upgrade(3): a device registered before auth keys binds one (POST /v1/clients/upgrade, accounts.ts). */
export const AuthPurpose = { register: 1, login: 2, upgrade: 3 } as const;
export type AuthPurpose = (typeof AuthPurpose)[keyof typeof AuthPurpose];

/**
 * Who a registration signature speaks for: the AS domain, the purpose, the
 * client's name and its keys. Signed together with the server's nonce, so a
 * signature is good for one server, one purpose and one challenge only.
 */
export interface AuthContext {
  readonly domain: string;
  readonly purpose: AuthPurpose;
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
  readonly authKey: Uint8Array;
}

/** Everything the MAC covers. */
export interface HandshakeTranscript {
  readonly domain: string;
  readonly purpose: AuthPurpose;
  readonly user: string;
  readonly device: string;
  readonly nonce: Uint8Array;
  readonly serverKey: Uint8Array;
  readonly serverEphemeral: Uint8Array;
  readonly clientEphemeral: Uint8Array;
  readonly clientAuthKey: Uint8Array;
}

function requireNonce(nonce: Uint8Array): void {
  if (nonce.length !== AUTH_NONCE_LENGTH) throw new ApiError("AUTH_CHALLENGE_INVALID", `nonce must be ${AUTH_NONCE_LENGTH} bytes, got ${nonce.length}`);
}

/**
 * The exact bytes passed as `content` to SignWithLabel / VerifyWithLabel at registration.
 * @throws ApiError `AUTH_CHALLENGE_INVALID` (a nonce that is not {@link AUTH_NONCE_LENGTH} bytes);
 * MlsError `ENCODE_INVALID` (a field out of range, e.g. a cipher suite id over 0xffff).
 */
export function encodeAuthContent(nonce: Uint8Array, ctx: AuthContext): Uint8Array {
  requireNonce(nonce);
  const w = new Writer(160 + ctx.signatureKey.length);
  w.raw(nonce);
  w.opaque(utf8(ctx.domain));
  w.u8(ctx.purpose);
  w.opaque(utf8(ctx.user));
  w.opaque(utf8(ctx.device));
  w.u16(ctx.cipherSuite);
  w.opaque(ctx.signatureKey);
  w.opaque(ctx.authKey);
  return w.finish();
}

/**
 * Client side: the registration signature.
 * @throws ApiError `AUTH_CHALLENGE_INVALID` (see {@link encodeAuthContent}); MlsError `CRYPTO_INVALID_KEY`
 * (a private key the suite cannot use), `ENCODE_INVALID`.
 */
export function signAuthChallenge(suite: CipherSuite, signaturePrivateKey: Uint8Array, nonce: Uint8Array, ctx: AuthContext): Promise<Uint8Array> {
  return suite.signWithLabel(signaturePrivateKey, AUTH_LABEL, encodeAuthContent(nonce, ctx));
}

/**
 * Server side: true when `signature` is a valid registration signature for `ctx`.
 * @throws ApiError `AUTH_CHALLENGE_INVALID` (see {@link encodeAuthContent}); MlsError `CRYPTO_INVALID_KEY`
 * (a malformed signature public key), `ENCODE_INVALID`.
 */
export function verifyAuthChallenge(suite: CipherSuite, nonce: Uint8Array, ctx: AuthContext, signature: Uint8Array): Promise<boolean> {
  return suite.verifyWithLabel(ctx.signatureKey, AUTH_LABEL, encodeAuthContent(nonce, ctx), signature);
}

/**
 * The bytes the handshake MAC covers: the label, who logs in and why, the
 * nonce and all four public keys (server static and ephemeral, client
 * ephemeral and auth key), so a MAC is bound to one run of the handshake.
 * @throws ApiError `AUTH_CHALLENGE_INVALID` (a nonce of the wrong length), `INVALID_AUTH_KEY` (a key that is
 * not 32 bytes); MlsError `ENCODE_INVALID`.
 */
export function encodeHandshakeTranscript(t: HandshakeTranscript): Uint8Array {
  requireNonce(t.nonce);
  for (const [what, key] of [
    ["serverKey", t.serverKey],
    ["serverEphemeral", t.serverEphemeral],
    ["clientEphemeral", t.clientEphemeral],
    ["clientAuthKey", t.clientAuthKey],
  ] as const) {
    if (key.length !== X25519_KEY_LENGTH) throw new ApiError("INVALID_AUTH_KEY", `${what} must be ${X25519_KEY_LENGTH} bytes`);
  }
  const w = new Writer(256);
  w.opaque(utf8(HANDSHAKE_LABEL));
  w.opaque(utf8(t.domain));
  w.u8(t.purpose);
  w.opaque(utf8(t.user));
  w.opaque(utf8(t.device));
  w.raw(t.nonce);
  w.raw(t.serverKey);
  w.raw(t.serverEphemeral);
  w.raw(t.clientEphemeral);
  w.raw(t.clientAuthKey);
  return w.finish();
}

/** HKDF over the four DH values (in the client's order ee, es, se, ss), then HMAC over the transcript. */
function handshakeMac(suite: CipherSuite, dh: readonly Uint8Array[], transcript: Uint8Array): Uint8Array {
  if (CIPHER_SUITES[suite.id].hash !== "SHA-256") throw new ApiError("INTERNAL", "the auth handshake uses a SHA-256 suite");
  const ikm = new Uint8Array(dh.length * X25519_KEY_LENGTH);
  dh.forEach((d, i) => ikm.set(d, i * X25519_KEY_LENGTH));
  const prk = suite.kdfExtract(utf8(HANDSHAKE_LABEL), ikm);
  const key = suite.kdfExpand(prk, suite.hash(transcript), AUTH_MAC_LENGTH);
  const mac = suite.mac(key, transcript);
  for (const secret of [ikm, prk, key, ...dh]) zeroize(secret);
  return mac;
}

/** The DH values (ee, es, se, ss from the client's side) of (own private key, peer public key, what the peer key is). */
async function dhInOrder(pairs: readonly (readonly [Uint8Array, Uint8Array, string])[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const [own, peer, what] of pairs) out.push(await x25519(own, peer, what));
  return out;
}

/** What the client needs from the challenge. */
export interface HandshakeChallenge {
  readonly domain: string;
  readonly nonce: Uint8Array;
  readonly serverKey: Uint8Array;
  readonly serverEphemeral: Uint8Array;
}

/** The client's answer to a handshake challenge: its ephemeral public key and the MAC over the transcript. */
export interface HandshakeResponse {
  readonly clientEphemeral: Uint8Array;
  readonly mac: Uint8Array;
}

/**
 * Client side: answers a challenge with the device's auth key pair.
 * @throws ApiError `INVALID_AUTH_KEY` (a server key of the wrong length or of low order, or a malformed
 * auth key), `AUTH_CHALLENGE_INVALID` (a nonce of the wrong length), `INTERNAL` (a suite whose hash is not SHA-256).
 */
export async function answerChallenge(
  suite: CipherSuite,
  challenge: HandshakeChallenge,
  who: { purpose: AuthPurpose; user: string; device: string; authKey: X25519KeyPair },
): Promise<HandshakeResponse> {
  const e = await x25519GenerateKeyPair();
  try {
    const dh = await dhInOrder([
      [e.privateKey, challenge.serverEphemeral, "server ephemeral key"],
      [e.privateKey, challenge.serverKey, "server key"],
      [who.authKey.privateKey, challenge.serverEphemeral, "server ephemeral key"],
      [who.authKey.privateKey, challenge.serverKey, "server key"],
    ]);
    const transcript = encodeHandshakeTranscript({ ...challenge, ...who, clientEphemeral: e.publicKey, clientAuthKey: who.authKey.publicKey });
    return { clientEphemeral: e.publicKey, mac: handshakeMac(suite, dh, transcript) };
  } finally {
    zeroize(e.privateKey);
  }
}

/** The server's side of a challenge: its static and ephemeral key pairs. */
export interface ServerHandshakeKeys {
  readonly serverKey: X25519KeyPair;
  readonly serverEphemeral: X25519KeyPair;
}

/** The MAC a transcript must carry, computed from the server's private keys and the client's PUBLIC keys only. */
export async function expectedHandshakeMac(suite: CipherSuite, keys: ServerHandshakeKeys, t: Omit<HandshakeTranscript, "serverKey" | "serverEphemeral">): Promise<Uint8Array> {
  const dh = await dhInOrder([
    [keys.serverEphemeral.privateKey, t.clientEphemeral, "client ephemeral key"],
    [keys.serverKey.privateKey, t.clientEphemeral, "client ephemeral key"],
    [keys.serverEphemeral.privateKey, t.clientAuthKey, "client auth key"],
    [keys.serverKey.privateKey, t.clientAuthKey, "client auth key"],
  ]);
  const transcript = encodeHandshakeTranscript({ ...t, serverKey: keys.serverKey.publicKey, serverEphemeral: keys.serverEphemeral.publicKey });
  return handshakeMac(suite, dh, transcript);
}

/**
 * Server side: constant-time check of a client's MAC.
 * @returns false for a wrong MAC (the server answers `AUTH_MAC_INVALID`).
 * @throws ApiError `INVALID_AUTH_KEY` (a client key of the wrong length or of low order),
 * `AUTH_CHALLENGE_INVALID` (a nonce of the wrong length), `INTERNAL` (a suite whose hash is not SHA-256).
 */
export async function verifyHandshake(suite: CipherSuite, keys: ServerHandshakeKeys, t: Omit<HandshakeTranscript, "serverKey" | "serverEphemeral">, mac: Uint8Array): Promise<boolean> {
  const expected = await expectedHandshakeMac(suite, keys, t);
  return mac.length === AUTH_MAC_LENGTH && constantTimeEqual(expected, mac);
}

/**
 * What the server (or anyone holding its private keys) can produce WITHOUT the
 * client: a complete, valid login transcript for any registered auth key.
 * This is the deniability argument as code: a transcript the server shows a
 * third party is exactly as likely to be this forgery as a real login.
 * @throws ApiError `INVALID_AUTH_KEY`, `AUTH_CHALLENGE_INVALID`, `INTERNAL`, as {@link verifyHandshake}.
 */
export async function forgeTranscript(
  suite: CipherSuite,
  keys: ServerHandshakeKeys,
  t: Omit<HandshakeTranscript, "serverKey" | "serverEphemeral" | "clientEphemeral">,
): Promise<HandshakeResponse> {
  const e = await x25519GenerateKeyPair();
  zeroize(e.privateKey); // the forger needs only a public ephemeral key
  return { clientEphemeral: e.publicKey, mac: await expectedHandshakeMac(suite, keys, { ...t, clientEphemeral: e.publicKey }) };
}
