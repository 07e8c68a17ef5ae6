import { conclaveImpl } from "./support/conclaveImpl.js";
const N = Number(process.env.N ?? 16),
  R = Number(process.env.R ?? 20000);
const impl = conclaveImpl(1);
const creator = await impl.create();
const kps = [];
for (let i = 1; i < N; i++) kps.push(await impl.keyPackage(i));
const { welcome } = await impl.add(creator, kps, "welcome");
const r = await impl.join(welcome, kps[0]!, undefined);
const data = new Uint8Array(1024).fill(7);
for (let i = 0; i < 3000; i++) await impl.decrypt(r, await impl.encrypt(creator, data));
const t0 = performance.now();
for (let i = 0; i < R; i++) await impl.decrypt(r, await impl.encrypt(creator, data));
const dt = (performance.now() - t0) / R;
console.log("msg pair", (dt * 1000).toFixed(1), "us", (1000 / dt).toFixed(0), "/s");
process.exit(0);
