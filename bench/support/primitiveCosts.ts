/**
 * Cost of each crypto primitive an MLS operation cannot avoid, measured in
 * the same run with Conclave's node provider (the fastest we have), so the
 * benchmark can print the floor an operation could reach if everything but
 * the public-key and symmetric crypto were free.
 */
import type { CipherSuite } from "../../packages/mls/src/crypto/cipherSuite.js";

/**
 * What a member signs for a 1 KiB application message in the bench's groups (suite 1): the
 * SignContent (RFC 9420 §5.1.2) "MLS 1.0 FramedContentTBS" (25 bytes with its length) and the
 * FramedContentTBS (§6.1, 2 bytes of length): version, wire format, group id (32 + 1), epoch,
 * sender, authenticated data, content type, the 1,024 bytes (+ 2), 1,078 bytes in all, and
 * the GroupContext (112 bytes with no extensions). Four times the 256 bytes other signatures
 * are priced at; Ed25519 hashes all of it twice to sign and once to verify.
 */
const MESSAGE_TBS_BYTES = 25 + 2 + 1078 + 112;

export interface PrimitiveCosts {
  /** Milliseconds per operation. */
  readonly deriveKeyPair: number;
  readonly hpkeSeal: number;
  readonly hpkeOpen: number;
  readonly sign: number;
  readonly verify: number;
  /** Sign and verify over what a 1 KiB application message signs (its FramedContentTBS, RFC 9420 §6.1). */
  readonly signMessage: number;
  readonly verifyMessage: number;
  /** Seal + open of 1 KiB. */
  readonly aead1k: number;
  /** Seal + open of a sender-data sized payload (12 bytes). */
  readonly aeadSmall: number;
  readonly expandWithLabel: number;
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

export async function measurePrimitives(s: CipherSuite, ms = 150): Promise<PrimitiveCosts> {
  const ikm = s.randomBytes(s.params.nh);
  const hpke = await s.hpkeGenerateKeyPair();
  const info = s.randomBytes(64);
  const pt = s.randomBytes(s.params.nh + 16); // a path secret-sized plaintext
  const none = new Uint8Array(0);
  const ct = await s.hpkeSeal(hpke.publicKey, info, none, pt);
  const sig = await s.signatureGenerateKeyPair();
  const msg = s.randomBytes(256);
  const signature = await s.sign(sig.privateKey, msg);
  const framed = s.randomBytes(MESSAGE_TBS_BYTES);
  const framedSignature = await s.sign(sig.privateKey, framed);
  const key = s.randomBytes(s.params.nk);
  const nonce = s.randomBytes(s.params.nn);
  const k1 = s.randomBytes(1024);
  const small = s.randomBytes(12);
  const secret = s.randomBytes(s.params.nh);
  return {
    deriveKeyPair: await perOp(() => s.hpkeDeriveKeyPair(ikm), ms),
    hpkeSeal: await perOp(() => s.hpkeSeal(hpke.publicKey, info, none, pt), ms),
    hpkeOpen: await perOp(() => s.hpkeOpen(hpke.privateKey, ct.kemOutput, info, none, ct.ciphertext), ms),
    sign: await perOp(() => s.sign(sig.privateKey, msg), ms),
    verify: await perOp(() => s.verify(sig.publicKey, msg, signature), ms),
    signMessage: await perOp(() => s.sign(sig.privateKey, framed), ms),
    verifyMessage: await perOp(() => s.verify(sig.publicKey, framed, framedSignature), ms),
    aead1k: await perOp(async () => s.aeadOpen(key, nonce, none, await s.aeadSeal(key, nonce, none, k1)), ms),
    aeadSmall: await perOp(async () => s.aeadOpen(key, nonce, none, await s.aeadSeal(key, nonce, none, small)), ms),
    expandWithLabel: await perOp(() => s.expandWithLabel(secret, "key", none, s.params.nk), ms),
  };
}
