/** passive-client-welcome.json: join from a Welcome (tree in the Welcome or given apart, with and without PSKs), every suite, both providers. */
import { afterAll, describe, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { runPassiveClient, type PassiveClientVector } from "./passive-client-support.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";

describe.skipIf(!haveVectors)("passive-client-welcome.json", () => {
  const vectors = haveVectors ? loadVectors<PassiveClientVector[]>("passive-client-welcome") : [];
  const tally = new VectorTally("passive-client-welcome.json");
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
