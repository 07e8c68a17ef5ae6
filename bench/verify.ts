/**
 * Per-call cost of signature verification (and X25519) by route: node:crypto
 * by key-import route, @noble/curves, libsodium (run: npx tsx bench/verify.ts).
 * Each iteration uses a fresh key array, as a joiner verifying 1024 leaves does.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, diffieHellman, createPrivateKey } from "node:crypto";
import { performance } from "node:perf_hooks";
import { conclaveImpl } from "./support/conclaveImpl.js";
import { SignatureQueue } from "../packages/mls/src/crypto/node/signatureQueue.js";
import { SignatureWorker } from "../packages/mls/src/crypto/node/signatureWorker.js";
import { ed25519 } from "../packages/mls/node_modules/@noble/curves/ed25519.js";
import { sodium, SODIUM_ED25519 } from "../packages/mls/src/crypto/node/sodium.js";

const N = 2000;
const ED_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const P256_PREFIX = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
const X25519_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

function timeSync(name: string, n: number, f: (i: number) => unknown): void {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  console.log(`${name.padEnd(44)} ${(((performance.now() - t0) * 1000) / n).toFixed(1)} µs/call`);
}
async function timeAsync(name: string, n: number, f: (i: number) => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => f(i)));
  console.log(`${name.padEnd(44)} ${(((performance.now() - t0) * 1000) / n).toFixed(1)} µs/call (wall, batch of ${n})`);
}
const asyncVerify = (alg: string | null, msg: Uint8Array, key: Parameters<typeof verify>[2], sig: Uint8Array): Promise<boolean> =>
  new Promise((res, rej) => verify(alg, msg, key, sig, (e, ok) => (e ? rej(e) : res(ok))));

const msg = new Uint8Array(200).fill(7);

// Ed25519
const ed = Array.from({ length: 64 }, () => {
  const kp = generateKeyPairSync("ed25519");
  const raw = new Uint8Array(Buffer.from(kp.publicKey.export({ format: "jwk" }).x!, "base64url"));
  return { raw, sig: new Uint8Array(sign(null, msg, kp.privateKey)), priv: kp.privateKey };
});
const edAt = (i: number) => ed[i % ed.length]!;
timeSync("Ed25519 (a) JWK import + verify", N, (i) => {
  const { raw, sig } = edAt(i);
  const k = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
  return verify(null, msg, k, sig);
});
timeSync("Ed25519 (b) SPKI KeyObject + verify", N, (i) => {
  const { raw, sig } = edAt(i);
  const k = createPublicKey({ key: Buffer.concat([ED_PREFIX, raw]), format: "der", type: "spki" });
  return verify(null, msg, k, sig);
});
timeSync("Ed25519 (c) SPKI DER passed to verify", N, (i) => {
  const { raw, sig } = edAt(i);
  return verify(null, msg, { key: Buffer.concat([ED_PREFIX, raw]), format: "der", type: "spki" }, sig);
});
const edKeys = ed.map((e) => createPublicKey({ key: Buffer.concat([ED_PREFIX, e.raw]), format: "der", type: "spki" }));
const queue = new SignatureQueue(new SignatureWorker());
const edKo = createPublicKey({ key: Buffer.concat([ED_PREFIX, ed[0]!.raw]), format: "der", type: "spki" });
timeSync("Ed25519 cached KeyObject verify", N, () => verify(null, msg, edKo, ed[0]!.sig));
timeSync("Ed25519 (e) @noble/curves verify", 300, (i) => ed25519.verify(edAt(i).sig, msg, edAt(i).raw));
timeSync("Ed25519 sign (cached private KeyObject)", N, (i) => sign(null, msg, edAt(i).priv));
// libsodium (sodium-native): what the node provider uses for Ed25519 and X25519 where it is installed.
const edSodium = ed.map((e) => {
  const secretKey = new Uint8Array(64);
  const publicKey = new Uint8Array(32);
  sodium?.crypto_sign_seed_keypair(publicKey, secretKey, new Uint8Array(Buffer.from(e.priv.export({ format: "jwk" }).d!, "base64url")));
  return { secretKey, publicKey };
});
if (sodium !== undefined) {
  const lib = sodium;
  timeSync("Ed25519 (g) libsodium verify (raw key)", N, (i) => lib.crypto_sign_verify_detached(edAt(i).sig, msg, edAt(i).raw));
  const out = new Uint8Array(64);
  timeSync("Ed25519 libsodium sign", N, (i) => lib.crypto_sign_detached(out, msg, edSodium[i % edSodium.length]!.secretKey));
} else console.log("libsodium (sodium-native) not installed: its routes are not run");

// ECDSA P-256
const ec = Array.from({ length: 64 }, () => {
  const kp = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = kp.publicKey.export({ format: "jwk" });
  const raw = new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]));
  return { raw, sig: new Uint8Array(sign("sha256", msg, kp.privateKey)) };
});
const ecAt = (i: number) => ec[i % ec.length]!;
const b = (u: Uint8Array) => Buffer.from(u).toString("base64url");
timeSync("P-256 (a) JWK import + verify", N, (i) => {
  const { raw, sig } = ecAt(i);
  const k = createPublicKey({ key: { kty: "EC", crv: "P-256", x: b(raw.subarray(1, 33)), y: b(raw.subarray(33)) }, format: "jwk" });
  return verify("sha256", msg, k, sig);
});
timeSync("P-256 (b) SPKI KeyObject + verify", N, (i) => {
  const { raw, sig } = ecAt(i);
  const k = createPublicKey({ key: Buffer.concat([P256_PREFIX, raw]), format: "der", type: "spki" });
  return verify("sha256", msg, k, sig);
});
timeSync("P-256 (c) SPKI DER passed to verify", N, (i) => {
  const { raw, sig } = ecAt(i);
  return verify("sha256", msg, { key: Buffer.concat([P256_PREFIX, raw]), format: "der", type: "spki" }, sig);
});

// X25519 public key import (HPKE encap to many members)
const xs = Array.from({ length: 64 }, () => {
  const kp = generateKeyPairSync("x25519");
  return new Uint8Array(Buffer.from(kp.publicKey.export({ format: "jwk" }).x!, "base64url"));
});
const eph = generateKeyPairSync("x25519").privateKey;
timeSync("X25519 JWK import + DH", N, (i) => diffieHellman({ privateKey: eph, publicKey: createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b(xs[i % 64]!) }, format: "jwk" }) }));
timeSync("X25519 SPKI import + DH", N, (i) =>
  diffieHellman({ privateKey: eph, publicKey: createPublicKey({ key: Buffer.concat([X25519_PREFIX, xs[i % 64]!]), format: "der", type: "spki" }) }),
);
timeSync("X25519 generateKeyPairSync", N, () => generateKeyPairSync("x25519"));
if (sodium !== undefined) {
  const lib = sodium;
  const sk = new Uint8Array(32).fill(3);
  const shared = new Uint8Array(32);
  timeSync("X25519 libsodium DH (raw key)", N, (i) => lib.crypto_scalarmult(shared, sk, xs[i % 64]!));
  timeSync("X25519 libsodium public key from private", N, () => lib.crypto_scalarmult_base(shared, sk));
}
void createPrivateKey;

async function main(): Promise<void> {
  for (const n of [1024]) {
    await timeAsync("Ed25519 (d) async verify, KeyObject (SPKI)", n, (i) =>
      asyncVerify(null, msg, createPublicKey({ key: Buffer.concat([ED_PREFIX, edAt(i).raw]), format: "der", type: "spki" }), edAt(i).sig),
    );
    await timeAsync("Ed25519 (d) async verify, DER input", n, (i) => asyncVerify(null, msg, { key: Buffer.concat([ED_PREFIX, edAt(i).raw]), format: "der", type: "spki" }, edAt(i).sig));
    await timeAsync("P-256 (d) async verify, KeyObject (SPKI)", n, (i) =>
      asyncVerify("sha256", msg, createPublicKey({ key: Buffer.concat([P256_PREFIX, ecAt(i).raw]), format: "der", type: "spki" }), ecAt(i).sig),
    );
    // The route the node provider takes: shared memory to one worker thread, this thread helping (signatureWorker.ts).
    for (let round = 0; round < 2; round++) {
      const elu0 = performance.eventLoopUtilization();
      await timeAsync(`Ed25519 (f) worker + this thread, cached keys${round === 0 ? " (cold)" : ""}`, n, (i) =>
        queue.request(() => ({ kind: "verify", algorithm: null, key: edKeys[i % edKeys.length]!, message: msg, signature: edAt(i).sig })),
      );
      console.log(`  main thread busy ${((performance.eventLoopUtilization(elu0).active * 1000) / n).toFixed(1)} µs/call`);
    }
    if (sodium !== undefined) {
      const rawKeys = ed.map((e) => e.raw.slice());
      for (let round = 0; round < 2; round++) {
        const elu0 = performance.eventLoopUtilization();
        await timeAsync(`Ed25519 (h) worker + this thread, libsodium${round === 0 ? " (cold)" : ""}`, n, (i) =>
          queue.request(() => ({ kind: "verify", algorithm: SODIUM_ED25519, key: rawKeys[i % rawKeys.length]!, message: msg, signature: edAt(i).sig })),
        );
        console.log(`  main thread busy ${((performance.eventLoopUtilization(elu0).active * 1000) / n).toFixed(1)} µs/call`);
      }
    }
    await timeAsync("Ed25519 (d) libuv pool, cached keys", n, (i) => asyncVerify(null, msg, edKeys[i % edKeys.length]!, edAt(i).sig));
  }
}
/** Group.join at N members (suite 1, node provider): wall, main-thread busy time and CPU over all threads. */
async function join(n: number): Promise<void> {
  const impl = conclaveImpl(1);
  const g = await impl.create();
  const kps = [];
  for (let i = 1; i < n; i++) kps.push(await impl.keyPackage(i));
  const t0 = performance.now();
  const { welcome, ratchetTree } = await impl.add(g, kps, "outOfBand");
  console.log(`add ${n - 1} members in one commit: ${(performance.now() - t0).toFixed(0)} ms`);
  const runs: string[] = [];
  for (let r = 0; r < 5; r++) {
    const elu0 = performance.eventLoopUtilization();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await impl.join(welcome, kps[0]!, ratchetTree);
    const wall = performance.now() - w0;
    const c = process.cpuUsage(c0);
    const busy = performance.eventLoopUtilization(elu0).active;
    runs.push(`wall ${wall.toFixed(0)} ms, main thread ${busy.toFixed(0)} ms, cpu ${((c.user + c.system) / 1000).toFixed(0)} ms`);
  }
  console.log(`join at ${n}:\n  ${runs.join("\n  ")}`);
}

void main().then(() => (process.argv.includes("--join") ? join(1024) : undefined));
