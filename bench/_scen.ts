import { conclaveImpl } from "./support/conclaveImpl.js";
import { runScenario } from "./support/scenario.js";
const impl = conclaveImpl(1);
await runScenario(impl, 8, { commitIterations: 2 });
const f = await runScenario(impl, Number(process.env.N ?? 16), {});
console.log(JSON.stringify(f, (k, v) => (k === "finalState" ? undefined : typeof v === "number" ? Number(v.toFixed(3)) : v)));
if (process.env.AGAIN) {
  const g = await runScenario(impl, Number(process.env.N ?? 16), {});
  console.log(JSON.stringify(g, (k, v) => (k === "finalState" ? undefined : typeof v === "number" ? Number(v.toFixed(3)) : v)));
}
process.exit(0);
