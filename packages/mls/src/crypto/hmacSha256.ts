/**
 * HKDF-Expand (RFC 5869 §2.3) over HMAC-SHA-256 (RFC 2104, FIPS 180-4) with
 * the key's inner and outer hash states computed once.
 *
 * Why hand-written: every PrivateMessage derives five values on each side
 * (the ratchet's key, nonce and next secret, RFC 9420 §9.1; the sender-data
 * key and nonce, §6.3.2), three of them from one ratchet secret and two from
 * the epoch's sender_data_secret. Through node:crypto each is a fresh HMAC
 * object and a fresh off-heap output buffer (~2-4 µs, plus the GC work of the
 * buffers); the library HMACs (@noble/hashes) cost about the same. With the
 * key's states kept, one expansion is two compression calls (~1 µs), and the
 * output is a small on-heap array. `bench/primitives.ts` measures both; the
 * tests check every output against node:crypto.
 */
import { MlsError } from "../errors.js";

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
  0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const BLOCK = 64;
const ONE = Uint8Array.of(1);
const HASH = 32;

// Scratch for one computation at a time (JavaScript is single-threaded; nothing here awaits). Zeroed after each use.
const W = new Int32Array(64);
const block = new Uint8Array(BLOCK);
const state = new Int32Array(8);

/** Loads a 64-byte block as the first 16 big-endian words of the message schedule. */
function load(b: Uint8Array): void {
  for (let i = 0; i < 16; i++) W[i] = (b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!;
}

/** FIPS 180-4 §6.2.2: one SHA-256 compression of the block in W[0..15] into `st`. */
function compress(st: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = st[0]!;
  let b1 = st[1]!;
  let c = st[2]!;
  let d = st[3]!;
  let e = st[4]!;
  let f = st[5]!;
  let g = st[6]!;
  let h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b1;
    b1 = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b1) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

/**
 * Continues a hash whose state `st` has absorbed `before` bytes (a multiple of
 * the block size) with the concatenation of `parts`, pads, and leaves the
 * digest in `st`.
 */
function finish(st: Int32Array, before: number, parts: readonly Uint8Array[]): void {
  let fill = 0;
  let total = before;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      block[fill++] = p[i]!;
      if (fill === BLOCK) {
        load(block);
        compress(st);
        fill = 0;
      }
    }
    total += p.length;
  }
  // FIPS 180-4 §5.1.1: 0x80, zeros, then the length in bits as a 64-bit big-endian integer.
  block[fill++] = 0x80;
  if (fill > BLOCK - 8) {
    block.fill(0, fill);
    load(block);
    compress(st);
    fill = 0;
  }
  block.fill(0, fill, BLOCK - 8);
  const bits = total * 8;
  const hi = Math.floor(bits / 0x100000000);
  for (let i = 0; i < 4; i++) block[BLOCK - 8 + i] = (hi >>> (24 - 8 * i)) & 0xff;
  for (let i = 0; i < 4; i++) block[BLOCK - 4 + i] = (bits >>> (24 - 8 * i)) & 0xff;
  load(block);
  compress(st);
  block.fill(0);
}

