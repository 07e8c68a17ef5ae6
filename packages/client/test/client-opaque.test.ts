/**
 * Opaque groups through the SDK over a real DS+AS (issue 17 item 5, RFC 9750
 * §5.3): handshakes are PrivateMessages the DS cannot read, it keeps every
 * commit of an epoch, and every member applies the first one it can validate.
 * A garbage commit posted first does not stop the group; two members
 * committing in the same epoch end in the same state (the later one applies
 * the first and commits again). A member that leaves takes itself off the
 * DS roster (POST /leave), which cannot see the encrypted removal.
 */
import { describe, expect, it } from "vitest";
import { toBase64Url, type GroupResponse } from "@conclave/api";
import { ContentType, encode, mlsMessageCodec, WireFormat } from "@conclave/mls";
import { Client, MemoryStore } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("o");
const open = () => Client.open({ serverUrl: server().url, store: new MemoryStore() });

async function dsGroup(c: Client, g: string): Promise<GroupResponse> {
  const r = await fetch(`${server().url}/v1/groups/${g}`, { headers: { authorization: `Bearer ${await c.token()}` } });
  return (await r.json()) as GroupResponse;
}

/** A PrivateMessage commit nobody can open, posted with `c`'s token. */
async function postGarbageCommit(c: Client, g: string, epoch: number): Promise<number> {
  const groupId = Uint8Array.from(Buffer.from(g, "base64url"));
  const commit = encode(mlsMessageCodec, {
    wireFormat: WireFormat.privateMessage,
    privateMessage: {
      groupId,
      epoch: BigInt(epoch),
      contentType: ContentType.commit,
      authenticatedData: new Uint8Array(0),
      encryptedSenderData: new Uint8Array(28).fill(7),
      ciphertext: new Uint8Array(90).fill(9),
    },
  });
  const r = await fetch(`${server().url}/v1/groups/${g}/commits`, {
    method: "POST",
    headers: { authorization: `Bearer ${await c.token()}`, "content-type": "application/json" },
    body: JSON.stringify({ commit: toBase64Url(commit) }),
  });
  return r.status;
}

const texts = (evs: Awaited<ReturnType<Client["sync"]>>) => evs.filter((e) => e.type === "message").map((e) => (e as { text: string }).text);

describe("opaque groups through the SDK", () => {
  it("members skip a garbage commit, apply the first valid one, and settle a race on the first", async () => {
    const [alice, bob, carol] = await Promise.all([open(), open(), open()]);
    const [a, b, c] = [uniq("alice"), uniq("bob"), uniq("carol")];
    await alice.register(a, "pc");
    await bob.register(b, "pc");
    await carol.register(c, "pc");
    const g = await alice.createGroup({ handshakes: "private" });
    expect((await dsGroup(alice, g)).handshakes).toBe("private");
    await alice.addUser(g, b);
    await alice.addUser(g, c);
    expect((await bob.sync()).some((e) => e.type === "joined")).toBe(true);
    expect((await carol.sync()).some((e) => e.type === "joined")).toBe(true);
    expect(bob.members(g).sort()).toEqual(alice.members(g).sort());

    // Carol's garbage arrives first and moves the DS on; Bob's valid commit of the same epoch is kept after it.
    const epoch = (await dsGroup(alice, g)).epoch;
    expect(await postGarbageCommit(carol, g, epoch)).toBe(202);
    expect((await dsGroup(alice, g)).epoch).toBe(epoch + 1);
    expect(await bob.update(g)).toBe(BigInt(epoch + 1));
    const seen = await alice.sync();
    expect(seen.filter((e) => e.type === "membership")).toHaveLength(1);
    await carol.sync();
    await alice.send(g, "after the garbage");
    expect(texts(await bob.sync())).toEqual(["after the garbage"]);
    expect(texts(await carol.sync())).toEqual(["after the garbage"]);

    // Bob and Carol commit in the same epoch: the DS keeps both, everyone applies Bob's (first), Carol commits again.
    await bob.update(g);
    await carol.update(g);
    await alice.sync();
    await bob.sync();
    const final = (await dsGroup(alice, g)).epoch;
    expect(final).toBe(epoch + 3);
    await alice.send(g, "one state");
    expect(texts(await bob.sync())).toEqual(["one state"]);
    expect(texts(await carol.sync())).toEqual(["one state"]);

    // Carol leaves (SelfRemove, committed by Alice): the DS cannot read that commit, so Carol's client
    // takes itself off the DS roster once it has seen it.
    await carol.leave(g);
    await alice.sync();
    expect((await dsGroup(alice, g)).members).toHaveLength(3);
    await carol.sync();
    expect(carol.groups).toEqual([]);
    expect((await dsGroup(alice, g)).members.sort()).toEqual([alice.identity, bob.identity].sort());
    await alice.send(g, "two of us");
    expect(texts(await bob.sync())).toEqual(["two of us"]);
  });
});
