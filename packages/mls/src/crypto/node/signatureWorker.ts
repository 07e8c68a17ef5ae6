/**
 * Signatures shared between this thread and one worker thread.
 *
 * Signing and verifying are most of a message's CPU (Ed25519 on OpenSSL:
 * ~32 µs to sign, ~75 µs to verify, against ~30 µs for everything else a
 * PrivateMessage needs), and a joiner verifies every leaf of the tree. One
 * thread cannot use a second core, so each request is queued to a worker at
 * once and also kept here:
 *
 * - the worker takes requests from the front of the queue as they arrive, so
 *   it works while this thread goes on (decrypting the next message, sealing
 *   the last one);
 * - this thread takes requests from the back once it is otherwise idle (from
 *   a setImmediate turn, one request at a time with the continuations of
 *   what was answered run in between), so it never waits for the worker while
 *   work is left (a lone request never comes here: signatureQueue.ts runs it
 *   inline);
 * - each request is claimed exactly once, by a compare-and-swap on its slot in
 *   shared memory; results of the worker come back through shared memory too.
 *
 * Keys are parsed on this thread first (so a malformed key throws exactly as
 * the inline path does). A libsodium public key is 32 raw bytes: it travels
 * in the shared ring with its message and signature, as they do (a joiner
 * verifies under a key per member, each seen once: cloning each through a
 * port cost more than the verification it moved). Other keys (KeyObjects,
 * libsodium secret keys) are cloned to the worker once each. This thread
 * decides which of those the worker keeps (the most recently used, up to a
 * limit) and tells it which to drop, so a key in use is never missing there:
 * a worker that forgot keys by itself left the group's own hot keys to this
 * thread after a few big joins. If the worker cannot start or dies, its
 * requests are computed here.
 */
