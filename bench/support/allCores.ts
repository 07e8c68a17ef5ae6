/**
 * What the machine's cores deliver together: the in-flight messages' floor
 * spreads a pair's crypto over every core, and on a virtual machine the
 * vCPUs are not alike (here one verified an Ed25519 signature in ~47 µs, the
 * other in ~63 µs, alone or together), so twice the rate of the core the
 * primitives were priced on is not what two cores can do.
 *
 * One thread per core verifies Ed25519 signatures (the bulk of a message
 * pair's crypto), all at once, with the library the provider uses; their
 * verifications per millisecond together, set against the priced cost of one
 * verification, give the cores' worth in units of the priced core
 * (cryptoFloor.ts), whichever core that was.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { sodiumPath } from "../../packages/mls/src/crypto/node/sodium.js";

/**
 * Each thread's loop: libsodium's Ed25519 where installed (the provider's), else node:crypto's.
 * It answers a number of milliseconds with its verifications per millisecond over that long.
 */
const WORKER = `
const crypto = require("node:crypto");
const { parentPort, workerData: { sodiumPath, bytes } } = require("node:worker_threads");
const message = new Uint8Array(bytes).fill(7);
let verify;
if (sodiumPath !== undefined) {
  const sodium = require(sodiumPath);
  const pk = new Uint8Array(32), sk = new Uint8Array(64), sig = new Uint8Array(64);
  sodium.crypto_sign_keypair(pk, sk);
  sodium.crypto_sign_detached(sig, message, sk);
  verify = () => sodium.crypto_sign_verify_detached(sig, message, pk);
} else {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const sig = crypto.sign(null, message, privateKey);
  verify = () => crypto.verify(null, message, publicKey, sig);
}
parentPort.on("message", (ms) => {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 8; i++) verify();
    n += 8;
    now = performance.now();
  }
  parentPort.postMessage(n / (now - start));
});
`;

/** Ed25519 verifications of `bytes`-byte messages per millisecond, every core at once. */
export interface AllCores {
  readonly verifiesPerMs: number;
  readonly bytes: number;
}

/**
 * One thread per core, all verifying at once for `ms`, `rounds` times: the best total rate, as the
 * primitives are priced by their best round (a burst of load elsewhere must not lower a floor).
 */
export async function measureAllCores(bytes: number, ms = 100, rounds = 5, cores = availableParallelism()): Promise<AllCores> {
  const workers = Array.from({ length: cores }, () => new Worker(WORKER, { eval: true, workerData: { sodiumPath, bytes } }));
  const ask = (w: Worker, t: number) => new Promise<number>((resolve) => w.once("message", resolve).postMessage(t));
  try {
    await Promise.all(workers.map((w) => ask(w, 20))); // started and warm
    const totals: number[] = [];
    for (let r = 0; r < rounds; r++) totals.push((await Promise.all(workers.map((w) => ask(w, ms)))).reduce((a, b) => a + b, 0));
    return { verifiesPerMs: Math.max(...totals), bytes };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
