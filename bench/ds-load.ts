/**
 * bench:ds — what the Delivery Service accepts and delivers, measured from
 * outside: the server runs alone in its process (bench/ds/server.ts), the load
 * comes from another (bench/ds/load.ts: autocannon, keep-alive connections),
 * and the same load against a bare fastify app (bench/ds/bare.ts) in the same
 * run gives the ceiling every figure is divided by.
 *
 *   npm run bench:ds
 *   npm run bench:ds -- --engines sqlite --sizes 2,100 --seconds 3 --windows 2
 *   npm run bench:ds -- --engines sqlite --sizes 2 --windows 1 --push 0 --profile /tmp/p
 *                                 (the server process under --cpu-prof; its hot spots printed)
 *
 * Per engine (SQLite file in a temp dir, PostgreSQL in a fresh schema) and
 * group size (members): set-up over the public HTTP API (not timed), then
 * a discarded warm-up window, then `windows` back-to-back windows of `seconds` in which every connection posts
 * a `body`-byte application message as a random member, and nobody reads:
 * the unread queues grow window after window, so the per-window figures show
 * whether accepting stays flat as they do.
 *   accepted/s     202 answers per second (all windows)
 *   of ceiling     accepted/s ÷ the bare fastify POST's requests/s
 *   deliveries/s   accepted/s × the members each message was made available
 *                  to (the DS's own `delivered` answer)
 *   p50/p99        POST latency at the load generator (ms)
 * Then socket push on each engine: `push` members hold /v1/stream open while
 * one more member posts; every socket should receive every message.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { toBase64Url } from "@conclave/api";
import { BenchApi, benchMessage, messagesPath, type Device } from "./ds/setup.js";
import type { LoadResult, LoadSpec } from "./ds/load.js";
import type { PushResult, PushSpec } from "./ds/push.js";
import { runJson, startListening } from "./ds/processes.js";
import { summarize, type Profile } from "./support/cpuProfile.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const SECONDS = Number(arg("seconds", "5"));
const WINDOWS = Number(arg("windows", "3"));
const SIZES = arg("sizes", "2,100,1000").split(",").map(Number);
const ENGINES = arg("engines", "sqlite,postgres").split(",") as ("sqlite" | "postgres")[];
const CONNECTIONS = Number(arg("connections", "16"));
const BODY = Number(arg("body", "256"));
const PUSH = Number(arg("push", "100"));
const JSON_OUT = arg("json", "");
const WARMUP = Math.min(2, SECONDS);
const PROFILE = arg("profile", "");
const PG_URL = process.env.CONCLAVE_BENCH_PG ?? process.env.CONCLAVE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

/** A window's figures, with the server process's CPU time per accepted message (µs; robust to a shared machine). */
type WindowResult = LoadResult & { readonly unreadAfter: number; readonly serverCpuUsPerMessage: number };

interface SizeResult {
  readonly members: number;
  readonly delivered: number;
  readonly windows: WindowResult[];
  readonly acceptedPerSecond: number;
  /** Server CPU (user + system) per accepted message over all windows, µs. */
  readonly serverCpuUsPerMessage: number;
  readonly p50: number;
  readonly p99: number;
  readonly failed: number;
}
interface EngineResult {
  readonly engine: string;
  readonly sizes: SizeResult[];
  readonly push: PushResult | undefined;
}

