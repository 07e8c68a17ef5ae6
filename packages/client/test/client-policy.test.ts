/**
 * The client's group policies over a real DS+AS: leaving with a SelfRemove
 * proposal (draft-ietf-mls-extensions) that another member's client commits,
 * and key updates on a schedule (keyUpdateIntervalMs, injected clock).
 */
import { describe, expect, it } from "vitest";
import { fromBase64Url, isApiError, toBase64Url, type GroupInfoResponse, type GroupResponse } from "@conclave/api";
import { CredentialType, Group, ProposalType } from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";
import { Client, MemoryStore, type ClientEvent, type ClientOptions } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("p");

async function newClient(user: string, opts: Partial<ClientOptions> = {}): Promise<Client> {
  const c = await Client.open({ serverUrl: server().url, store: new MemoryStore(), ...opts });
  await c.register(user, "laptop");
  return c;
}

const exporter = (c: Client, g: string) => Buffer.from(c.group(g).exportSecret("test", new Uint8Array(0), 32)).toString("hex");
const membership = (evs: ClientEvent[]) => evs.filter((e) => e.type === "membership");
const errors = (evs: ClientEvent[]) => evs.filter((e) => e.type === "error");

async function roster(c: Client, g: string): Promise<string[]> {
  const r = await c.transport.request<GroupResponse>("getGroup", { params: { groupId: g }, token: await c.token() });
  return [...r.members].sort();
}

async function threeInGroup(): Promise<[Client, Client, Client, string]> {
  const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => newClient(uniq(u))));
  const g = await alice!.createGroup();
  await alice!.addUser(g, bob!.user);
  await alice!.addUser(g, carol!.user);
  await bob!.sync();
  await carol!.sync();
  return [alice!, bob!, carol!, g];
}

describe("leave with SelfRemove", () => {
  it("Carol leaves: Alice's client commits the proposal, the DS roster drops Carol, the rest stay in sync", async () => {
    const [alice, bob, carol, g] = await threeInGroup();
    expect(carol.group(g).epoch).toBe(2n);
    await carol.leave(g);
    expect(carol.groups).toEqual([g]); // still a member until someone commits

    const aliceSaw = await alice.sync();
    expect(errors(aliceSaw)).toEqual([]);
    expect(membership(aliceSaw)).toMatchObject([{ by: alice.identity, removed: [carol.identity], epoch: 3n }]);
    expect(await roster(alice, g)).toEqual([alice.identity, bob.identity].sort());

    expect(membership(await carol.sync())).toMatchObject([{ selfRemoved: true, removed: [carol.identity] }]);
    expect(carol.groups).toEqual([]);

    const bobSaw = await bob.sync();
    expect(membership(bobSaw)).toMatchObject([{ by: alice.identity, removed: [carol.identity] }]);
    expect(bob.group(g).epoch).toBe(3n);
    expect(exporter(alice, g)).toBe(exporter(bob, g));
    await bob.send(g, "after carol left");
    expect((await alice.sync()).flatMap((e) => (e.type === "message" ? [e.text] : []))).toEqual(["after carol left"]);
  });

  it("two members syncing at once commit the SelfRemove once: the loser catches up and finds nothing left to commit", async () => {
    const [alice, bob, carol, g] = await threeInGroup();
    await carol.leave(g);
    const [a, b] = await Promise.all([alice.sync(), bob.sync()]);
    expect(errors([...a, ...b])).toEqual([]);
    await alice.sync();
    await bob.sync();
    expect(alice.group(g).epoch).toBe(3n);
    expect(bob.group(g).epoch).toBe(3n);
    expect(exporter(alice, g)).toBe(exporter(bob, g));
    expect(alice.members(g).sort()).toEqual([alice.identity, bob.identity].sort());
    await carol.sync();
    expect(carol.groups).toEqual([]);
  });

  it("a SelfRemove made stale by another commit is proposed again in the next epoch", async () => {
    const [alice, bob, carol, g] = await threeInGroup();
    await carol.leave(g);
    // Bob has not seen the proposal: his commit ends the epoch without it.
    expect(await bob.update(g)).toBe(3n);
    expect(membership(await alice.sync())).toMatchObject([{ by: bob.identity, removed: [] }]);
    expect(alice.members(g)).toContain(carol.identity);
    // Carol sees the new epoch still has her and proposes again; Alice commits that one.
    await carol.sync();
    expect(membership(await alice.sync())).toMatchObject([{ by: alice.identity, removed: [carol.identity] }]);
    await carol.sync();
    expect(carol.groups).toEqual([]);
    expect(await roster(alice, g)).toEqual([alice.identity, bob.identity].sort());
  });
});

describe("key updates on a schedule", () => {
  it("sync commits an Update once the interval since our last update has passed (injected clock)", async () => {
    let now = 1_000_000;
    const alice = await newClient(uniq("alice"), { keyUpdateIntervalMs: 60_000, now: () => now });
    const bob = await newClient(uniq("bob"));
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    await bob.sync();
    const leafKey = () => Buffer.from(alice.group(g).members.find((m) => m.leafIndex === alice.group(g).ownLeafIndex)!.leafNode.encryptionKey).toString("hex");
    const before = leafKey();

    now += 59_999;
    expect(membership(await alice.sync())).toEqual([]);
    expect(alice.group(g).epoch).toBe(1n);

    now += 1;
    expect(membership(await alice.sync())).toMatchObject([{ by: alice.identity, epoch: 2n, removed: [] }]);
    expect(leafKey()).not.toBe(before);
    // The interval restarts from that update.
    now += 30_000;
    await alice.sync();
    expect(alice.group(g).epoch).toBe(2n);
    now += 30_000;
    await alice.sync();
    expect(alice.group(g).epoch).toBe(3n);

    await bob.sync();
    expect(bob.group(g).epoch).toBe(3n);
    expect(exporter(alice, g)).toBe(exporter(bob, g));
  });
});

