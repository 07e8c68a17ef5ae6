import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { conclaveImpl } from "./support/conclaveImpl.js";
import { runScenario } from "./support/scenario.js";
import { measurePrimitives } from "./support/primitiveCosts.js";
import { nodeCryptoProvider } from "../packages/mls/src/crypto/node/index.js";
const impl = conclaveImpl(1);
if (process.env.GCF) {
  setFlagsFromString("--expose-gc");
}
await runScenario(impl, 8, { commitIterations: 2 });
if (process.env.PRIM) await measurePrimitives(nodeCryptoProvider.suite(1));
if (process.env.GCF) (runInNewContext("gc") as () => void)();
const f = await runScenario(impl, Number(process.env.N ?? 16), {});
console.log(JSON.stringify(f, (k, v) => (k === "finalState" ? undefined : typeof v === "number" ? Number(v.toFixed(3)) : v)));
process.exit(0);