/** CPU time (user + system) a process has used so far, ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat(5) (utime, stime) in clock ticks, 100 per second on Linux.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

async function load(url: string, path: string, tokens: readonly string[], body: Uint8Array, seconds = SECONDS): Promise<LoadResult> {
  return runJson<LoadSpec, LoadResult>("load.ts", { url, path, tokens, body: Buffer.from(body).toString("base64"), connections: CONNECTIONS, seconds });
}

async function ceiling(): Promise<WindowResult> {
  const bare = await startListening("bare.ts");
  try {
    await load(bare.url, "/v1/groups/AAAA/messages", [], benchMessage(new Uint8Array(4), BODY), WARMUP);
    const cpu0 = cpuMs(bare.pid);
    const r = await load(bare.url, "/v1/groups/AAAA/messages", [], benchMessage(new Uint8Array(4), BODY));
    return { ...r, unreadAfter: 0, serverCpuUsPerMessage: ((cpuMs(bare.pid) - cpu0) * 1000) / r.ok };
  } finally {
    await bare.stop();
  }
}

async function sizeRun(api: BenchApi, serverPid: number, engine: string, members: readonly Device[]): Promise<SizeResult> {
  const g = await api.group(members, `bench-${engine}-${members.length}-${Date.now()}`);
  const probe = await api.post(members[0]!, g, benchMessage(g, BODY));
  const tokens = members.map((m) => m.token);
  // Round-robin from a random start: every member sends, in an order that is not the roster's.
  const shuffled = tokens
    .map((t) => [Math.random(), t] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, t]) => t);
  const windows: WindowResult[] = [];
  // A discarded warm-up window (JIT, connection set-up, caches); what it queued still counts as unread.
  const warm = await load(api.url, messagesPath(g), shuffled, benchMessage(g, BODY), WARMUP);
  let unread = probe.delivered * (1 + warm.ok);
  for (let w = 0; w < WINDOWS; w++) {
    const cpu0 = cpuMs(serverPid);
    const r = await load(api.url, messagesPath(g), shuffled, benchMessage(g, BODY));
    const cpu = cpuMs(serverPid) - cpu0;
    unread += r.ok * probe.delivered;
    windows.push({ ...r, unreadAfter: unread, serverCpuUsPerMessage: (cpu * 1000) / r.ok });
  }
  const ok = windows.reduce((a, r) => a + r.ok, 0);
  const seconds = windows.reduce((a, r) => a + r.seconds, 0);
  return {
    members: members.length,
    delivered: probe.delivered,
    windows,
    acceptedPerSecond: ok / seconds,
    serverCpuUsPerMessage: windows.reduce((a, r) => a + r.serverCpuUsPerMessage * r.ok, 0) / ok,
    // Latency over all windows: the worst window's percentile (autocannon gives percentiles per run).
    p50: Math.max(...windows.map((r) => r.p50)),
    p99: Math.max(...windows.map((r) => r.p99)),
    failed: windows.reduce((a, r) => a + r.failed, 0),
  };
}

async function pushRun(api: BenchApi, devices: readonly Device[]): Promise<PushResult> {
  const g = await api.group(devices, `bench-push-${Date.now()}`);
  const [sender, ...receivers] = devices;
  return runJson<PushSpec, PushResult>("push.ts", {
    url: api.url,
    path: messagesPath(g),
    groupId: toBase64Url(g),
    senderToken: sender!.token,
    receiverTokens: receivers.map((d) => d.token),
    template: Buffer.from(benchMessage(g, BODY)).toString("base64"),
    concurrency: 4,
    seconds: SECONDS,
  });
}

/** The server process's profile (written when it exited): where its CPU went, set-up included. */
function printProfile(engine: string, dir: string): void {
  const profiles = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Profile);
  console.log(`\n  ${engine} server profile (${dir}; samples under packages/ only):`);
  for (const line of summarize(profiles, 20)) console.log(`    ${line}`);
}

