/**
 * Issue 22 stage C, attacks on the hub and follower routes: a peer domain
 * (played by the test, with a key the server has pinned) may act only for
 * its own users and only in groups where they are members, and may deliver
 * only for groups it is the hub of. Each refusal asserted by code.
 */
import { describe, expect, it } from "vitest";
import { toBase64Url } from "@conclave/api";
import type { KeyPair } from "@conclave/mls";
import { crypto, errorCode, registerDevice, type RunningServer } from "./support/server.js";
import { ENGINES, type TestEngine } from "./support/engines.js";
import { createGroup } from "./support/mlsGroup.js";
import { domains, serversClosedAfterEach, signedHeaders, startDomain } from "./federation/support.js";

const servers = serversClosedAfterEach();

async function setup(engine: TestEngine): Promise<{ a: RunningServer; keys: KeyPair }> {
  const keys = await crypto.suite(1).signatureGenerateKeyPair();
  // The hub is example.com: the MLS test helpers issue identities of that domain.
  const [dA, dB] = await domains(["example.com", "b.example"]);
  const a = (await servers.up(startDomain(engine, dA!, [dA!, dB!], { pinned: { "b.example": keys.publicKey } })))[0]!;
  return { a, keys };
}

/** A signed S2S POST from b.example. */
async function fromB(a: RunningServer, keys: KeyPair, path: string, json: unknown) {
  const body = JSON.stringify(json);
  const headers = await signedHeaders(keys, { origin: "b.example", target: "example.com", method: "POST", path, body: new TextEncoder().encode(body), timestamp: a.clock.now });
  return a.request("POST", path, { body, headers: { ...headers, "content-type": "application/json" } });
}

describe.each(ENGINES)("federation: the hub and follower routes refuse what a domain may not do [$name]", (engine) => {
  describe.skipIf(!engine.available)("", () => {
    it("a domain acts only for its own users, and only for members", async () => {
      const { a, keys } = await setup(engine);
      const alice = await registerDevice(a, "alice", "phone");
      const groupId = (await createGroup(a, alice)).group.groupId;
      const g = toBase64Url(groupId);
      // b.example names the hub's own user: refused.
      const impersonate = await fromB(a, keys, "/federation/v1/groups/act", { op: "get", groupId: g, identity: "alice@example.com#phone", signatureKey: toBase64Url(alice.keys.publicKey) });
      expect([impersonate.status, errorCode(impersonate)]).toEqual([403, "FEDERATION_NOT_PARTICIPANT"]);
      // Its own user, but not in any group of this hub: refused.
      const outsider = await fromB(a, keys, "/federation/v1/groups/act", { op: "groupInfo", groupId: g, identity: "bob@b.example#laptop", signatureKey: toBase64Url(keys.publicKey) });
      expect([outsider.status, errorCode(outsider)]).toEqual([403, "FEDERATION_NOT_PARTICIPANT"]);
      const junk = await fromB(a, keys, "/federation/v1/groups/act", { op: "get", groupId: g });
      expect([junk.status, errorCode(junk)]).toEqual([400, "BAD_REQUEST"]);
    });

    it("a domain delivers only for groups it is the hub of, and each entry once", async () => {
      const { a, keys } = await setup(engine);
      const alice = await registerDevice(a, "alice", "phone");
      const groupId = (await createGroup(a, alice)).group.groupId;
      const entry = (groupIdText: string, seq: number) => ({
        key: "ab".repeat(31) + seq.toString(16).padStart(2, "0"),
        source: "group",
        seq,
        kind: "application",
        groupId: groupIdText,
        epoch: 0,
        message: toBase64Url(new Uint8Array([1, 2, 3])),
        createdAt: 1,
      });
      // example.com is the hub of its own group: b.example may not deliver into it.
      const own = await fromB(a, keys, "/federation/v1/deliver", { recipient: "alice@example.com#phone", entries: [entry(toBase64Url(groupId), 1)] });
      expect([own.status, errorCode(own)]).toEqual([403, "FEDERATION_NOT_PARTICIPANT"]);
      // A recipient of another domain.
      const foreign = await fromB(a, keys, "/federation/v1/deliver", { recipient: "carol@c.example#x", entries: [] });
      expect([foreign.status, errorCode(foreign)]).toEqual([401, "FEDERATION_WRONG_DOMAIN"]);
      // A group b.example holds: delivered once, a retry applies nothing.
      const remote = toBase64Url(new Uint8Array(16).fill(9));
      const first = await fromB(a, keys, "/federation/v1/deliver", { recipient: "alice@example.com#phone", entries: [entry(remote, 1), entry(remote, 2)] });
      expect([first.status, first.body]).toEqual([200, { applied: 2 }]);
      const retry = await fromB(a, keys, "/federation/v1/deliver", { recipient: "alice@example.com#phone", entries: [entry(remote, 1), entry(remote, 2)] });
      expect(retry.body).toEqual({ applied: 0 });
      const queue = await a.request<{ messages: { source: string; groupId: string }[] }>("GET", "/v1/queue", { token: alice.token });
      expect(queue.body.messages.filter((m) => m.groupId === remote).length).toBe(2);
      // Malformed entries are refused whole.
      const bad = await fromB(a, keys, "/federation/v1/deliver", { recipient: "alice@example.com#phone", entries: [{ ...entry(remote, 3), kind: "root" }] });
      expect([bad.status, errorCode(bad)]).toEqual([400, "BAD_REQUEST"]);
    });
  });
});
