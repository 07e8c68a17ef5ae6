/**
 * Child process for node-keygen-deadlock.test.ts: many HPKE ephemeral keys
 * under allocation churn, the pattern that froze Node 20 when ephemerals came
 * from generateKeyPairSync and their public keys were exported. Prints "ok".
 */
import { dhGroup } from "../../src/crypto/node/dh.js";

const count = Number(process.argv[2] ?? "30000");
const group = dhGroup("DHKEM-X25519");
const peer = group.publicKey(new Uint8Array(32).fill(7));
let churn: Uint8Array[] = [];
for (let i = 0; i < count; i++) {
  const e = group.ephemeral();
  e.dh(peer);
  if (i % 50 === 0) churn.push(new Uint8Array(1000));
  if (churn.length > 5000) churn = [];
}
process.stdout.write("ok\n");
