/**
 * Per-primitive throughput of the two crypto providers.
 *
 *   npm run bench:crypto            suites 1, 2, 3
 *   npm run bench:crypto -- --all   all seven suites
 *   BENCH_MS=500 npm run bench:crypto   longer (steadier) samples
 *
 * Each cell runs the operation back to back for BENCH_MS milliseconds (after a
 * short warm-up) and reports operations per second. Then AES-128-GCM's two
 * routes on Node: the native addon (packages/native-crypto) against
 * node:crypto's Cipher objects, at a SenderData's size and at 1 KiB.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { CIPHER_SUITE_IDS, nodeCryptoProvider, webCryptoProvider } from "../packages/mls/src/crypto/index.js";
import { nativeCrypto } from "../packages/mls/src/crypto/node/nativeCrypto.js";
import type { CipherSuite, CipherSuiteId, CryptoProvider } from "../packages/mls/src/crypto/index.js";

const SAMPLE_MS = Number(process.env.BENCH_MS ?? 200);
const suiteIds: readonly CipherSuiteId[] = process.argv.includes("--all") ? CIPHER_SUITE_IDS : [1, 2, 3];
const providers: readonly CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

type Op = () => unknown;
interface Primitive {
  name: string;
  /** Builds the operation for one suite (key material prepared outside the timed loop). */
  setup(s: CipherSuite): Promise<Op>;
}

const primitives: readonly Primitive[] = [
  {
    name: "sign",
    async setup(s) {
      const kp = await s.signatureGenerateKeyPair();
      const msg = s.randomBytes(256);
      return () => s.sign(kp.privateKey, msg);
    },
  },
  {
    name: "verify",
    async setup(s) {
      const kp = await s.signatureGenerateKeyPair();
      const msg = s.randomBytes(256);
      const sig = await s.sign(kp.privateKey, msg);
      return async () => {
        if (!(await s.verify(kp.publicKey, msg, sig))) throw new Error("verify failed");
      };
    },
  },
  {
    name: "HPKE seal",
    async setup(s) {
      const kp = await s.hpkeGenerateKeyPair();
      const info = s.randomBytes(64);
      const pt = s.randomBytes(64);
      return () => s.hpkeSeal(kp.publicKey, info, new Uint8Array(0), pt);
    },
  },
  {
    name: "HPKE open",
    async setup(s) {
      const kp = await s.hpkeGenerateKeyPair();
      const info = s.randomBytes(64);
      const ct = await s.hpkeSeal(kp.publicKey, info, new Uint8Array(0), s.randomBytes(64));
      return () => s.hpkeOpen(kp.privateKey, ct.kemOutput, info, new Uint8Array(0), ct.ciphertext);
    },
  },
  {
    name: "AEAD seal+open 1 KiB",
    async setup(s) {
      const key = s.randomBytes(s.params.nk);
      const nonce = s.randomBytes(s.params.nn);
      const aad = s.randomBytes(32);
      const pt = s.randomBytes(1024);
      return async () => s.aeadOpen(key, nonce, aad, await s.aeadSeal(key, nonce, aad, pt));
    },
  },
  {
    name: "expandWithLabel",
    async setup(s) {
      const secret = s.randomBytes(s.params.nh);
      const context = s.randomBytes(32);
      return () => s.expandWithLabel(secret, "key", context, s.params.nk);
    },
  },
  {
    // What a message does per secret: prepare once, expand three times (key, nonce, next
    // secret). SHA-256 suites use the hand-written prepared HMAC (crypto/hmacSha256.ts); the
    // row above is the provider's own HMAC for one expansion.
    name: "kdfExpander: prepare + 3 expansions",
    async setup(s) {
      const secret = s.randomBytes(s.params.nh);
      const context = s.randomBytes(32);
      return () => {
        const e = s.kdfExpander(secret);
        e.expandWithLabel("key", context, s.params.nk);
        e.expandWithLabel("nonce", context, s.params.nn);
        e.expandWithLabel("secret", context, s.params.nh);
        e.destroy();
      };
    },
  },
  {
    name: "DeriveKeyPair",
    async setup(s) {
      const ikm = s.randomBytes(s.params.nh);
      return () => s.hpkeDeriveKeyPair(ikm);
    },
  },
];

async function opsPerSecond(op: Op): Promise<number> {
  const warmUntil = performance.now() + Math.min(50, SAMPLE_MS / 4);
  do await op();
  while (performance.now() < warmUntil);
  const start = performance.now();
  let n = 0;
  let now: number;
  do {
    await op();
    n++;
    now = performance.now();
  } while (now - start < SAMPLE_MS);
  return (n * 1000) / (now - start);
}

const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1));

async function main(): Promise<void> {
  const t0 = performance.now();
  const rows: string[][] = [["suite", "primitive", ...providers.map((p) => `${p.name} ops/s`), "node/web"]];
  for (const id of suiteIds) {
    for (const prim of primitives) {
      const rates: number[] = [];
      for (const p of providers) rates.push(await opsPerSecond(await prim.setup(p.suite(id))));
      const [node, web] = rates as [number, number];
      rows.push([`${id} ${nodeCryptoProvider.suite(id).params.name}`, prim.name, ...rates.map(fmt), `${(node / web).toFixed(1)}x`]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  console.log(`crypto primitives, ${SAMPLE_MS} ms per cell, Node ${process.version}`);
  console.log(line(rows[0]!));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) console.log(line(r));
  await aesGcmRoutes();
  console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

/** AES-128-GCM seal+open: one native call each against a node:crypto Cipher object each (what the node provider did before). */
async function aesGcmRoutes(): Promise<void> {
  const s = nodeCryptoProvider.suite(1);
  const key = s.randomBytes(16);
  const nonce = s.randomBytes(12);
  const aad = s.randomBytes(32);
  console.log("\nAES-128-GCM seal+open on Node, ops/s");
  for (const size of [12, 1024]) {
    const pt = s.randomBytes(size);
    const cipherObjects = () => {
      const c = createCipheriv("aes-128-gcm", key, nonce);
      c.setAAD(aad);
      const ct = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      const d = createDecipheriv("aes-128-gcm", key, nonce);
      d.setAuthTag(ct.subarray(size));
      d.setAAD(aad);
      return Buffer.concat([d.update(ct.subarray(0, size)), d.final()]);
    };
    const native = nativeCrypto;
    const viaAddon =
      native === undefined
        ? undefined
        : () => {
            const ct = new Uint8Array(size + 16);
            const out = new Uint8Array(size);
            if (!native.aesGcmSeal(0, key, nonce, aad, pt, ct) || !native.aesGcmOpen(0, key, nonce, aad, ct, out)) throw new Error("native AES-GCM failed");
            return out;
          };
    const objects = await opsPerSecond(cipherObjects);
    const addon = viaAddon === undefined ? undefined : await opsPerSecond(viaAddon);
    console.log(
      `  ${String(size).padStart(4)} B: node:crypto Cipher ${fmt(objects)}, native addon ${addon === undefined ? "not built" : `${fmt(addon)} (${(addon / objects).toFixed(1)}x)`}`,
    );
  }
}

await main();
