/** passive-client-handling-commit.json: follow commits of every kind (Add/Update/Remove/PSK/GroupContextExtensions, by value and by reference, with and without path), every suite, both providers. */
import { afterAll, describe, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { runPassiveClient, type PassiveClientVector } from "./passive-client-support.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";

describe.skipIf(!haveVectors)("passive-client-handling-commit.json", () => {
  const vectors = haveVectors ? loadVectors<PassiveClientVector[]>("passive-client-handling-commit") : [];
  const tally = new VectorTally("passive-client-handling-commit.json");
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
