/**
 * Signature verification spread over the libuv thread pool when several are
 * asked for at once.
 *
 * A joiner checks every leaf signature of the tree (RFC 9420 §12.4.3.1), an
 * adder every KeyPackage (§10.1): hundreds of independent verifications, each
 * ~80 µs of OpenSSL work. Callers already start them together
 * (`Promise.all`), so verify requests made in one synchronous run are
 * collected and flushed in a microtask: a lone request (the per-message
 * path) is verified inline, with no thread hop; a batch is split between the
 * pool threads and this thread, which would otherwise only wait.
 *
 * Keys are parsed (and their errors thrown) on this thread in both cases, so
 * a malformed key rejects exactly as the synchronous path does.
 */
import { verify as nodeVerify } from "node:crypto";
import type { KeyObject, VerifyKeyObjectInput } from "node:crypto";

/** One prepared verification: the digest name (null for EdDSA) and the parsed key. */
export interface PreparedVerify {
  readonly algorithm: string | null;
  readonly key: KeyObject | VerifyKeyObjectInput;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

interface Job {
  readonly prepare: () => PreparedVerify | boolean;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Share of a batch kept on the calling thread. The pool threads compete with
 * this one for the same cores; on two cores, keeping a third here measured
 * fastest.
 */
const INLINE_SHARE = 1 / 3;

/** Verifies on this thread; an answer already known (a malformed signature) passes through. */
export function verifyPrepared(p: PreparedVerify | boolean): boolean {
  if (typeof p === "boolean") return p;
  try {
    return nodeVerify(p.algorithm, p.message, p.key, p.signature);
  } catch {
    return false;
  }
}

export class VerifyBatcher {
  #queue: Job[] = [];

  /**
   * `prepare` parses the key and checks lengths: it returns the work, or a
   * final answer (false for a malformed signature), or throws MlsError.
   */
  verify(prepare: () => PreparedVerify | boolean): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.#queue.push({ prepare, resolve, reject }) === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const jobs = this.#queue;
    this.#queue = [];
    const work: { p: PreparedVerify; job: Job }[] = [];
    for (const job of jobs) {
      let p: PreparedVerify | boolean;
      try {
        p = job.prepare();
      } catch (e) {
        job.reject(e);
        continue;
      }
      if (typeof p === "boolean") job.resolve(p);
      else work.push({ p, job });
    }
    const inline = work.length <= 1 ? work.length : Math.ceil(work.length * INLINE_SHARE);
    for (let i = inline; i < work.length; i++) {
      const { p, job } = work[i]!;
      try {
        nodeVerify(p.algorithm, p.message, p.key, p.signature, (err, ok) => job.resolve(err === null && ok));
      } catch {
        job.resolve(false);
      }
    }
    for (let i = 0; i < inline; i++) {
      const { p, job } = work[i]!;
      job.resolve(verifyPrepared(p));
    }
  }
}
