/**
 * `conclave demo --federated`: two Conclave domains on this machine (issue
 * 22, docs/federation.md). a.demo and b.demo each run their own DS+AS on
 * their own SQLite file and federate over signed server-to-server requests.
 * Alice (a.demo) creates a group, so a.demo is its hub; she adds bob@b.demo,
 * whose KeyPackages and credential her server fetches from b.demo; they talk
 * both ways, Bob updates his keys (his commit goes through b.demo to the
 * hub), and Alice removes him. Each client talks only to its home server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, MemoryStore, type ClientEvent } from "@conclave/client";
import type { Progress } from "./progress.js";
import { serve, type Serving } from "./serve.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

/** Syncs `c` until `done` holds for what it received (the hub's fan-out to b.demo is asynchronous). */
async function until(c: Client, done: (evs: ClientEvent[]) => boolean): Promise<ClientEvent[]> {
  const all: ClientEvent[] = [];
  for (let i = 0; i < 300; i++) {
    all.push(...(await c.sync()));
    if (done(all)) return all;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.identity} did not receive what was sent to it`);
}

const texts = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "message" ? [`"${e.text}" from ${e.sender}`] : []));

/**
 * Runs the two-domain walk-through, narrated through `print`.
 * @throws Error when a step fails (a server refuses, a message does not arrive, or the members disagree on the epoch).
 */
export async function runFederatedDemo(print: (line: string) => void, opts: { progress?: Progress } = {}): Promise<void> {
  const step = <T>(label: string, fn: () => Promise<T>): Promise<T> => (opts.progress !== undefined ? opts.progress.step(label, fn) : fn());
  const dir = mkdtempSync(join(tmpdir(), "conclave-federated-demo-"));
  const servers: Serving[] = [];
  try {
    const [pa, pb] = [await freePort(), await freePort()];
    const url = (p: number) => `http://127.0.0.1:${p}`;
    const domains: { domain: string; port: number; peer: Record<string, string> }[] = [
      { domain: "a.demo", port: pa, peer: { "b.demo": url(pb) } },
      { domain: "b.demo", port: pb, peer: { "a.demo": url(pa) } },
    ];
    for (const d of domains) {
      const s = await step(`starting ${d.domain}`, () =>
        serve({
          db: join(dir, d.domain, "conclave.sqlite"),
          host: "127.0.0.1",
          port: d.port,
          domain: d.domain,
          rateLimits: false,
          openRegistration: true,
          webApp: false,
          federation: { publicUrl: url(d.port), peers: d.peer, pushIntervalMs: 50 },
        }),
      );
      servers.push(s);
      print(`${d.domain}: DS+AS on ${s.url}, federating with ${Object.keys(d.peer).join(", ")}`);
    }
    const alice = await Client.open({ serverUrl: url(pa), store: new MemoryStore() });
    const bob = await Client.open({ serverUrl: url(pb), store: new MemoryStore() });
    await step("registering alice at a.demo", () => alice.register("alice", "laptop"));
    await step("registering bob at b.demo", () => bob.register("bob", "phone"));
    print(`[1] ${alice.identity} and ${bob.identity} registered, each with their own domain's AS`);
    const g = await alice.createGroup();
    print(`[2] alice created a group: a.demo is its hub (it orders commits and fans out)`);
    const added = await step("adding bob@b.demo", () => alice.addUser(g, "bob@b.demo"));
    print(`[3] alice added ${added.join(", ")}: a.demo claimed his KeyPackage from b.demo and had b.demo's AS vouch for it (log proofs)`);
    await step("bob receives the Welcome through b.demo", () => until(bob, (e) => e.some((x) => x.type === "joined")));
    print(`    bob joined at epoch ${bob.group(g).epoch}; members: ${bob.members(g).join(", ")}`);
    await alice.send(g, "hello from a.demo");
    for (const t of texts(await until(bob, (e) => texts(e).length > 0))) print(`[4] bob received ${t}`);
    await bob.send(g, "hello from b.demo");
    for (const t of texts(await until(alice, (e) => texts(e).length > 0))) print(`[5] alice received ${t}`);
    const epoch = await bob.update(g);
    await until(alice, () => alice.group(g).epoch === epoch);
    print(`[6] bob updated his keys: his commit went b.demo -> a.demo (the hub ordered it); both at epoch ${epoch}`);
    if (alice.safetyNumber(g) !== bob.safetyNumber(g)) throw new Error("alice and bob disagree on the group's safety number");
    print(`    safety number (same on both sides): ${alice.safetyNumber(g)}`);
    await alice.removeMember(g, "bob@b.demo");
    await until(bob, (e) => e.some((x) => x.type === "membership" && x.selfRemoved));
    print(`[7] alice removed bob; b.demo delivered the commit and bob left the group`);
    print("federated demo complete");
  } finally {
    for (const s of servers.reverse()) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