import type { KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { runInline, settleInline, type Outcome, type SignatureJob, type SignatureKey } from "./signatureJob.js";
import { SODIUM_ED25519, sodiumPath } from "./sodium.js";

/** Atomics.waitAsync (Node 16+), which the ES2022 lib this project compiles against does not declare. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync;

// Slot states in shared memory.
const PENDING = 0;
const CLAIMED_WORKER = 1;
const CLAIMED_HERE = 2;
const DONE_OK = 3;
const DONE_FAILED = 4;

/** Requests in flight at once (a power of two); beyond it, requests are computed inline. */
const CAPACITY = 4096;
const MASK = CAPACITY - 1;
/** Room for one signature result: ECDSA P-521 DER is at most 139 bytes. */
const RESULT_SIZE = 160;
/** Messages and signatures of requests in flight; a request that finds no room is computed inline. */
const DATA_SIZE = 4 * 1024 * 1024;

// Request header words, per slot.
const H_KIND = 0; // 0 sign, 1 verify
const H_ALGORITHM = 1; // index in ALGORITHMS
const H_KEY = 2; // key id, or RING_KEY
const H_OFFSET = 3; // message, then signature, then (RING_KEY) the public key, in the data ring
const H_MESSAGE = 4;
const H_SIGNATURE = 5;
const HEADER_WORDS = 6;
const ALGORITHMS = [null, "sha256", "sha384", "sha512", SODIUM_ED25519] as const;
const SODIUM = ALGORITHMS.indexOf(SODIUM_ED25519);
/** H_KEY of a libsodium verification: its 32-byte public key follows the signature in the data ring. */
const RING_KEY = -1;

// ctl words: requests published (the next index), requests the worker finished (which ones go to
// a separate log), and whether the worker (this thread) may be asleep on PUBLISHED (FINISHED).
// Each side sets its word before it waits and the other reads it after publishing (sequentially
// consistent both), so a wake-up is never lost, and no notify (a lock and a syscall for a sleeper)
// is made while the other side is awake.
const PUBLISHED = 0;
const FINISHED = 1;
const WORKER_SLEEPING = 2;
const MAIN_WAITING = 3;
const CTL_WORDS = 4;
/** Keys the worker keeps by default (the most recently used). */
const WORKER_KEY_LIMIT = 4096;
/**
 * How long the worker keeps looking for new requests before it sleeps. A
 * sleeping thread is slow to get its core back on a virtual machine (tens to
 * hundreds of microseconds), and a busy client's next batch usually comes
 * sooner: 1 KiB messages 64 in flight (16 members, suite 1) went ~7% faster
 * with 500 µs than with none (8 pairs of alternating processes, 7 faster).
 * It costs at most this much of the worker's core at the end of each burst,
 * and nothing while idle.
 */
const WORKER_SPIN_MICROSECONDS = 500;

/** Requests this thread takes per microtask turn at most, when many are left (see #help). */
const HELP_BATCH = 8;

/**
 * The worker: plain JavaScript (it runs from a string, so it needs no build
 * step and works the same under tsx, vitest and compiled code). Requests come
 * through shared memory; keys, once each, as KeyObjects through a port, and
 * on the same port, in order, the ids of keys to drop. A drop is read only
 * when looking for a key sent after it, that is for a request published after
 * every request that named the dropped id.
 */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const { port, ctl, status, headers, data, lengths, results, finishedLog, busy, sodiumPath, spinMs } = workerData;
const sodium = sodiumPath === undefined ? undefined : require(sodiumPath);
const ALGORITHMS = ${JSON.stringify(ALGORITHMS)};
const SODIUM = ${SODIUM};
const keys = new Map();
let local = new Uint8Array(16384);
let newestKey = -1;
function keyFor(id) {
  let key = keys.get(id);
  while (key === undefined && id > newestKey) {
    const m = receiveMessageOnPort(port);
    if (m === undefined) return undefined;
    if (m.message.drop !== undefined) {
      // Raw keys (libsodium's) are this thread's copies: a secret one is wiped.
      const dropped = keys.get(m.message.drop);
      if (dropped instanceof Uint8Array) dropped.fill(0);
      keys.delete(m.message.drop);
      continue;
    }
    newestKey = m.message.id;
    keys.set(newestKey, m.message.key);
    if (newestKey === id) key = m.message.key;
  }
  return key;
}
let cursor = 0;
for (;;) {
  let published = Atomics.load(ctl, ${PUBLISHED});
  if (cursor === published) {
    // Look again for a while before sleeping (see WORKER_SPIN_MICROSECONDS).
    const until = performance.now() + spinMs;
    while ((published = Atomics.load(ctl, ${PUBLISHED})) === cursor && performance.now() < until);
    if (cursor === published) {
      Atomics.store(ctl, ${WORKER_SLEEPING}, 1);
      Atomics.wait(ctl, ${PUBLISHED}, published);
      Atomics.store(ctl, ${WORKER_SLEEPING}, 0);
      continue;
    }
  }
  const slot = cursor & ${MASK};
  const h = slot * ${HEADER_WORDS};
  const keyId = headers[h + ${H_KEY}];
  const key = keyId === ${RING_KEY} ? null : keyFor(keyId);
  // A key that did not come (cannot happen while the port works): leave the request to the main thread.
  if (key !== undefined && Atomics.compareExchange(status, slot, ${PENDING}, ${CLAIMED_WORKER}) === ${PENDING}) {
    const started = performance.now();
    let state = ${DONE_FAILED};
    try {
      const off = headers[h + ${H_OFFSET}], ml = headers[h + ${H_MESSAGE}];
      const message = data.subarray(off, off + ml);
      const algorithm = headers[h + ${H_ALGORITHM}];
      if (algorithm === SODIUM) {
        // sodium-native reads only plain ArrayBuffers (given shared memory, it answers undefined): the
        // message, signature and a key from the ring are copied to this thread's own buffer first.
        // Copied to the same offset modulo 8 as in the ring: a copy out of shared memory goes word by
        // word only between equally aligned addresses (byte by byte otherwise).
        const a = off & 7, n = a + ml + 96;
        if (local.length < n) local = new Uint8Array(Math.max(n, 2 * local.length));
        const m = local.subarray(a, a + ml), sig = local.subarray(a + ml, a + ml + 64);
        if (headers[h + ${H_KIND}] === 0) {
          m.set(message);
          sodium.crypto_sign_detached(sig, m, key);
          results.set(sig, slot * ${RESULT_SIZE});
          lengths[slot] = 64;
          state = ${DONE_OK};
        } else {
          local.set(data.subarray(off, off + n - a), a);
          if (sodium.crypto_sign_verify_detached(sig, m, key === null ? local.subarray(a + ml + 64, n) : key) === true) state = ${DONE_OK};
        }
        local.fill(0, 0, n);
      } else if (headers[h + ${H_KIND}] === 0) {
        const s = crypto.sign(ALGORITHMS[algorithm], message, key);
        if (s.length <= ${RESULT_SIZE}) { results.set(s, slot * ${RESULT_SIZE}); lengths[slot] = s.length; state = ${DONE_OK}; }
      } else if (crypto.verify(ALGORITHMS[algorithm], message, key, data.subarray(off + ml, off + ml + headers[h + ${H_SIGNATURE}]))) state = ${DONE_OK};
    } catch {}
    busy[0] += performance.now() - started;
    Atomics.store(status, slot, state);
    const f = Atomics.load(ctl, ${FINISHED});
    finishedLog[f & ${MASK}] = cursor;
    Atomics.store(ctl, ${FINISHED}, (f + 1) | 0);
    if (Atomics.load(ctl, ${MAIN_WAITING}) !== 0) Atomics.notify(ctl, ${FINISHED});
  }
  cursor = (cursor + 1) | 0;
}
`;

/** A request in flight (a class, not a literal: see the note in signatureJob.ts). */
class Ticket {
  /** Answered here while the worker still has it: its slot and bytes stay reserved until the worker lets go. */
  answered = false;
  readonly promise: Promise<Uint8Array | boolean>;
  resolve!: (v: Uint8Array | boolean) => void;
  reject!: (e: unknown) => void;
  constructor(
    readonly job: SignatureJob,
    /** Where its bytes are in the data ring (zeroed once it is answered). */
    readonly offset: number,
    readonly length: number,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export class SignatureWorker {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  readonly #ctl = new Int32Array(new SharedArrayBuffer(4 * CTL_WORDS));
  readonly #status = new Int32Array(new SharedArrayBuffer(4 * CAPACITY));
  readonly #headers = new Int32Array(new SharedArrayBuffer(4 * HEADER_WORDS * CAPACITY));
  readonly #data = new Uint8Array(new SharedArrayBuffer(DATA_SIZE));
  readonly #lengths = new Int32Array(new SharedArrayBuffer(4 * CAPACITY));
  readonly #results = new Uint8Array(new SharedArrayBuffer(RESULT_SIZE * CAPACITY));
  readonly #finishedLog = new Int32Array(new SharedArrayBuffer(4 * CAPACITY));
  /** Milliseconds the worker spent on requests (written by the worker only). */
  readonly #busy = new Float64Array(new SharedArrayBuffer(8));
  #byWorker = 0;
  #byHere = 0;
  #duplicated = 0;
  /** Unanswered requests by slot. */
  readonly #tickets: (Ticket | undefined)[] = new Array<Ticket | undefined>(CAPACITY).fill(undefined);
  /** Indices this thread may still take, newest last. */
  #stealable: number[] = [];
  #next = 0;
  /** The oldest index that may still be unanswered: its bytes are where the data ring's free space ends. */
  #oldest = 0;
  #dataHead = 0;
  /** Zeroes to wipe the data ring with (see #wipe). */
  #zeros = new Uint8Array(new ArrayBuffer(4096));
  #finishedSeen = 0;
  #outstanding = 0;
  #helpScheduled = false;
  #helping = false;
  #waiting = false;
  #dead = false;
  /**
   * Keys the worker holds: id, and the key count when last moved to the end
   * (newest) of this Map, whose oldest entry is dropped first.
   */
  readonly #keyIds = new Map<KeyObject | Uint8Array, { readonly id: number; moved: number }>();
  #nextKeyId = 0;
  readonly #keyLimit: number;
  readonly #spinMicroseconds: number;

  /**
   * `keyLimit`: how many keys the worker keeps (each a cloned KeyObject, held
   * here too); `spinMicroseconds`: how long it looks for new requests before
   * it sleeps (0: sleeps at once).
   */
  constructor(options: { keyLimit?: number; spinMicroseconds?: number } = {}) {
    this.#keyLimit = Math.max(1, options.keyLimit ?? WORKER_KEY_LIMIT);
    this.#spinMicroseconds = Math.max(0, options.spinMicroseconds ?? WORKER_SPIN_MICROSECONDS);
  }

  /** Whether requests are in flight (a new one then joins them rather than going inline). */
  get busy(): boolean {
    return this.#outstanding > 0;
  }

  /**
   * How well the two cores share: requests answered by the worker, by this
   * thread, and by this thread while the worker was still on them (its answer
   * then came too late), the worker's busy time and the keys it holds.
   */
  stats(): { byWorker: number; byThisThread: number; duplicated: number; workerBusyMs: number; workerKeys: number } {
    return { byWorker: this.#byWorker, byThisThread: this.#byHere, duplicated: this.#duplicated, workerBusyMs: this.#busy[0]!, workerKeys: this.#keyIds.size };
  }

  /** Whether a worker is worth having here: it needs a second core. */
  static useful(): boolean {
    return availableParallelism() > 1;
  }

  submit<J extends SignatureJob>(job: J): Promise<Outcome<J>>;
  submit(job: SignatureJob): Promise<Uint8Array | boolean> {
    const message = job.message;
    const verify = job.kind === "verify";
    const signatureLength = verify ? job.signature.length : 0;
    const algorithm = ALGORITHMS.indexOf(job.algorithm as (typeof ALGORITHMS)[number]);
    // A libsodium verification's public key (32 bytes, checked by the caller) goes in the ring.
    const ringKey = verify && algorithm === SODIUM;
    const length = message.length + signatureLength + (ringKey ? 32 : 0);
    const offset = this.#dead || this.#tickets[this.#next & MASK] !== undefined || !this.#start() ? -1 : this.#allocate(length, message.byteOffset);
    if (offset < 0) return settleInline(job);
    const index = this.#next;
    const slot = index & MASK;
    this.#next = (index + 1) | 0;
    const data = this.#data;
    data.set(message, offset);
    if (verify) data.set(job.signature, offset + message.length);
    if (ringKey) data.set(job.key as Uint8Array, offset + message.length + signatureLength);
    const headers = this.#headers;
    const h = slot * HEADER_WORDS;
    headers[h + H_KIND] = verify ? 1 : 0;
    headers[h + H_ALGORITHM] = algorithm;
    headers[h + H_KEY] = ringKey ? RING_KEY : this.#keyId(job.key);
    headers[h + H_OFFSET] = offset;
    headers[h + H_MESSAGE] = message.length;
    headers[h + H_SIGNATURE] = signatureLength;
    Atomics.store(this.#status, slot, PENDING);
    const ticket = new Ticket(job, offset, length);
    this.#tickets[slot] = ticket;
    this.#stealable.push(index);
    if (this.#outstanding++ === 0) this.#worker!.ref();
    const ctl = this.#ctl;
    Atomics.store(ctl, PUBLISHED, this.#next);
    if (Atomics.load(ctl, WORKER_SLEEPING) !== 0) Atomics.notify(ctl, PUBLISHED);
    if (!this.#helpScheduled && !this.#helping) this.#scheduleHelp();
    return ticket.promise;
  }

  /**
   * The key's id, sending the key to the worker the first time (before any
   * request that names it is published), and then the least recently used key
   * to drop if the worker holds too many.
   */
  #keyId(key: SignatureKey): number {
    const keyObject = "dsaEncoding" in key ? key.key : key;
    const ids = this.#keyIds;
    const known = ids.get(keyObject);
    if (known !== undefined) {
      // Moved to the newest end only once half the limit of keys came after it: a key in use is
      // never dropped, and a hot key costs no Map churn per request (which, on a full Map, was ~5%
      // of the message rate).
      if (this.#nextKeyId - known.moved > this.#keyLimit >> 1) {
        ids.delete(keyObject);
        ids.set(keyObject, known);
        known.moved = this.#nextKeyId;
      }
      return known.id;
    }
    const id = this.#nextKeyId++;
    ids.set(keyObject, { id, moved: id });
    this.#port!.postMessage({ id, key });
    if (ids.size > this.#keyLimit) {
      const [oldest, entry] = ids.entries().next().value!;
      ids.delete(oldest);
      this.#port!.postMessage({ drop: entry.id });
    }
    return id;
  }

  /**
   * Room for `length` bytes in the data ring, after everything still
   * unanswered, at an offset equal to `align` modulo 8; -1 when there is none.
   * Copies to and from shared memory (and zeroing it) go word by word only
   * between addresses aligned alike, byte by byte otherwise: a message keeps
   * its own alignment in the ring.
   */
  #allocate(length: number, align: number): number {
    while (this.#oldest !== this.#next && this.#tickets[this.#oldest & MASK] === undefined) this.#oldest = (this.#oldest + 1) | 0;
    if (this.#oldest === this.#next) this.#dataHead = 0;
    if (length > DATA_SIZE / 4) return -1;
    const head = this.#dataHead;
    const skew = align & 7;
    let at = head + ((skew - head) & 7);
    if (this.#oldest !== this.#next) {
      // Bytes in use run from the oldest request's offset to the head, possibly wrapping. The head never
      // catches up with that offset from behind (strict <), so head >= tail always means "not wrapped".
      const tail = this.#tickets[this.#oldest & MASK]!.offset;
      if (head >= tail) {
        if (at + length > DATA_SIZE) {
          if (skew + length >= tail) return -1;
          at = skew;
        }
      } else if (at + length >= tail) return -1;
    } else if (at + length > DATA_SIZE) at = skew;
    this.#dataHead = at + length;
    return at;
  }

  /** Starts the worker on first use; false when it cannot run (then everything is inline). */
  #start(): boolean {
    if (this.#worker !== undefined) return true;
    try {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          port: port2,
          ctl: this.#ctl,
          status: this.#status,
          headers: this.#headers,
          data: this.#data,
          lengths: this.#lengths,
          results: this.#results,
          finishedLog: this.#finishedLog,
          busy: this.#busy,
          sodiumPath,
          spinMs: this.#spinMicroseconds / 1000,
        },
        transferList: [port2],
      });
      worker.unref();
      port1.unref();
      worker.on("error", () => this.#fail());
      worker.on("exit", () => this.#fail());
      this.#worker = worker;
      this.#port = port1;
      return true;
    } catch {
      this.#dead = true;
      return false;
    }
  }

  #scheduleHelp(): void {
    if (this.#helpScheduled || this.#helping) return;
    this.#helpScheduled = true;
    setImmediate(() => void this.#help());
  }

  /**
   * This thread's share, once it is otherwise idle: collect what the worker
   * finished, take one request from the back, let the continuations of
   * everything answered run (a microtask turn), and again while any is left.
   */
  async #help(): Promise<void> {
    this.#helpScheduled = false;
    this.#helping = true;
    try {
      for (;;) {
        this.#collect();
        let slot = this.#steal();
        if (slot !== undefined) {
          // A burst (a join's leaves) is taken a few at a time: its continuations need no turn in between.
          let more = Math.min(HELP_BATCH, this.#stealable.length >> 3);
          while (slot !== undefined) {
            this.#byHere++;
            this.#answerHere(slot);
            slot = more-- > 0 ? this.#steal() : undefined;
          }
        } else if (!this.#duplicateWorkersJob()) break;
        await Promise.resolve();
      }
    } finally {
      this.#helping = false;
    }
    this.#awaitWorker();
  }

  /**
   * Nothing is left to take, but the worker is still on a request: compute it
   * here too rather than wait. A worker that slept is often slow to get a core
   * back (hundreds of microseconds on a virtual machine), and a batch's answer
   * would wait for that last request; the duplicate costs this thread time it
   * would otherwise spend idle. The worker's late answer is then ignored.
   */
  #duplicateWorkersJob(): boolean {
    for (let i = this.#oldest; i !== this.#next; i = (i + 1) | 0) {
      const slot = i & MASK;
      const ticket = this.#tickets[slot];
      if (ticket === undefined || ticket.answered || Atomics.load(this.#status, slot) !== CLAIMED_WORKER) continue;
      ticket.answered = true;
      this.#duplicated++;
      this.#compute(ticket);
      return true;
    }
    return false;
  }

  /** Claims the newest request the worker has not taken; its slot, or undefined. */
  #steal(): number | undefined {
    while (this.#stealable.length > 0) {
      const slot = this.#stealable.pop()! & MASK;
      if (Atomics.compareExchange(this.#status, slot, PENDING, CLAIMED_HERE) === PENDING) return slot;
    }
    return undefined;
  }

  /** Nothing left to take: sleep until the worker finishes something (without blocking this thread). */
  #awaitWorker(): void {
    if (this.#outstanding === 0 || this.#waiting || this.#dead) return;
    Atomics.store(this.#ctl, MAIN_WAITING, 1);
    const w = waitAsync(this.#ctl, FINISHED, this.#finishedSeen);
    if (!w.async || typeof w.value === "string") {
      Atomics.store(this.#ctl, MAIN_WAITING, 0);
      this.#scheduleHelp();
      return;
    }
    this.#waiting = true;
    void w.value.then(() => {
      this.#waiting = false;
      Atomics.store(this.#ctl, MAIN_WAITING, 0);
      this.#collect();
      // Requests the worker left (a key that never came) are still there to take.
      if (this.#stealable.length > 0) this.#scheduleHelp();
      else this.#awaitWorker();
    });
  }

  /** Answers every request the worker finished since the last look. */
  #collect(): void {
    const finished = Atomics.load(this.#ctl, FINISHED);
    while (this.#finishedSeen !== finished) {
      const slot = this.#finishedLog[this.#finishedSeen & MASK]! & MASK;
      this.#finishedSeen = (this.#finishedSeen + 1) | 0;
      const ticket = this.#take(slot);
      if (ticket === undefined || ticket.answered) continue;
      this.#byWorker++;
      const state = Atomics.load(this.#status, slot);
      if (ticket.job.kind === "verify") ticket.resolve(state === DONE_OK);
      else if (state === DONE_OK) ticket.resolve(this.#results.slice(slot * RESULT_SIZE, slot * RESULT_SIZE + this.#lengths[slot]!));
      else this.#compute(ticket); // a failed signature: compute here to report the real error
    }
  }

  /**
   * Zeroes ring bytes: by copying zeroes aligned as they are (word by word),
   * as fill on shared memory stores byte by byte.
   */
  #wipe(offset: number, length: number): void {
    const skew = offset & 7;
    if (this.#zeros.length < skew + length) this.#zeros = new Uint8Array(new ArrayBuffer(Math.max(skew + length, 2 * this.#zeros.length)));
    this.#data.set(this.#zeros.subarray(skew, skew + length), offset);
  }

  #answerHere(slot: number): void {
    const ticket = this.#take(slot);
    if (ticket !== undefined && !ticket.answered) this.#compute(ticket);
  }

  #compute(ticket: Ticket): void {
    try {
      ticket.resolve(runInline(ticket.job));
    } catch (e) {
      ticket.reject(e);
    }
  }

  #take(slot: number): Ticket | undefined {
    const ticket = this.#tickets[slot];
    if (ticket === undefined) return undefined;
    this.#tickets[slot] = undefined;
    // What was signed may be secret (an application message's FramedContentTBS holds its plaintext).
    this.#wipe(ticket.offset, ticket.length);
    if (--this.#outstanding === 0) this.#worker?.unref();
    return ticket;
  }

  /** Stops the worker; requests it had not finished, and all later ones, are computed on this thread. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#fail();
    await w?.terminate();
  }

  /** The worker is gone: whatever it had not finished is computed here, and from now on everything is. */
  #fail(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#collect();
    this.#stealable = [];
    for (let slot = 0; slot < CAPACITY; slot++) this.#answerHere(slot);
  }
}
