/**
 * The node provider's signature front: decides per request whether it runs
 * inline or joins the worker thread's queue (signatureWorker.ts).
 */
import { runInline, settleInline, type SignatureJob } from "./signatureJob.js";
import type { SignatureWorker } from "./signatureWorker.js";

/**
 * The front: a lone request (one message sent or received) is computed
 * inline, with no thread hop; as soon as there are two, or the worker already
 * has work, requests go to the worker at once, so it starts while this thread
 * is still producing the rest (decrypting the next message of a batch).
 * Whether a request is alone is known at the end of the synchronous run (a
 * microtask) that made it.
 */
export class SignatureQueue {
  #first: { job: SignatureJob; resolve: (v: Uint8Array | boolean) => void; reject: (e: unknown) => void } | undefined;
  readonly #worker: SignatureWorker | undefined;

  constructor(worker: SignatureWorker | undefined) {
    this.#worker = worker;
  }

  /**
   * `prepare` parses the key and checks lengths on this thread: it returns the
   * work, or the answer already (false for a malformed signature), or throws.
   */
  request(prepare: () => SignatureJob | boolean): Promise<Uint8Array | boolean> {
    let job: SignatureJob | boolean;
    try {
      job = prepare();
    } catch (e) {
      return Promise.reject(e);
    }
    if (typeof job === "boolean") return Promise.resolve(job);
    const worker = this.#worker;
    if (worker === undefined) return settleInline(job);
    if (this.#first === undefined && !worker.busy) {
      return new Promise<Uint8Array | boolean>((resolve, reject) => {
        this.#first = { job: job as SignatureJob, resolve, reject };
        queueMicrotask(() => this.#flush(false));
      });
    }
    this.#flush(true);
    return worker.submit(job);
  }

  /** The first request goes inline if it stayed alone, to the worker otherwise. */
  #flush(joined: boolean): void {
    const first = this.#first;
    if (first === undefined) return;
    this.#first = undefined;
    const worker = this.#worker!;
    if (joined || worker.busy) {
      worker.submit(first.job).then(first.resolve, first.reject);
      return;
    }
    // Inline: settled here, not through another promise and its then (one promise hop fewer per lone message).
    let outcome: Uint8Array | boolean;
    try {
      outcome = runInline(first.job);
    } catch (e) {
      first.reject(e);
      return;
    }
    first.resolve(outcome);
  }
}
