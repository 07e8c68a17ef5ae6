/**
 * Child process for node-signature-worker.test.ts: signs and verifies a batch
 * through the node provider and prints how the work was shared (or "inline"
 * when the provider has no worker) and what computed Ed25519, then exits: an idle worker must not keep
 * the process alive.
 */
import { nodeCryptoProvider, nodeEd25519Backend, nodeSignatureStats } from "../../src/crypto/node/index.js";

const suite = nodeCryptoProvider.suite(1);
const kp = await suite.signatureGenerateKeyPair();
const msgs = Array.from({ length: 64 }, (_, i) => new Uint8Array(100).fill(i));
const sigs = await Promise.all(msgs.map((m) => suite.sign(kp.privateKey, m)));
const oks = await Promise.all(msgs.map((m, i) => suite.verify(kp.publicKey, m, sigs[i]!)));
if (!oks.every((ok) => ok)) throw new Error("a signature did not verify");
const stats = nodeSignatureStats();
process.stdout.write(`${stats === undefined ? "inline" : `worker ${stats.byWorker + stats.byThisThread + stats.duplicated}`} ${nodeEd25519Backend()}\n`);
