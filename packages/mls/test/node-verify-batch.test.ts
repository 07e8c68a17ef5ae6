/**
 * The node provider verifies signatures asked for together on the thread pool
 * (crypto/node/verifyBatch.ts). A batch must answer each request exactly as a
 * lone request does: valid, bad signature, wrong-length signature, malformed
 * key (rejected with CRYPTO_INVALID_KEY), in any mix and order.
 */
import { describe, expect, it } from "vitest";
import { CIPHER_SUITE_IDS, nodeCryptoProvider } from "../src/crypto/index.js";
import { MlsError } from "../src/errors.js";

type Case = { pk: Uint8Array; msg: Uint8Array; sig: Uint8Array; expected: boolean | "CRYPTO_INVALID_KEY" };

describe("node provider: batched signature verification", () => {
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
      // All started in one synchronous run: one batch, mostly on the thread pool.
      const answer = (c: Case): Promise<boolean | string> => suite.verify(c.pk, c.msg, c.sig).catch((e: unknown) => (e instanceof MlsError ? e.code : String(e)));
      const answers = await Promise.all(cases.map(answer));
      expect(answers).toEqual(cases.map((c) => c.expected));
      // Alone (a batch of one, verified inline), each gives the same answer.
      for (const c of cases) {
        expect(await answer(c)).toBe(c.expected);
      }
    });
  }
});
