/**
 * Issue 22: groups that span Conclave domains, through the SDK. Real servers
 * of different domains on loopback; every client talks only to its home
 * server. The creating domain is the hub: it orders and validates, and fans
 * out to the follower domains, which deliver to their users.
 */
import { afterEach, describe, expect, it } from "vitest";
import { isApiError, toBase64Url } from "@conclave/api";
import { Client, MemoryStore, type ClientEvent } from "../src/index.js";
import { startFederation, type Federation } from "./federationServers.js";

let fed: Federation | undefined;
afterEach(async () => {
  await fed?.close();
  fed = undefined;
});

async function user(url: string, name: string): Promise<Client> {
  const c = await Client.open({ serverUrl: url, store: new MemoryStore() });
  await c.register(name, "laptop");
  return c;
}

const texts = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "message" ? [e.text] : []));

/** Syncs until `done` holds over everything received (fan-out to a follower is asynchronous). */
async function syncUntil(c: Client, done: (all: ClientEvent[]) => boolean, ms = 15_000): Promise<ClientEvent[]> {
  const all: ClientEvent[] = [];
  const end = Date.now() + ms;
  for (;;) {
    all.push(...(await c.sync()));
    if (done(all)) return all;
    if (Date.now() > end) throw new Error(`${c.identity}: gave up waiting; got ${JSON.stringify(all.map((e) => e.type))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const joined = (evs: ClientEvent[]) => evs.some((e) => e.type === "joined");

describe("federation through the SDK", () => {
  it("two domains: create, add a remote member, Welcome, messages both ways, commits, remove", async () => {
    fed = await startFederation(["a.example", "b.example"]);
    const [a, b] = fed.servers;
    const alice = await user(a!.url, "alice");
    const bob = await user(b!.url, "bob");
    expect(bob.identity).toBe("bob@b.example#laptop");

    const g = await alice.createGroup();
    expect(await alice.addUser(g, "bob@b.example")).toEqual(["bob@b.example#laptop"]);
    await syncUntil(bob, joined);
    expect(bob.members(g).sort()).toEqual(["alice@a.example#laptop", "bob@b.example#laptop"]);

    await alice.send(g, "hello from a");
    expect(texts(await syncUntil(bob, (e) => texts(e).length === 1))).toEqual(["hello from a"]);
    await bob.send(g, "hello from b");
    expect(texts(await syncUntil(alice, (e) => texts(e).length === 1))).toEqual(["hello from b"]);

    // A commit by the follower's user goes to the hub, which orders it; the hub's user sees it.
    expect(await bob.update(g)).toBe(2n);
    await syncUntil(alice, () => alice.group(g).epoch === 2n);
    expect(Buffer.from(alice.epochAuthenticator(g))).toEqual(Buffer.from(bob.epochAuthenticator(g)));
    expect(alice.safetyNumber(g)).toBe(bob.safetyNumber(g));

    // One commit per epoch across domains: bob's commit for epoch 2, once alice moved the group to 3,
    // is refused by the hub and relayed by b.example as 409 with the hub's epoch.
    expect(await alice.update(g)).toBe(3n);
    const stale = await bob.group(g).createCommit();
    const r = await fetch(`${b!.url}/v1/groups/${g}/commits`, {
      method: "POST",
      headers: { authorization: `Bearer ${await bob.token()}`, "content-type": "application/json" },
      body: JSON.stringify({ commit: toBase64Url(stale.commit), groupInfo: toBase64Url(await stale.groupInfo()) }),
    });
    expect(r.status).toBe(409);
    expect(await r.json()).toMatchObject({ error: { code: "EPOCH_MISMATCH", currentEpoch: 3 } });
    bob.group(g).clearPendingCommit();
    // The SDK catches up from such a 409 and commits again: both end in one epoch.
    expect(await bob.update(g)).toBe(4n);
    await syncUntil(alice, () => alice.group(g).epoch === 4n);

    expect(await alice.removeMember(g, "bob@b.example")).toEqual(["bob@b.example#laptop"]);
    await syncUntil(bob, (e) => e.some((x) => x.type === "membership" && x.selfRemoved === true));
    expect(bob.groups).toEqual([]);
  });

  it("a follower SIGKILLed mid-traffic gets everything on restart: 0 lost, 0 duplicated", async () => {
    fed = await startFederation(["a.example", "b.example"], [], ["b.example"]);
    const [a, b] = fed.servers;
    const alice = await user(a!.url, "alice");
    const bob = await user(b!.url, "bob");
    const g = await alice.createGroup();
    await alice.addUser(g, "bob@b.example");
    await syncUntil(bob, joined);

    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      sent.push(`m${i}`);
      await alice.send(g, `m${i}`);
      if (i === 14) await b!.kill(); // the follower dies while the hub is pushing to it
    }
    await new Promise((r) => setTimeout(r, 300)); // the hub retries meanwhile
    await b!.start();
    const got = texts(await syncUntil(bob, (e) => texts(e).length >= sent.length, 40_000));
    await new Promise((r) => setTimeout(r, 300));
    got.push(...texts(await bob.sync()));
    expect(got).toEqual(sent);
  });

  it("a hub SIGKILLed mid-push resumes on restart: 0 lost, 0 duplicated", async () => {
    fed = await startFederation(["a.example", "b.example"], [], ["a.example"]);
    const [a, b] = fed.servers;
    const alice = await user(a!.url, "alice");
    const bob = await user(b!.url, "bob");
    const g = await alice.createGroup();
    await alice.addUser(g, "bob@b.example");
    await syncUntil(bob, joined);
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      sent.push(`m${i}`);
      await alice.send(g, `m${i}`);
    }
    await a!.kill(); // pages may be in flight, delivered but not yet acknowledged
    await a!.start();
    const got = texts(await syncUntil(bob, (e) => texts(e).length >= sent.length, 40_000));
    await new Promise((r) => setTimeout(r, 300));
    got.push(...texts(await bob.sync()));
    expect(got).toEqual(sent);
  });

  it("a hub that is down is a clear temporary error for the follower's users", async () => {
    fed = await startFederation(["a.example", "b.example"]);
    const [a, b] = fed.servers;
    const alice = await user(a!.url, "alice");
    const bob = await user(b!.url, "bob");
    const g = await alice.createGroup();
    await alice.addUser(g, "bob@b.example");
    await syncUntil(bob, joined);
    await a!.stop();
    await expect(bob.send(g, "anyone?")).rejects.toSatisfy((e) => isApiError(e, "FEDERATION_PEER_UNAVAILABLE") && e.status === 503);
    await a!.start();
    await bob.send(g, "back");
    expect(texts(await syncUntil(alice, (e) => texts(e).length === 1))).toEqual(["back"]);
  });

  it("three domains, the hub on PostgreSQL: a follower's user adds a third domain's user", async () => {
    fed = await startFederation(["a.example", "b.example", "c.example"], ["a.example"]);
    const [a, b, c] = fed.servers;
    const alice = await user(a!.url, "alice");
    const bob = await user(b!.url, "bob");
    const carol = await user(c!.url, "carol");
    const g = await alice.createGroup();
    await alice.addUser(g, "bob@b.example");
    await syncUntil(bob, joined);
    expect(await bob.addUser(g, "carol@c.example")).toEqual(["carol@c.example#laptop"]);
    await syncUntil(carol, joined);
    await syncUntil(alice, () => alice.group(g).epoch === 2n);
    await carol.send(g, "hi from c");
    expect(texts(await syncUntil(alice, (e) => texts(e).length === 1))).toEqual(["hi from c"]);
    expect(texts(await syncUntil(bob, (e) => texts(e).length === 1))).toEqual(["hi from c"]);
    expect(carol.members(g).sort()).toEqual(["alice@a.example#laptop", "bob@b.example#laptop", "carol@c.example#laptop"]);
  });
});
