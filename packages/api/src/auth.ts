/**
 * How a client proves possession of its MLS signature key to the AS/DS
 * (RFC 9750 §5: clients authenticate with their MLS signature key).
 *
 * 1. The client asks for a challenge: POST /v1/auth/challenges -> { nonce } (32 random bytes,
 *    single use, short-lived).
 * 2. It signs, with the signature key of its cipher suite,
 *
 *        signature = SignWithLabel(signature_private_key, "Conclave auth", content)   // RFC 9420 §5.1.2
 *        content   = nonce || AuthContext                                             // nonce is exactly 32 bytes
 *
 *        enum { register(1), login(2), (255) } AuthPurpose;
 *
 *        struct {
 *            opaque domain<V>;          // the AS domain (GET /v1/as/keys), UTF-8: a signature for one
 *                                       // deployment is useless at another
 *            AuthPurpose purpose;       // what the signature authorizes
 *            opaque user<V>;            // UTF-8 user name
 *            opaque device<V>;          // UTF-8 device id
 *            CipherSuite cipher_suite;  // uint16
 *            opaque signature_key<V>;   // the client's SignaturePublicKey (RFC 9420 §5.1.1 form)
 *        } AuthContext;
 *
 *    (TLS presentation language with MLS varint vector headers, RFC 9420 §2.1.2.)
 *    SignWithLabel prefixes the label with "MLS 1.0 ", so the signed label is
 *    "MLS 1.0 Conclave auth", distinct from every label MLS itself uses: an
 *    auth signature can never be mistaken for an MLS signature.
 * 3. It sends the nonce and the signature (base64url) to POST /v1/clients (register) or
 *    POST /v1/auth/tokens (login) and receives a bearer token.
 */
import { Writer, utf8, type CipherSuite, type CipherSuiteId } from "@conclave/mls";
import { ApiError } from "./errors.js";

export const AUTH_LABEL = "Conclave auth";
export const AUTH_NONCE_LENGTH = 32;

export const AuthPurpose = { register: 1, login: 2 } as const;
export type AuthPurpose = (typeof AuthPurpose)[keyof typeof AuthPurpose];

export interface AuthContext {
  readonly domain: string;
  readonly purpose: AuthPurpose;
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
}

/** The exact bytes passed as `content` to SignWithLabel / VerifyWithLabel. */
export function encodeAuthContent(nonce: Uint8Array, ctx: AuthContext): Uint8Array {
  if (nonce.length !== AUTH_NONCE_LENGTH) {
    throw new ApiError("AUTH_CHALLENGE_INVALID", `nonce must be ${AUTH_NONCE_LENGTH} bytes, got ${nonce.length}`);
  }
  const w = new Writer(128 + ctx.signatureKey.length);
  w.raw(nonce);
  w.opaque(utf8(ctx.domain));
  w.u8(ctx.purpose);
  w.opaque(utf8(ctx.user));
  w.opaque(utf8(ctx.device));
  w.u16(ctx.cipherSuite);
  w.opaque(ctx.signatureKey);
  return w.finish();
}

/** Client side: the signature to send with a challenge response. */
export function signAuthChallenge(suite: CipherSuite, signaturePrivateKey: Uint8Array, nonce: Uint8Array, ctx: AuthContext): Promise<Uint8Array> {
  return suite.signWithLabel(signaturePrivateKey, AUTH_LABEL, encodeAuthContent(nonce, ctx));
}

/** Server side: true when `signature` is a valid challenge response for `ctx`. */
export function verifyAuthChallenge(suite: CipherSuite, nonce: Uint8Array, ctx: AuthContext, signature: Uint8Array): Promise<boolean> {
  return suite.verifyWithLabel(ctx.signatureKey, AUTH_LABEL, encodeAuthContent(nonce, ctx), signature);
}
