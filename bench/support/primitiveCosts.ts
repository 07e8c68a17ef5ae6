/**
 * Cost of each crypto primitive an MLS operation cannot avoid, measured in
 * the same run with Conclave's node provider (the fastest we have: libsodium,
 * the native SHA-256 addon, OpenSSL), so the benchmark can print the floor an
 * operation could reach if everything but the crypto were free
 * (bench/support/cryptoFloor.ts says which primitives each operation needs).
 */
import type { CipherSuite } from "../../packages/mls/src/crypto/cipherSuite.js";
import type { AllCores } from "./allCores.js";

/** Milliseconds for an input of `bytes`: fixed + perByte x bytes, from two measured sizes. */
export interface Linear {
  readonly fixed: number;
  readonly perByte: number;
}

export const at = (l: Linear, bytes: number): number => l.fixed + l.perByte * bytes;

export interface PrimitiveCosts {
  /** Milliseconds per operation. */
  readonly deriveKeyPair: number;
  /**
   * HPKE SealBase of a path secret to one of several recipients under the same info (its
   * info_hash computed once beforehand, as for a commit's or a Welcome's recipients), and
   * OpenBase under a short info.
   */
  readonly hpkeSeal: number;
  readonly hpkeOpen: number;
  /** One HKDF step with an Nh-byte output and a short info: ExpandWithLabel, DeriveSecret, Extract. */
  readonly kdf: number;
  readonly sign: Linear;
  readonly verify: Linear;
  readonly aeadSeal: Linear;
  readonly aeadOpen: Linear;
  readonly hash: Linear;
  readonly mac: Linear;
  /** What every core verifies at once (allCores.ts), where the step needs it: the in-flight messages' floor. */
  readonly allCores?: AllCores;
}

/** Milliseconds per call: the best of several short rounds, so a burst of load from other processes does not inflate the floor. */
async function perOp(run: () => unknown, ms: number): Promise<number> {
  for (let i = 0; i < 20; i++) await run();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms / 5) {
      for (let i = 0; i < 8; i++) await run();
      n += 8;
      now = performance.now();
    }
    best = Math.min(best, (now - start) / n);
  }
  return best;
}

/** The small size is where the fixed cost dominates; 16 KiB gives the per-byte rate. */
const SMALL = 64;
const LARGE = 16384;

async function linear(make: (bytes: number) => Promise<() => unknown>, ms: number): Promise<Linear> {
  const small = await perOp(await make(SMALL), ms / 2);
  const large = await perOp(await make(LARGE), ms / 2);
  const perByte = Math.max(0, (large - small) / (LARGE - SMALL));
  return { fixed: Math.max(0, small - perByte * SMALL), perByte };
}

export async function measurePrimitives(s: CipherSuite, ms = 150): Promise<PrimitiveCosts> {
  const ikm = s.randomBytes(s.params.nh);
  const hpke = await s.hpkeGenerateKeyPair();
  const info = s.randomBytes(64);
  const pt = s.randomBytes(s.params.nh + 1); // a path secret, as the UpdatePathNode carries it
  const none = new Uint8Array(0);
  const ct = await s.hpkeSeal(hpke.publicKey, info, none, pt);
  const sealer = s.hpkeSealer(info);
  const sig = await s.signatureGenerateKeyPair();
  const key = s.randomBytes(s.params.nk);
  const nonce = s.randomBytes(s.params.nn);
  const prk = s.randomBytes(s.params.nh);
  const kdfInfo = s.randomBytes(24); // a KDFLabel: length, "MLS 1.0 " + label, empty context
  return {
    deriveKeyPair: await perOp(() => s.hpkeDeriveKeyPair(ikm), ms),
    hpkeSeal: await perOp(() => sealer(hpke.publicKey, none, pt), ms),
    hpkeOpen: await perOp(() => s.hpkeOpen(hpke.privateKey, ct.kemOutput, info, none, ct.ciphertext), ms),
    kdf: await perOp(() => s.kdfExpand(prk, kdfInfo, s.params.nh), ms),
    sign: await linear(async (n) => {
      const m = s.randomBytes(n);
      return () => s.sign(sig.privateKey, m);
    }, ms),
    verify: await linear(async (n) => {
      const m = s.randomBytes(n);
      const signature = await s.sign(sig.privateKey, m);
      return () => s.verify(sig.publicKey, m, signature);
    }, ms),
    // The synchronous AEAD where the provider has it (the message path uses it), else the async one.
    aeadSeal: await linear(async (n) => {
      const m = s.randomBytes(n);
      const sealNow = s.aeadSealNow;
      return sealNow === undefined ? () => s.aeadSeal(key, nonce, none, m) : () => sealNow(key, nonce, none, m);
    }, ms),
    aeadOpen: await linear(async (n) => {
      const c = await s.aeadSeal(key, nonce, none, s.randomBytes(n));
      const openNow = s.aeadOpenNow;
      return openNow === undefined ? () => s.aeadOpen(key, nonce, none, c) : () => openNow(key, nonce, none, c);
    }, ms),
    hash: await linear(async (n) => {
      const m = s.randomBytes(n);
      return () => s.hash(m);
    }, ms),
    mac: await linear(async (n) => {
      const m = s.randomBytes(n);
      return () => s.mac(prk, m);
    }, ms),
  };
}

/** Each price the least of its measurements (a linear one's fixed and per-byte parts each): a floor priced several times. */
export function bestCosts(ps: readonly PrimitiveCosts[]): PrimitiveCosts {
  if (ps.length === 0) throw new Error("no prices");
  const one = (k: "deriveKeyPair" | "hpkeSeal" | "hpkeOpen" | "kdf") => Math.min(...ps.map((p) => p[k]));
  const line = (k: "sign" | "verify" | "aeadSeal" | "aeadOpen" | "hash" | "mac"): Linear => ({
    fixed: Math.min(...ps.map((p) => p[k].fixed)),
    perByte: Math.min(...ps.map((p) => p[k].perByte)),
  });
  const cores = ps.flatMap((p) => (p.allCores === undefined ? [] : [p.allCores]));
  const best = {
    deriveKeyPair: one("deriveKeyPair"),
    hpkeSeal: one("hpkeSeal"),
    hpkeOpen: one("hpkeOpen"),
    kdf: one("kdf"),
    sign: line("sign"),
    verify: line("verify"),
    aeadSeal: line("aeadSeal"),
    aeadOpen: line("aeadOpen"),
    hash: line("hash"),
    mac: line("mac"),
  };
  // The cores' best total rate, in the same units as the (least) verification price.
  return cores.length === 0 ? best : { ...best, allCores: cores.reduce((a, b) => (b.verifiesPerMs > a.verifiesPerMs ? b : a)) };
}
