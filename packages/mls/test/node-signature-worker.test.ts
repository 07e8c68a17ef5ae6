/**
 * The node provider shares signatures asked for together with a worker thread
 * (crypto/node/signatureWorker.ts). A batch must answer each request exactly
 * as a lone request does: valid, bad signature, wrong-length signature,
 * malformed key (rejected with CRYPTO_INVALID_KEY), in any mix and order; a
 * batch of signatures must be the signatures; and a worker that goes away
 * must not lose a request.
 */
import { describe, expect, it } from "vitest";
import { CIPHER_SUITE_IDS, nodeCryptoProvider } from "../src/crypto/index.js";
import { MlsError } from "../src/errors.js";
import { SignatureQueue } from "../src/crypto/node/signatureQueue.js";
import { SignatureWorker } from "../src/crypto/node/signatureWorker.js";
import { nodeEd25519Backend } from "../src/crypto/node/index.js";
import { SODIUM_ED25519 } from "../src/crypto/node/sodium.js";
import { createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

const PROBE = fileURLToPath(new URL("./support/signatureWorkerProbe.ts", import.meta.url));

/** Runs the probe in a child process (so the provider starts fresh with `env`); its output. */
function probe(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", PROBE], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
  });
}

type Case = { pk: Uint8Array; msg: Uint8Array; sig: Uint8Array; expected: boolean | "CRYPTO_INVALID_KEY" };

