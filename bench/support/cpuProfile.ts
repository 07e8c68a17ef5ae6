/**
 * In-process CPU profiling of one benchmark phase (node:inspector), summarised
 * as self time per function (file:function), so a phase's hot spots can be
 * printed without a separate tool. Only used by `bench/mls.ts --profile`.
 */
import { Session } from "node:inspector/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const session = new Session();
let connected = false;

export async function startProfile(): Promise<void> {
  if (!connected) {
    session.connect();
    connected = true;
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
  }
  await session.post("Profiler.start");
}

/** Library code: its sources (under tsx), or the bundle `npm run bench:mls` runs, which holds them. */
const isOurs = (url: string): boolean => url.includes("/packages/") || url.endsWith("/.bench/mls.mjs");

function shortUrl(url: string): string {
  const i = url.indexOf("/packages/");
  if (i >= 0) return url.slice(i + 1);
  const j = url.indexOf("/node_modules/");
  if (j >= 0) return url.slice(j + 1);
  return url === "" ? "(native)" : url.replace(/^file:\/\//, "");
}

export type { Profile };

/** Stops profiling and returns the profile. */
export async function stopProfile(): Promise<Profile> {
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
  return profile;
}

/** The top `top` functions of some profiles by self time, the top files, and our functions by inclusive time. */
export function summarize(profiles: readonly Profile[], top = 15): string[] {
  const self = new Map<string, number>();
  const perFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) total += addProfile(profile, self, perFile, inclusive);
  return report(self, perFile, inclusive, total, top);
}

function addProfile(profile: Profile, self: Map<string, number>, perFile: Map<string, number>, inclusive: Map<string, number>): number {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const keyOf = (n: ProfileNode) => `${shortUrl(n.callFrame.url)}:${n.callFrame.functionName || "(anonymous)"}:${n.callFrame.lineNumber + 1}`;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]!);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (n === undefined) continue;
    // Only work done for the MLS library counts (and GC): the inspector's own start/stop work and idle time do not.
    let ours = n.callFrame.functionName === "(garbage collector)";
    for (let a: ProfileNode | undefined = n; a !== undefined && !ours; a = byId.get(parentOf.get(a.id) ?? -1)) ours = isOurs(a.callFrame.url);
    if (!ours) continue;
    total += dt;
    const f = shortUrl(n.callFrame.url);
    const key = keyOf(n);
    // Inclusive time of our own functions (each counted once per sample, recursion aside).
    const seen = new Set<string>();
    for (let a: ProfileNode | undefined = n; a !== undefined; a = byId.get(parentOf.get(a.id) ?? -1)) {
      if (!isOurs(a.callFrame.url)) continue;
      const k = keyOf(a);
      if (!seen.has(k)) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
    }
    self.set(key, (self.get(key) ?? 0) + dt);
    perFile.set(f, (perFile.get(f) ?? 0) + dt);
  }
  return total;
}

function report(self: Map<string, number>, perFile: Map<string, number>, inclusive: Map<string, number>, total: number, top: number): string[] {
  const fmt = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => `${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `sampled ${total.toFixed(1)} ms under packages/ (plus GC)`,
    "self time by function:",
    ...fmt(self, top),
    "self time by file:",
    ...fmt(perFile, 10),
    "inclusive time, packages/ functions:",
    ...fmt(inclusive, top + 10),
  ];
}
