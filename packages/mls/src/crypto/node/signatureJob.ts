/**
 * A signature to make or check on node:crypto or libsodium, as the node
 * provider prepares it (key parsed, lengths checked) before deciding where it
 * runs: inline, or through the worker thread (signatureWorker.ts).
 */
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { asBytes } from "./kdf.js";
import { sodium, SODIUM_ED25519, unshared } from "./sodium.js";

/**
 * A key as node:crypto's sign/verify take it (ECDSA with its signature
 * encoding), or raw bytes for libsodium: a 64-byte secret key (the provider's
 * own copy, never changed once made) or a 32-byte public key (the caller's,
 * read when the job runs or is queued, as its message is).
 */
export type SignatureKey = KeyObject | { readonly key: KeyObject; readonly dsaEncoding: "der" } | Uint8Array;

/**
 * A signature to make or check: the digest name (null for EdDSA on
 * node:crypto, SODIUM_ED25519 for libsodium), the parsed key, the message
 * (and signature: 64 bytes for libsodium).
 */
export type SignatureJob =
  | { readonly kind: "sign"; readonly algorithm: string | null; readonly key: SignatureKey; readonly message: Uint8Array }
  | { readonly kind: "verify"; readonly algorithm: string | null; readonly key: SignatureKey; readonly message: Uint8Array; readonly signature: Uint8Array };

export type Outcome<J extends SignatureJob> = J extends { kind: "sign" } ? Uint8Array : boolean;

/*
 * Jobs are class instances, not object literals: V8 decides per literal site
 * whether to allocate its objects straight in the old generation, and a big
 * join keeps a thousand jobs alive at once. A literal site learned that there,
 * and every message's jobs afterwards went to the old generation, holding
 * their messages and signatures with them (promoted ~1.4 KB per message, the
 * message rate at 1024 members ~10% lower). Constructors have no such site.
 */
class SignRequest {
  readonly kind = "sign";
  constructor(
    readonly algorithm: string | null,
    readonly key: SignatureKey,
    readonly message: Uint8Array,
  ) {}
}

class VerifyRequest {
  readonly kind = "verify";
  constructor(
    readonly algorithm: string | null,
    readonly key: SignatureKey,
    readonly message: Uint8Array,
    readonly signature: Uint8Array,
  ) {}
}

export function signJob(algorithm: string | null, key: SignatureKey, message: Uint8Array): SignatureJob {
  return new SignRequest(algorithm, key, message);
}

export function verifyJob(algorithm: string | null, key: SignatureKey, message: Uint8Array, signature: Uint8Array): SignatureJob {
  return new VerifyRequest(algorithm, key, message, signature);
}

/** Whether a prepared verification holds, computed on this thread (an answer already known passes through). */
export function verifyNow(job: SignatureJob | boolean): boolean {
  return typeof job === "boolean" ? job : (runInline(job) as boolean);
}

/** Computes a job on this thread: a signature, or whether it verifies (a malformed signature does not). */
export function runInline(job: SignatureJob): Uint8Array | boolean {
  if (job.algorithm === SODIUM_ED25519) {
    const key = job.key as Uint8Array;
    const message = unshared(job.message);
    // A public key is the caller's array (a secret key is the provider's own copy).
    if (job.kind === "verify") return sodium!.crypto_sign_verify_detached(unshared(job.signature), message, unshared(key)) === true;
    // Off the JS heap from the start: libsodium writes it there (V8 would move a 64-byte array, copying it).
    const signature = new Uint8Array(new ArrayBuffer(64));
    sodium!.crypto_sign_detached(signature, message, key);
    return signature;
  }
  const key = job.key as Exclude<SignatureKey, Uint8Array>;
  if (job.kind === "sign") return asBytes(nodeSign(job.algorithm, job.message, key));
  try {
    return nodeVerify(job.algorithm, job.message, key, job.signature);
  } catch {
    return false;
  }
}

/** A job computed on this thread, as a settled promise (its error as a rejection). */
export function settleInline(job: SignatureJob): Promise<Uint8Array | boolean> {
  // settle() without its closure: this runs for every signature made or checked on this thread.
  try {
    return Promise.resolve(runInline(job));
  } catch (e) {
    return Promise.reject(e);
  }
}
