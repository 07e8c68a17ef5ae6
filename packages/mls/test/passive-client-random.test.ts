/** passive-client-random.json: 200 epochs of random Adds (by reference) and Removes, with and without path, both providers. */
import { afterAll, describe, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { runPassiveClient, type PassiveClientVector } from "./passive-client-support.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";

describe.skipIf(!haveVectors)("passive-client-random.json", () => {
  const vectors = haveVectors ? loadVectors<PassiveClientVector[]>("passive-client-random") : [];
  const tally = new VectorTally("passive-client-random.json");
  afterAll(() => tally.report());
  for (const provider of [nodeCryptoProvider, webCryptoProvider]) {
    for (const [i, tc] of vectors.entries()) {
      it(`${provider.name}: case ${i} (suite ${tc.cipher_suite}, ${tc.epochs.length} epochs)`, async () => {
        await runPassiveClient(provider, tc);
        tally.pass();
      });
    }
  }
});
