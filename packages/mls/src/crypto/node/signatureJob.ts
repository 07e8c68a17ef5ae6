/**
 * A signature to make or check on node:crypto, as the node provider prepares
 * it (key parsed, lengths checked) before deciding where it runs: inline, or
 * through the worker thread (signatureWorker.ts).
 */
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { settle } from "../settle.js";
import { asBytes } from "./kdf.js";

/** A key as node:crypto's sign/verify take it (ECDSA with its signature encoding). */
export type SignatureKey = KeyObject | { readonly key: KeyObject; readonly dsaEncoding: "der" };

/** A signature to make or check: the digest name (null for EdDSA), the parsed key, the message (and signature). */
export type SignatureJob =
  | { readonly kind: "sign"; readonly algorithm: string | null; readonly key: SignatureKey; readonly message: Uint8Array }
  | { readonly kind: "verify"; readonly algorithm: string | null; readonly key: SignatureKey; readonly message: Uint8Array; readonly signature: Uint8Array };

export type Outcome<J extends SignatureJob> = J extends { kind: "sign" } ? Uint8Array : boolean;

/** Whether a prepared verification holds, computed on this thread (an answer already known passes through). */
export function verifyNow(job: SignatureJob | boolean): boolean {
  return typeof job === "boolean" ? job : (runInline(job) as boolean);
}

/** Computes a job on this thread: a signature, or whether it verifies (a malformed signature does not). */
export function runInline(job: SignatureJob): Uint8Array | boolean {
  if (job.kind === "sign") return asBytes(nodeSign(job.algorithm, job.message, job.key));
  try {
    return nodeVerify(job.algorithm, job.message, job.key, job.signature);
  } catch {
    return false;
  }
}

/** A job computed on this thread, as a settled promise (its error as a rejection). */
export function settleInline(job: SignatureJob): Promise<Uint8Array | boolean> {
  return settle(() => runInline(job));
}
