import { conclaveImpl } from "./support/conclaveImpl.js";
const N = Number(process.env.N ?? 16),
  R = Number(process.env.R ?? 2000);
const impl = conclaveImpl(1);
const creator = await impl.create();
const kps = [];
for (let i = 1; i < N; i++) kps.push(await impl.keyPackage(i));
const { welcome } = await impl.add(creator, kps, "welcome");
for (let i = 0; i < 200; i++) await impl.join(welcome, kps[0]!, undefined);
const op = process.env.OP ?? "join";
const t0 = performance.now();
if (op === "join") for (let i = 0; i < R; i++) await impl.join(welcome, kps[0]!, undefined);
if (op === "add") {
  for (let i = 0; i < R; i++) {
    const c = await impl.create();
    await impl.add(c, kps, "welcome");
  }
}
if (op === "commit") {
  const r = await impl.join(welcome, kps[0]!, undefined);
  for (let i = 0; i < R; i++) await impl.process(r, await impl.commit(creator));
}
console.log(op, ((performance.now() - t0) / R).toFixed(3), "ms each");
process.exit(0);