async function withPgSchema<T>(fn: (schema: string) => Promise<T>): Promise<T> {
  const schema = `conclave_bench_${process.pid}_${Date.now()}`;
  try {
    return await fn(schema);
  } finally {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`).finally(() => c.end());
  }
}

async function engineRun(engine: "sqlite" | "postgres"): Promise<EngineResult> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-bench-ds-"));
  const run = async (storeSpec: string): Promise<EngineResult> => {
    const profileDir = PROFILE === "" ? undefined : join(PROFILE, engine);
    const server = await startListening("server.ts", { BENCH_STORE: storeSpec }, profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]);
    try {
      const api = new BenchApi(server.url);
      const t0 = performance.now();
      const devices = await api.register(Math.max(...SIZES), `${engine}m`);
      const pushDevices = PUSH > 0 ? await api.register(PUSH + 1, `${engine}p`) : [];
      console.log(`  ${engine}: ${devices.length + pushDevices.length} devices registered in ${((performance.now() - t0) / 1000).toFixed(1)} s (not timed)`);
      const sizes: SizeResult[] = [];
      for (const n of SIZES) {
        sizes.push(await sizeRun(api, server.pid, engine, devices.slice(0, n)));
        console.log(`  ${engine}: ${n} members done`);
      }
      const push = PUSH > 0 ? await pushRun(api, pushDevices) : undefined;
      return { engine, sizes, push };
    } finally {
      await server.stop();
      if (profileDir !== undefined) printProfile(engine, profileDir);
    }
  };
  try {
    return engine === "sqlite" ? await run(`sqlite:${join(dir, "ds.sqlite")}`) : await withPgSchema((schema) => run(`postgres:${PG_URL}#${schema}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const pad = (s: string, n: number) => s.padStart(n);

function report(ceilings: WindowResult[], results: EngineResult[]): void {
  const ceil = ceilings.reduce((a, r) => a + r.perSecond, 0) / ceilings.length;
  console.log(
    `\nCeiling: bare fastify POST (same body, ${CONNECTIONS} connections): ${ceilings.map((c) => `${f0(c.perSecond)}/s (p50 ${f1(c.p50)} ms, p99 ${f1(c.p99)} ms, ${f0(c.serverCpuUsPerMessage)} cpu µs/request)`).join(", then ")}; mean ${f0(ceil)}/s\n`,
  );
  console.log(
    `${pad("members", 7)}  ${"engine".padEnd(8)}  ${pad("accepted/s", 10)}  ${pad("of ceiling", 10)}  ${pad("deliveries/s", 12)}  ${pad("p50 ms", 7)}  ${pad("p99 ms", 7)}  ${pad("errors", 6)}  ${pad("cpu µs/msg", 10)}  per window: accepted/s, p99 ms (unread deliveries after)`,
  );
  for (const n of SIZES) {
    for (const e of results) {
      const s = e.sizes.find((x) => x.members === n);
      if (s === undefined) continue;
      const windows = s.windows.map((w) => `${f0(w.perSecond)}, ${f1(w.p99)} (${f0(w.unreadAfter)})`).join(" | ");
      console.log(
        `${pad(String(n), 7)}  ${e.engine.padEnd(8)}  ${pad(f0(s.acceptedPerSecond), 10)}  ${pad(`${(s.acceptedPerSecond / ceil).toFixed(3)}`, 10)}  ${pad(f0(s.acceptedPerSecond * s.delivered), 12)}  ${pad(f1(s.p50), 7)}  ${pad(f1(s.p99), 7)}  ${pad(String(s.failed), 6)}  ${pad(f0(s.serverCpuUsPerMessage), 10)}  ${windows}`,
      );
    }
  }
  console.log(`\nSocket push (one member posts, 4 in flight; the others hold /v1/stream open):`);
  console.log(`${"engine".padEnd(8)}  ${pad("connected", 9)}  ${pad("posted/s", 8)}  ${pad("pushed/s", 9)}  ${pad("p50 ms", 7)}  ${pad("p99 ms", 7)}  missing`);
  for (const e of results) {
    const p = e.push;
    if (p === undefined) continue;
    console.log(
      `${e.engine.padEnd(8)}  ${pad(String(p.receivers), 9)}  ${pad(f0(p.sentPerSecond), 8)}  ${pad(f0(p.pushedPerSecond), 9)}  ${pad(f1(p.p50), 7)}  ${pad(f1(p.p99), 7)}  ${p.missing}`,
    );
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:ds — server and load in separate processes; ${WINDOWS} × ${SECONDS} s windows per group size, ${CONNECTIONS} connections, ${BODY}-byte messages, engines ${ENGINES.join(", ")}`,
  );
  const ceilings = [await ceiling()];
  const results: EngineResult[] = [];
  for (const e of ENGINES) results.push(await engineRun(e));
  ceilings.push(await ceiling());
  report(ceilings, results);
  if (JSON_OUT !== "")
    writeFileSync(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, windows: WINDOWS, connections: CONNECTIONS, body: BODY, ceilings, results }, null, 2));
}

await main();