/** The outer hash of HMAC (RFC 2104): `st` holds the outer key state; the inner digest is in `state`. */
function outerHash(st: Int32Array): void {
  for (let i = 0; i < 8; i++) W[i] = state[i]!;
  W[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = (BLOCK + HASH) * 8;
  state.set(st);
  compress(state);
}

function writeDigest(st: Int32Array, out: Uint8Array, at: number, length: number): void {
  for (let i = 0; i < length; i++) out[at + i] = (st[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const st = IV.slice();
  finish(st, 0, parts);
  const out = new Uint8Array(HASH);
  writeDigest(st, out, 0, HASH);
  // The message schedule was derived from the input (a long HMAC key, say).
  W.fill(0);
  st.fill(0);
  return out;
}

/**
 * An HMAC-SHA-256 PRK for several HKDF-Expand calls. The JavaScript one below
 * computes the key's inner and outer states once; the node provider's native
 * one keeps the PRK by reference and makes each expansion one call.
 */
export interface HkdfSha256Prk {
  /**
   * RFC 5869 §2.3 HKDF-Expand with this key as PRK; into `out` (`length`
   * bytes) when given, which is returned, so several outputs can share one
   * buffer. @throws MlsError CRYPTO_INVALID_LENGTH (a length out of range, or an `out` of another length).
   */
  expand(info: Uint8Array, length: number, out?: Uint8Array): Uint8Array;
  /** HKDF-Expand for one block (`length` ≤ 32) with info given in three parts (info = a || b || c); `out` as for expand. */
  expandParts(a: Uint8Array, b: Uint8Array, c: Uint8Array, length: number, out?: Uint8Array): Uint8Array;
  /** Zeroes whatever was derived from the key (states as good as the key) and lets go of it; the caller owns and wipes the PRK itself. */
  destroy(): void;
}

/**
 * Where an expansion of `length` bytes goes: `out` when given (it must have
 * exactly that length), a new array otherwise.
 * @throws MlsError CRYPTO_INVALID_LENGTH for an `out` of another length.
 */
export function outputOf(length: number, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return new Uint8Array(length);
  if (out.length !== length) throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand output must be ${length} bytes, got ${out.length}`);
  return out;
}

/** An HMAC-SHA-256 key with its inner and outer states computed (RFC 2104 §2). */
export class PreparedHmacSha256 implements HkdfSha256Prk {
  readonly #inner = IV.slice();
  readonly #outer = IV.slice();

  constructor(key: Uint8Array) {
    // Keys longer than a block are hashed first (RFC 2104 §2).
    const k = key.length > BLOCK ? sha256(key) : key;
    for (let i = 0; i < BLOCK; i++) block[i] = (k[i] ?? 0) ^ 0x36;
    load(block);
    compress(this.#inner);
    for (let i = 0; i < BLOCK; i++) block[i] = (k[i] ?? 0) ^ 0x5c;
    load(block);
    compress(this.#outer);
    block.fill(0);
    W.fill(0);
    if (k !== key) k.fill(0);
  }

  /** HMAC(key, parts...) written to `out` at `at` (its first `length` bytes, at most 32). */
  #mac(parts: readonly Uint8Array[], out: Uint8Array, at: number, length: number): void {
    state.set(this.#inner);
    finish(state, BLOCK, parts);
    outerHash(this.#outer);
    writeDigest(state, out, at, length);
    state.fill(0);
    W.fill(0);
  }

  mac(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(HASH);
    this.#mac([data], out, 0, HASH);
    return out;
  }

  /** RFC 5869 §2.3 HKDF-Expand with this key as PRK: T(i) = HMAC(PRK, T(i-1) | info | i), L ≤ 255 * 32. */
  expand(info: Uint8Array, length: number, into?: Uint8Array): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > 255 * HASH) throw new MlsError("CRYPTO_INVALID_LENGTH", `HKDF-Expand length ${length} out of range`);
    const out = outputOf(length, into);
    // The common case in MLS: one block, T(1) = HMAC(PRK, info | 0x01).
    if (length <= HASH) {
      this.#mac([info, ONE], out, 0, length);
      return out;
    }
    const counter = new Uint8Array(1);
    let previous: Uint8Array = new Uint8Array(0);
    for (let i = 1, o = 0; o < length; i++, o += HASH) {
      counter[0] = i;
      this.#mac([previous, info, counter], out, o, Math.min(HASH, length - o));
      previous = out.subarray(o, o + HASH);
    }
    return out;
  }

  /** HKDF-Expand for one block (`length` ≤ 32) with info given in three parts (info = a || b || c). */
  expandParts(a: Uint8Array, b: Uint8Array, c: Uint8Array, length: number, into?: Uint8Array): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > HASH) throw new MlsError("CRYPTO_INVALID_LENGTH", `single-block HKDF-Expand length ${length} out of range`);
    const out = outputOf(length, into);
    this.#mac([a, b, c, ONE], out, 0, length);
    return out;
  }

  /** Zeroes the key states (they are as good as the key). */
  destroy(): void {
    this.#inner.fill(0);
    this.#outer.fill(0);
  }
}
