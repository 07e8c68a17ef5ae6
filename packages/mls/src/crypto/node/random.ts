/** Random bytes for the node provider, from OpenSSL (node:crypto). */
import { randomFillSync } from "node:crypto";

/**
 * Small requests (a PrivateMessage's 4-byte reuse guard, 32-byte seeds, HPKE
 * ephemeral and other private keys) are cut from a pool filled by one
 * OpenSSL call: a randomFillSync per request cost about 5 µs (one per member
 * added, for its Welcome's HPKE). Bytes handed out are zeroed in the pool, so
 * no copy of them stays behind.
 */
const RANDOM_POOL_SIZE = 4096;
const MAX_POOLED_RANDOM = 64;
const randomPool = new Uint8Array(RANDOM_POOL_SIZE);
let randomPoolOffset = RANDOM_POOL_SIZE;

export function randomBytes(length: number): Uint8Array {
  if (length > MAX_POOLED_RANDOM) return randomFillSync(new Uint8Array(length));
  if (randomPoolOffset + length > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const out = randomPool.slice(randomPoolOffset, randomPoolOffset + length);
  randomPool.fill(0, randomPoolOffset, randomPoolOffset + length);
  randomPoolOffset += length;
  return out;
}