describe("node provider: signatures shared with a worker thread", () => {
  for (const id of CIPHER_SUITE_IDS) {
    it(`suite ${id}: a mixed batch of 200 answers like one-by-one verification`, async () => {
      const suite = nodeCryptoProvider.suite(id);
      const keys = await Promise.all(Array.from({ length: 8 }, () => suite.signatureGenerateKeyPair()));
      const cases: Case[] = [];
      for (let i = 0; i < 200; i++) {
        const kp = keys[i % keys.length]!;
        const msg = suite.randomBytes(1 + (i % 50));
        const sig = await suite.sign(kp.privateKey, msg);
        switch (i % 5) {
          case 0:
          case 1:
            cases.push({ pk: kp.publicKey, msg, sig, expected: true });
            break;
          case 2: {
            const bad = sig.slice();
            bad[bad.length >> 1]! ^= 1;
            cases.push({ pk: kp.publicKey, msg, sig: bad, expected: false });
            break;
          }
          case 3:
            cases.push({ pk: keys[(i + 1) % keys.length]!.publicKey, msg, sig: sig.subarray(0, sig.length - 1), expected: false });
            break;
          case 4:
            cases.push({ pk: kp.publicKey.subarray(1), msg, sig, expected: "CRYPTO_INVALID_KEY" });
            break;
        }
      }
      // All started in one synchronous run: shared between the worker and this thread.
      const answer = (c: Case): Promise<boolean | string> => suite.verify(c.pk, c.msg, c.sig).catch((e: unknown) => (e instanceof MlsError ? e.code : String(e)));
      const answers = await Promise.all(cases.map(answer));
      expect(answers).toEqual(cases.map((c) => c.expected));
      // Alone (a batch of one, verified inline), each gives the same answer.
      for (const c of cases) {
        expect(await answer(c)).toBe(c.expected);
      }
    });
  }

  for (const id of CIPHER_SUITE_IDS) {
    it(`suite ${id}: 300 signatures made together verify, and EdDSA ones equal the ones made alone`, async () => {
      const suite = nodeCryptoProvider.suite(id);
      const keys = await Promise.all(Array.from({ length: 3 }, () => suite.signatureGenerateKeyPair()));
      const msgs = Array.from({ length: 300 }, (_, i) => suite.randomBytes(1 + ((i * 37) % 2000)));
      const sigs = await Promise.all(msgs.map((m, i) => suite.sign(keys[i % 3]!.privateKey, m)));
      const checks = await Promise.all(msgs.map((m, i) => suite.verify(keys[i % 3]!.publicKey, m, sigs[i]!)));
      expect(checks.every((ok) => ok)).toBe(true);
      // A signature of another message never verifies: the answers are not shuffled between requests.
      const crossed = await Promise.all(msgs.map((m, i) => suite.verify(keys[i % 3]!.publicKey, m, sigs[(i + 3) % sigs.length]!)));
      expect(crossed.some((ok) => ok)).toBe(false);
      if (suite.params.signature === "Ed25519" || suite.params.signature === "Ed448") {
        for (let i = 0; i < 300; i += 29) expect(sigs[i]).toEqual(await suite.sign(keys[i % 3]!.privateKey, msgs[i]!));
      }
    });
  }

  it("a worker closed in the middle of a batch loses nothing: its requests are answered here", async () => {
    const worker = new SignatureWorker();
    const queue = new SignatureQueue(worker);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const msgs = Array.from({ length: 400 }, (_, i) => new Uint8Array(500).fill(i & 0xff));
    const signing = msgs.map((m) => queue.request(() => ({ kind: "sign", algorithm: null, key: privateKey, message: m })));
    await worker.close();
    const sigs = (await Promise.all(signing)) as Uint8Array[];
    sigs.forEach((s, i) => expect(Buffer.from(s)).toEqual(nodeSign(null, msgs[i]!, privateKey)));
    // After the close everything runs inline, answers unchanged.
    const oks = await Promise.all(msgs.map((m, i) => queue.request(() => ({ kind: "verify", algorithm: null, key: publicKey, message: m, signature: sigs[i]! }))));
    expect(oks.every((ok) => ok === true)).toBe(true);
    expect(nodeVerify(null, msgs[0]!, publicKey, sigs[1]!)).toBe(false);
  });

  it("more requests than the worker's slots at once are all answered", async () => {
    const queue = new SignatureQueue(new SignatureWorker());
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const msg = new Uint8Array([1, 2, 3]);
    const sig = nodeSign(null, msg, privateKey);
    const bad = Uint8Array.from(sig);
    bad[0]! ^= 1;
    const answers = await Promise.all(
      Array.from({ length: 5000 }, (_, i) => queue.request(() => ({ kind: "verify", algorithm: null, key: publicKey, message: msg, signature: i % 2 === 0 ? sig : bad }))),
    );
    expect(answers.filter((a) => a === true).length).toBe(2500);
    answers.forEach((a, i) => expect(a).toBe(i % 2 === 0));
  });

  it("messages larger than the shared ring holds at once, batch after batch (the ring wraps), are all signed right", async () => {
    const worker = new SignatureWorker();
    const queue = new SignatureQueue(worker);
    const { privateKey } = generateKeyPairSync("ed25519");
    // Waves of 40 x ~40 KiB (~1.7 MiB), the next wave sent while the two before it are still out: the 4 MiB
    // ring fills, wraps around behind the oldest unanswered request, and sends what finds no room inline.
    const waves: Promise<void>[] = [];
    for (let wave = 0; wave < 12; wave++) {
      const msgs = Array.from({ length: 40 }, (_, i) => new Uint8Array(40_000 + ((i * 997 + wave * 13) % 5000)).fill((i + wave) & 0xff));
      const signing = Promise.all(msgs.map((m) => queue.request(() => ({ kind: "sign", algorithm: null, key: privateKey, message: m }))));
      waves.push(
        signing.then((sigs) => {
          sigs.forEach((sig, i) => expect(Buffer.from(sig as Uint8Array).equals(nodeSign(null, msgs[i]!, privateKey))).toBe(true));
        }),
      );
      if (wave >= 2) await waves[wave - 2];
    }
    await Promise.all(waves);
  });

  it("messages at every byte alignment, across ring wraps, are signed and verified as inline", async () => {
    // The ring places each message at its own alignment modulo 8 (and the worker copies it out alike): views at
    // offsets 0-7 of one buffer, in waves that keep the ring wrapping, must sign and verify exactly as alone.
    const suite = nodeCryptoProvider.suite(1);
    const { privateKey, publicKey } = await suite.signatureGenerateKeyPair();
    const jwk = { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") };
    const pk = createPublicKey({ key: jwk, format: "jwk" });
    const waves: Promise<void>[] = [];
    for (let wave = 0; wave < 10; wave++) {
      const msgs = Array.from({ length: 48 }, (_, i) => {
        const skew = (i + wave) & 7;
        const length = 30_000 + ((i * 389 + wave * 7) % 3000);
        const backing = new Uint8Array(length + 8);
        for (let j = 0; j < backing.length; j++) backing[j] = (j * 31 + i + wave) & 0xff;
        return backing.subarray(skew, skew + length);
      });
      const sigs = await Promise.all(msgs.map((m) => suite.sign(privateKey, m)));
      sigs.forEach((sig, i) => expect([i, nodeVerify(null, msgs[i]!, pk, sig)]).toEqual([i, true]));
      const checks = msgs.map((m, i) => {
        const sig = sigs[i]!.slice();
        if (i % 3 === 0) sig[i % 64]! ^= 1;
        return suite.verify(publicKey, m, sig);
      });
      waves.push(Promise.all(checks).then((oks) => oks.forEach((ok, i) => expect([i, ok]).toEqual([i, i % 3 !== 0]))));
      if (wave >= 2) await waves[wave - 2];
    }
    await Promise.all(waves);
  });

  it("the provider's worker answers batches in a fresh process, which then exits; CONCLAVE_SIGNATURE_WORKER=0 keeps all inline; CONCLAVE_SODIUM=0 keeps Ed25519 on node:crypto", async () => {
    // 64 signs then 64 verifies: every one of the 128 goes through the worker's queue (answered there or here); the process exits by itself.
    const shared = availableParallelism() > 1 ? "worker 128" : "inline";
    // sodium-native ships a binary for this platform (linux-x64 in CI): it must load, or the fast path is silently lost.
    expect(await probe({})).toBe(`${shared} libsodium`);
    expect(await probe({ CONCLAVE_SIGNATURE_WORKER: "0" })).toBe("inline libsodium");
    expect(await probe({ CONCLAVE_SODIUM: "0" })).toBe(`${shared} node:crypto`);
  }, 60_000);

  it("keys beyond the worker's limit: the least recently used are dropped there, and a key in use keeps its requests on the worker", async () => {
    const worker = new SignatureWorker({ keyLimit: 4 });
    const queue = new SignatureQueue(worker);
    const pairs = Array.from({ length: 12 }, () => generateKeyPairSync("ed25519"));
    const msg = new Uint8Array(300).fill(9);
    const sigs = pairs.map((p) => nodeSign(null, msg, p.privateKey));
    const verify = (k: number, s: number) => queue.request(() => ({ kind: "verify", algorithm: null, key: pairs[k]!.publicKey, message: msg, signature: sigs[s]! }));
    // One batch naming 12 keys round robin: ids are dropped and keys sent again while requests naming them are queued.
    const mixed = await Promise.all(Array.from({ length: 240 }, (_, i) => verify(i % 12, i % 5 === 0 ? (i + 1) % 12 : i % 12)));
    mixed.forEach((ok, i) => expect([i, ok]).toEqual([i, i % 5 !== 0]));
    expect(worker.stats().workerKeys).toBe(4);
    // Key 0 was used first and has been dropped since: a batch with it must still be work for the worker. This
    // thread blocks until the worker has spent time on it (a worker that lacked the key would leave it all here).
    const busyBefore = worker.stats().workerBusyMs;
    const batch = Array.from({ length: 100 }, (_, i) => verify(0, i % 7 === 0 ? 1 : 0));
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (const deadline = Date.now() + 10_000; worker.stats().workerBusyMs === busyBefore && Date.now() < deadline;) Atomics.wait(nap, 0, 0, 1);
    expect(worker.stats().workerBusyMs).toBeGreaterThan(busyBefore);
    (await Promise.all(batch)).forEach((ok, i) => expect(ok).toBe(i % 7 !== 0));
    await worker.close();
  });

  it("libsodium verifications carry their public keys in the shared ring: no key goes to the worker, answers unchanged", async () => {
    if (nodeEd25519Backend() !== "libsodium") return;
    const worker = new SignatureWorker();
    const queue = new SignatureQueue(worker);
    const suite = nodeCryptoProvider.suite(1);
    const pairs = await Promise.all(Array.from({ length: 16 }, () => suite.signatureGenerateKeyPair()));
    const msgs = Array.from({ length: 600 }, (_, i) => new Uint8Array(100 + (i % 300)).fill(i & 0xff));
    const sigs = await Promise.all(msgs.map((m, i) => suite.sign(pairs[i % 16]!.privateKey, m)));
    // A fresh key array per request (as a decoded tree gives), every seventh under another member's key.
    const answers = await Promise.all(
      msgs.map((m, i) =>
        queue.request(() => ({ kind: "verify", algorithm: SODIUM_ED25519, key: pairs[(i % 7 === 0 ? i + 1 : i) % 16]!.publicKey.slice(), message: m, signature: sigs[i]! })),
      ),
    );
    answers.forEach((ok, i) => expect([i, ok]).toEqual([i, i % 7 !== 0]));
    const s = worker.stats();
    expect(s.workerKeys).toBe(0);
    expect(s.byWorker + s.byThisThread + s.duplicated).toBe(600);
    await worker.close();
  });

  for (const spinMicroseconds of [0, 2000]) {
    it(`a worker that looks for work ${spinMicroseconds} µs before sleeping still wakes for each later batch`, async () => {
      const worker = new SignatureWorker({ spinMicroseconds });
      const queue = new SignatureQueue(worker);
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const msg = new Uint8Array(100).fill(3);
      const sig = nodeSign(null, msg, privateKey);
      const bad = Uint8Array.from(sig);
      bad[5]! ^= 0x10;
      const nap = new Int32Array(new SharedArrayBuffer(4));
      for (let batch = 0; batch < 3; batch++) {
        // Past the spin: the worker is asleep when the batch comes.
        await new Promise((r) => setTimeout(r, 20));
        const busyBefore = worker.stats().workerBusyMs;
        const answers = Promise.all(
          Array.from({ length: 50 }, (_, i) => queue.request(() => ({ kind: "verify", algorithm: null, key: publicKey, message: msg, signature: i % 3 === 0 ? bad : sig }))),
        );
        // This thread blocks, so it takes nothing: only a worker that woke can spend time on the batch.
        for (const deadline = Date.now() + 10_000; worker.stats().workerBusyMs === busyBefore && Date.now() < deadline;) Atomics.wait(nap, 0, 0, 1);
        expect([batch, worker.stats().workerBusyMs > busyBefore]).toEqual([batch, true]);
        (await answers).forEach((ok, i) => expect([batch, i, ok]).toEqual([batch, i, i % 3 !== 0]));
      }
      // Once past its spin the worker sleeps: over 200 ms idle the process uses far less than 200 ms of CPU
      // (a worker that kept looking would use all of it).
      await new Promise((r) => setTimeout(r, 20));
      const before = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 200));
      const used = process.cpuUsage(before);
      expect((used.user + used.system) / 1000).toBeLessThan(100);
      await worker.close();
    });
  }

  it("many small batches in a row: requests answered here while the worker still had them keep their slots until it lets go", async () => {
    const worker = new SignatureWorker();
    const queue = new SignatureQueue(worker);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const msgs = Array.from({ length: 8 }, (_, i) => new Uint8Array(200).fill(i));
    const sigs = msgs.map((m) => nodeSign(null, m, privateKey));
    // Two requests a batch: the worker takes the first, this thread the second and then the first again.
    // A late answer written into a reused slot would flip a later batch's result; valid and invalid alternate.
    for (let round = 0; round < 300; round++) {
      const a = round % 8;
      const b = (round + 3) % 8;
      const [okA, okB] = await Promise.all([
        queue.request(() => ({ kind: "verify", algorithm: null, key: publicKey, message: msgs[a]!, signature: sigs[round % 2 === 0 ? a : b]! })),
        queue.request(() => ({ kind: "verify", algorithm: null, key: publicKey, message: msgs[b]!, signature: sigs[round % 3 === 0 ? a : b]! })),
      ]);
      expect([round, okA, okB]).toEqual([round, round % 2 === 0, round % 3 !== 0]);
    }
    const s = worker.stats();
    expect(s.byWorker + s.byThisThread + s.duplicated).toBe(600);
  });
});
