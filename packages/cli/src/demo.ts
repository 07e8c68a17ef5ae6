/**
 * `conclave demo`: the RFC 9750 §3 walk-through against a real DS+AS. Alice,
 * Bob and Charlie register (AS), publish KeyPackages (DS), Alice creates a
 * group and adds Bob then Charlie, they talk, Charlie is removed, Bob updates
 * his keys. Each step prints the epoch every member is in.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, MemoryStore, type ClientEvent } from "@conclave/client";
import type { Progress } from "./progress.js";
import { serve } from "./serve.js";

/**
 * `conclave demo`: alice, bob and charlie on a server (a local one unless `opts.server` is given):
 * a group is made, members are added and removed, keys updated, messages exchanged and the epoch
 * authenticators compared, narrated through `print`.
 * @throws Error when a step fails (the server refuses, or the two disagree on the epoch).
 */
export async function runDemo(print: (line: string) => void, opts: { server?: string; progress?: Progress } = {}): Promise<void> {
  // Long steps show progress on stderr; the walk-through itself goes to `print`.
  const step = <T>(label: string, fn: () => Promise<T>): Promise<T> => (opts.progress !== undefined ? opts.progress.step(label, fn) : fn());
  let dir: string | undefined;
  let close: (() => Promise<void>) | undefined;
  let url = opts.server;
  if (url === undefined) {
    const tmp = mkdtempSync(join(tmpdir(), "conclave-demo-"));
    dir = tmp;
    const s = await step("starting a DS+AS", () => serve({ db: join(tmp, "demo.sqlite"), host: "127.0.0.1", port: 0, domain: "demo.example", rateLimits: false, openRegistration: true }));
    url = s.url;
    close = s.close;
    print(`DS+AS listening on ${url} (SQLite in ${dir})`);
  }
  try {
    const tag = Math.random().toString(36).slice(2, 8);
    const names = ["alice", "bob", "charlie"] as const;
    const c: Record<(typeof names)[number], Client> = {} as Record<(typeof names)[number], Client>;
    let n = 0;
    const say = (s: string) => print(`[${++n}] ${s}`);
    for (const name of names) {
      const client = await Client.open({ serverUrl: url, store: new MemoryStore() });
      c[name] = client;
      await step(`registering ${name}`, () => client.register(`${name}-${tag}`, "laptop"));
      say(`${name} registered with the AS as ${client.identity} and published KeyPackages to the DS`);
    }
    const { alice, bob, charlie } = c;
    const epochs = (g: string, who: Client[]) => who.map((x) => `${x.user.split("-")[0]}@${x.group(g).epoch}`).join(" ");
    const show = (evs: ClientEvent[], who: string) => {
      for (const e of evs) {
        if (e.type === "message") print(`      ${who} received from ${e.sender.split("-")[0]}: "${e.text}" (epoch ${e.epoch})`);
        else if (e.type === "joined") print(`      ${who} joined from a Welcome at epoch ${e.epoch}; members: ${e.members.map((m) => m.split("-")[0]).join(", ")}`);
        else if (e.type === "membership")
          print(
            `      ${who} processed a commit by ${e.by.split("-")[0]} -> epoch ${e.epoch}${e.added.length ? ` added ${e.added.map((m) => m.split("-")[0]).join(",")}` : ""}${e.removed.length ? ` removed ${e.removed.map((m) => m.split("-")[0]).join(",")}` : ""}${e.selfRemoved ? " (that is me: left the group)" : ""}`,
          );
        else if (e.type === "untrusted") print(`      ${who} WARNING: the AS does not vouch for ${e.member} (${e.reason})`);
        else print(`      ${who} error: ${e.error.message}`);
      }
    };

    const g = await step("alice creates a group", () => alice.createGroup());
    say(`alice created group ${g.slice(0, 12)}… at epoch ${alice.group(g).epoch}`);
    await step("alice adds bob", () => alice.addUser(g, bob.user));
    say(`alice added bob (claimed his KeyPackage, sent commit + Welcome): ${epochs(g, [alice])}`);
    show(await bob.sync(), "bob");
    await step("alice adds charlie", () => alice.addUser(g, charlie.user));
    say(`alice added charlie`);
    show(await bob.sync(), "bob");
    show(await charlie.sync(), "charlie");
    print(`      epochs: ${epochs(g, [alice, bob, charlie])}`);

    await alice.send(g, "Hello Bob and Charlie!");
    await bob.send(g, "Hi Alice!");
    await charlie.send(g, "Hey both");
    say("everyone sent a message");
    show(await alice.sync(), "alice");
    show(await bob.sync(), "bob");
    show(await charlie.sync(), "charlie");
    say(`safety numbers: alice ${alice.safetyNumber(g)} | bob ${bob.safetyNumber(g)} | charlie ${charlie.safetyNumber(g)}`);

    await step("alice removes charlie", () => alice.removeMember(g, charlie.user));
    say(`alice removed charlie: ${epochs(g, [alice])}`);
    show(await bob.sync(), "bob");
    show(await charlie.sync(), "charlie");

    await step("bob updates his keys", () => bob.update(g));
    say(`bob updated his keys: ${epochs(g, [bob])}`);
    show(await alice.sync(), "alice");
    await bob.send(g, "Just us now");
    show(await alice.sync(), "alice");
    print(`      epochs: ${epochs(g, [alice, bob])}; charlie is ${charlie.groups.length === 0 ? "no longer a member" : "STILL A MEMBER"}`);
    const same = alice.safetyNumber(g) === bob.safetyNumber(g);
    say(`safety numbers ${same ? "match" : "DIFFER"}: ${alice.safetyNumber(g)}`);
    if (!same) throw new Error("alice and bob disagree on the epoch authenticator");
    print("demo complete");
  } finally {
    await close?.();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