describe("key updates after N messages", () => {
  it("sync commits an Update once N application messages were sent or received since our last update", async () => {
    const alice = await newClient(uniq("alice"), { keyUpdateAfterMessages: 3 });
    const bob = await newClient(uniq("bob"));
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    await bob.sync();
    await alice.send(g, "one");
    await bob.send(g, "two");
    await alice.sync(); // two messages so far: no update
    expect(alice.group(g).epoch).toBe(1n);
    await alice.send(g, "three");
    expect(membership(await alice.sync())).toMatchObject([{ by: alice.identity, epoch: 2n }]);
    await alice.sync(); // the count restarted
    expect(alice.group(g).epoch).toBe(2n);
    await bob.sync();
    expect(exporter(alice, g)).toBe(exporter(bob, g));
  });
});

/** Alice's group with Bob in it (joined); Bob's client runs on a store the test keeps. */
async function aliceWithStoredBob(): Promise<{ alice: Client; bob: Client; store: MemoryStore; g: string }> {
  const alice = await newClient(uniq("alice"));
  const store = new MemoryStore();
  const bob = await Client.open({ serverUrl: server().url, store });
  await bob.register(uniq("bob"), "laptop");
  const g = await alice.createGroup();
  await alice.addUser(g, bob.user);
  await bob.sync();
  return { alice, bob, store, g };
}

describe("recovery after local state loss (RFC 9750 §6.6)", () => {
  it("a client whose store lost the group rejoins by external commit, replacing its old leaf; the DS roster keeps it once", async () => {
    const { alice, bob, store, g } = await aliceWithStoredBob();
    await alice.send(g, "before the loss");
    await bob.sync();
    const oldLeaf = bob.group(g).ownLeafIndex;

    // The group's state is gone from Bob's store; his identity and queue cursor survive.
    await store.delete(`group:${g}`);
    const bob2 = await Client.open({ serverUrl: server().url, store });
    expect(bob2.groups).toEqual([]);
    expect(await bob2.recover(g)).toBe(2n);
    // The old leaf was removed in the same commit, so the rejoin takes that (leftmost blank) leaf again.
    expect(bob2.group(g).ownLeafIndex).toBe(oldLeaf);
    expect(bob2.members(g).sort()).toEqual([alice.identity, bob2.identity].sort());

    const aliceSaw = await alice.sync();
    expect(errors(aliceSaw)).toEqual([]);
    expect(membership(aliceSaw)).toMatchObject([{ by: "external", removed: [bob2.identity], added: [bob2.identity] }]);
    expect(alice.members(g).sort()).toEqual([alice.identity, bob2.identity].sort());
    expect(exporter(alice, g)).toBe(exporter(bob2, g));
    expect(await roster(alice, g)).toEqual([alice.identity, bob2.identity].sort());

    await alice.send(g, "after the resync");
    await bob2.send(g, "back again");
    expect((await bob2.sync()).flatMap((e) => (e.type === "message" ? [e.text] : []))).toEqual(["after the resync"]);
    expect((await alice.sync()).flatMap((e) => (e.type === "message" ? [e.text] : []))).toEqual(["back again"]);
  });
});

describe("resync is only for one's own leaf", () => {
  it("the DS refuses an external commit by a roster member that removes another member's leaf", async () => {
    const { alice, bob, store, g } = await aliceWithStoredBob();
    const id = JSON.parse(new TextDecoder().decode((await store.get("identity"))!)) as { signaturePublicKey: string; signaturePrivateKey: string };
    const info = await bob.transport.request<GroupInfoResponse>("groupInfo", { params: { groupId: g }, token: await bob.token() });
    // Bob, on the roster, sends a "resync" that removes Alice's leaf instead of his own.
    const { commit, groupInfo } = await Group.joinExternal(fromBase64Url(info.groupInfo), {
      provider: nodeCryptoProvider,
      identity: {
        credential: { credentialType: CredentialType.basic, identity: new TextEncoder().encode(bob.identity) },
        signaturePrivateKey: fromBase64Url(id.signaturePrivateKey),
        signaturePublicKey: fromBase64Url(id.signaturePublicKey),
      },
      removeLeaf: alice.group(g).ownLeafIndex,
      capabilities: { proposals: [ProposalType.selfRemove] },
      ratchetTree: fromBase64Url(info.ratchetTree),
      // A malicious client skips its own library's resync check; the DS must not rely on it.
      config: { sameIdentity: () => true },
    });
    const r = bob.transport.request("postCommit", { params: { groupId: g }, token: await bob.token(), json: { commit: toBase64Url(commit), groupInfo: toBase64Url(groupInfo) } });
    // The DS's own validation (RFC 9420 §12.4.3.2) refuses it before any policy is consulted.
    await expect(r).rejects.toSatisfy((e) => isApiError(e, "EXTERNAL_COMMIT_RESYNC_IDENTITY"));
    expect(await roster(alice, g)).toEqual([alice.identity, bob.identity].sort());
  });
});
