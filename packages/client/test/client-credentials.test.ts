/**
 * Members authenticated with the AS (RFC 9750 §4): our own credential is
 * issued and proven in the transparency log at registration; other members'
 * credentials are validated when we add them (refused if invalid) and when we
 * join or see them added (reported as "untrusted" events).
 */
import { describe, expect, it } from "vitest";
import { isApiError, type ListCredentialsResponse, type LeavesResponse } from "@conclave/api";
import { Client, MemoryStore, type ClientEvent, type ClientOptions } from "../src/index.js";
import { sharedTestServer } from "./server.js";

const { server, uniq } = sharedTestServer("v");
async function newClient(name: string, opts: Partial<ClientOptions> = {}): Promise<Client> {
  const c = await Client.open({ serverUrl: server().url, store: new MemoryStore(), ...opts });
  await c.register(uniq(name), "laptop");
  return c;
}
const untrusted = (evs: ClientEvent[]) => evs.flatMap((e) => (e.type === "untrusted" ? [{ member: e.member, reason: e.reason }] : []));

/** Dave's client revokes its own credential with the AS (the client stays registered, its KeyPackages stay on the DS). */
async function revokedDave(): Promise<Client> {
  const dave = await newClient("dave");
  const token = await dave.token();
  const list = await dave.transport.request<ListCredentialsResponse>("listCredentials", { token });
  expect(list.credentials.map((c) => c.identity)).toEqual([dave.identity]);
  await dave.transport.request("revokeCredential", { params: { credentialId: list.credentials[0]!.credentialId }, json: { reason: "test" }, token });
  return dave;
}

describe("credential validation with the AS", () => {
  it("members with valid credentials raise nothing", async () => {
    const [alice, bob] = await Promise.all([newClient("alice"), newClient("bob")]);
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    const evs = await bob.sync();
    expect(evs.map((e) => e.type)).toEqual(["joined"]);
  });

  it("addUser refuses a device whose credential the AS revoked, and the next sync reports it", async () => {
    const [alice, dave] = await Promise.all([newClient("alice"), revokedDave()]);
    const g = await alice.createGroup();
    await expect(alice.addUser(g, dave.user)).rejects.toSatisfy((e) => isApiError(e, "LEAF_NODE_INVALID_CREDENTIAL"));
    expect(alice.members(g)).toEqual([alice.identity]);
    expect(untrusted(await alice.sync())).toEqual([{ member: dave.identity, reason: "revoked" }]);
  });

  it("a member added by someone who does not validate is reported on commit and on join", async () => {
    const bob = await newClient("bob", { validateCredentials: false });
    const [alice, carol, dave] = await Promise.all([newClient("alice"), newClient("carol"), revokedDave()]);
    const g = await bob.createGroup();
    await bob.addUser(g, alice.user);
    expect(untrusted(await alice.sync())).toEqual([]);
    expect(await bob.addUser(g, dave.user)).toEqual([dave.identity]);
    const aliceSaw = await alice.sync();
    expect(aliceSaw.map((e) => e.type)).toEqual(["membership", "untrusted"]);
    expect(untrusted(aliceSaw)).toEqual([{ member: dave.identity, reason: "revoked" }]);
    await bob.addUser(g, carol.user);
    expect(untrusted(await carol.sync())).toEqual([{ member: dave.identity, reason: "revoked" }]);
  });

  /** Runs `f` while the DS answers `path` requests with `rewrite` of the real answer. */
  async function withRewrite<T>(path: string, rewrite: (url: string, body: unknown) => Promise<unknown>, f: () => Promise<T>): Promise<T> {
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      if (!String(input).includes(path)) return res;
      const body = await rewrite(String(input), await res.json());
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    };
    try {
      return await f();
    } finally {
      globalThis.fetch = realFetch;
    }
  }

  /** A forked log's answer: a consistency proof of the right length whose hashes are made up. */
  const forgedConsistencyProof = async (_url: string, body: unknown) => {
    const c = body as { proof: string[] };
    return { ...c, proof: c.proof.map(() => Buffer.alloc(32, 7).toString("base64url")) };
  };

  /**
   * Carol joins after every tree head `viewer` has accepted, so checking her needs a newer head; a forked
   * log answers with a consistency proof that does not hold, and `viewer`'s sync must report her.
   */
  async function expectForkedLogCaught(alice: Client, g: string, viewer: Client): Promise<void> {
    const carol = await newClient("carol");
    await alice.addUser(g, carol.user);
    const evs = await withRewrite("/v1/transparency/consistency", forgedConsistencyProof, () => viewer.sync());
    expect(untrusted(evs)).toEqual([{ member: carol.identity, reason: "not_in_log" }]);
  }

  it("a member the AS calls valid but whose binding the log does not prove is reported (not_in_log)", async () => {
    const [alice, bob] = await Promise.all([newClient("alice"), newClient("bob")]);
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    // When bob checks alice, the log shows bob's own binding at alice's index.
    const own = await bob.transport.request<ListCredentialsResponse>("listCredentials", { token: await bob.token() });
    const bobsIndex = own.credentials[0]!.logIndex;
    const bobsLeaf = await fetch(`${server().url}/v1/transparency/leaves?start=${bobsIndex}&end=${bobsIndex + 1}`).then((r) => r.json() as Promise<LeavesResponse>);
    const evs = await withRewrite(
      "/v1/transparency/leaves",
      async (url, body) => (url.includes(`start=${bobsIndex}&`) ? body : { ...(body as LeavesResponse), leaves: bobsLeaf.leaves }),
      () => bob.sync(),
    );
    expect(evs.map((e) => e.type)).toEqual(["joined", "untrusted"]);
    expect(untrusted(evs)).toEqual([{ member: alice.identity, reason: "not_in_log" }]);
  });

  it("a tree head that does not extend the last one seen fails the log check", async () => {
    const [alice, bob] = await Promise.all([newClient("alice"), newClient("bob")]);
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    expect(untrusted(await bob.sync())).toEqual([]);
    await expectForkedLogCaught(alice, g, bob);
  });

  it("the last accepted tree head survives a restart: a forked log is still caught afterwards", async () => {
    const alice = await newClient("alice");
    const store = new MemoryStore();
    const bob = await Client.open({ serverUrl: server().url, store });
    await bob.register(uniq("bob"), "laptop");
    const g = await alice.createGroup();
    await alice.addUser(g, bob.user);
    expect(untrusted(await bob.sync())).toEqual([]);
    const bobAgain = await Client.open({ serverUrl: server().url, store });
    await expectForkedLogCaught(alice, g, bobAgain);
  });

  it("registration fails when the transparency log does not prove our binding", async () => {
    await newClient("first"); // leaf 0 of the log is someone else's
    // A log that shows someone else's leaf at our index.
    const other = await fetch(`${server().url}/v1/transparency/leaves?start=0&end=1`).then((r) => r.json() as Promise<LeavesResponse>);
    const c = withRewrite(
      "/v1/transparency/leaves",
      async (_url, body) => ({ ...(body as LeavesResponse), leaves: other.leaves }),
      () => Client.open({ serverUrl: server().url, store: new MemoryStore() }).then((x) => x.register(uniq("eve"), "pc")),
    );
    await expect(c).rejects.toSatisfy((e) => isApiError(e, "AUTH_SIGNATURE_INVALID"));
  });
});
