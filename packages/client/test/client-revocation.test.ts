/**
 * Issue 17 item 3 over a real DS+AS: revoking a device reaches its groups.
 * The DS, listed in every Conclave group's external_senders, proposes the
 * revoked leaf's removal; the next member to sync commits it, and every
 * member sees the device leave.
 */
import { describe, expect, it } from "vitest";
import { Client, MemoryStore } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("r");
const open = () => Client.open({ serverUrl: server().url, store: new MemoryStore() });

describe("revocation reaches groups", () => {
  it("a revoked laptop is removed from the group by the DS's proposal, committed by a member", async () => {
    const alice = await open();
    await alice.register(uniq("alice"), "pc");
    const bob = uniq("bob");
    const phone = await open();
    await phone.register(bob, "phone");
    const laptop = await open();
    const { payload } = await laptop.requestLink(bob, "laptop");
    await phone.approveDevice(payload);
    await laptop.completeLink();

    const g = await alice.createGroup();
    expect((await alice.addUser(g, bob)).sort()).toEqual([`${bob}@example.com#laptop`, `${bob}@example.com#phone`]);
    await phone.sync();
    await laptop.sync();
    expect(laptop.members(g)).toContain(`${bob}@example.com#laptop`);

    await phone.revokeDevice("laptop");
    const seen = await alice.sync();
    const membership = seen.filter((e) => e.type === "membership");
    expect(membership).toHaveLength(1);
    expect(membership[0]).toMatchObject({ groupId: g, removed: [`${bob}@example.com#laptop`] });
    expect(alice.members(g).sort()).toEqual([alice.identity, `${bob}@example.com#phone`].sort());

    // Bob's phone applies the same commit; both still talk.
    const phoneSaw = await phone.sync();
    expect(phoneSaw.filter((e) => e.type === "membership").map((e) => (e as { removed: string[] }).removed)).toEqual([[`${bob}@example.com#laptop`]]);
    await alice.send(g, "after revocation");
    expect((await phone.sync()).filter((e) => e.type === "message").map((e) => (e as { text: string }).text)).toEqual(["after revocation"]);
  });
});
