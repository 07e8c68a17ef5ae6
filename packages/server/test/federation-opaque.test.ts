/**
 * Issue 22 with opaque groups (RFC 9750 §5.3): a member of a follower domain
 * leaves and reports through its home server, which forwards to the hub
 * (groupRouter.ts); the hub judges as for a local member, and its refusals
 * come back through the follower with the hub's code. The test plays the
 * attackers: a false report, a stranger of the follower domain, a member who
 * left. Real servers of both domains on loopback, every engine.
 */
import { describe, expect, it } from "vitest";
import { toBase64Url, type ClaimKeyPackagesResponse, type GroupResponse, type QueueResponse } from "@conclave/api";
import { Group } from "@conclave/mls";
import { uploadKeyPackages } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { commitsOf, createGroup, groupPath, memberKeyPackage, OPAQUE_CONFIG, opaqueGroupOptions, postBundle, type Member } from "./support/mlsGroup.js";
import { crypto, errorCode, registerDevice, type Device, type Reply, type RunningServer } from "./support/server.js";
import { domains, serversClosedAfterEach, startDomain } from "./federation/support.js";

const servers = serversClosedAfterEach();

const refused = (r: Reply, status: number, code: string) => expect([r.status, errorCode(r)], JSON.stringify(r.body)).toEqual([status, code]);

/** Polls `f` until it returns a value (the hub pushes to followers every 200 ms). */
async function eventually<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; ;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("gave up waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(ENGINES)("federation: opaque groups across domains [$name]", (engine) => {
  describe.skipIf(!engine.available)("", () => {
    /** The hub example.com (alice's home, where the group lives) and the follower b.example (bob's, carol's). */
    async function remoteMember(): Promise<{ hub: RunningServer; home: RunningServer; alice: Member; bob: Member; carol: Device }> {
      const ds = await domains(["example.com", "b.example"]);
      const [hub, home] = await servers.up(...ds.map((d) => startDomain(engine, d, ds)));
      const alice = await registerDevice(hub!, "alice", "d");
      const [bob, carol] = [await registerDevice(home!, "bob", "d"), await registerDevice(home!, "carol", "d")];
      // Bob's binding in b.example's log, which the hub checks before it takes him on as a stand-in.
      expect((await home!.request("POST", "/v1/as/credentials", { json: { type: "basic" }, token: bob.token })).status).toBe(201);
      const kp = await memberKeyPackage(bob, undefined, "b.example");
      expect((await uploadKeyPackages(home!, bob, [kp])).status).toBe(201);
      const claim = await hub!.request<ClaimKeyPackagesResponse>("POST", "/v1/users/bob@b.example/key-packages/claim", { token: alice.token, json: { cipherSuites: [1] } });
      expect(claim.body.keyPackages.map((k) => k.keyPackage)).toEqual([toBase64Url(kp.message)]);

      const ma = await createGroup(hub!, alice, opaqueGroupOptions());
      const add = await ma.group.createCommit({ add: [kp.message] });
      const r = await postBundle(hub!, alice, ma.group.groupId, add);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      ma.group.mergePendingCommit();
      // The Welcome reaches bob through his home server, which learns the group's hub from it.
      await eventually(async () => (await home!.request<QueueResponse>("GET", "/v1/queue", { token: bob.token })).body.messages.find((m) => m.kind === "welcome"));
      const joined = await Group.join(add.welcome!, { provider: crypto, keyPackages: [kp], config: OPAQUE_CONFIG });
      return { hub: hub!, home: home!, alice: ma, bob: { device: bob, group: joined }, carol };
    }

    const act = (s: RunningServer, d: Device, g: Uint8Array, rest: string, json?: unknown) =>
      s.request("POST", groupPath(g, rest), { token: d.token, ...(json === undefined ? {} : { json }) });
    const roster = async (s: RunningServer, d: Device, g: Uint8Array) => (await s.request<GroupResponse>("GET", groupPath(g), { token: d.token })).body;
    const standingCommits = async (s: RunningServer, d: Device, g: Uint8Array, epoch: number) => (await commitsOf(s, d, g, epoch)).map((m) => m.seq);

    it("a remote member leaves through its home server; the hub's roster follows", async () => {
      const { hub, home, alice, bob } = await remoteMember();
      const g = alice.group.groupId;
      expect((await roster(hub, alice.device, g)).members).toEqual(["alice@example.com#d", "bob@b.example#d"]);
      const left = await act(home, bob.device, g, "/leave");
      expect(left.status, JSON.stringify(left.body)).toBe(200);
      expect((await roster(hub, alice.device, g)).members).toEqual(["alice@example.com#d"]);
      // Leaving twice: the hub's code, relayed.
      refused(await act(home, bob.device, g, "/leave"), 403, "NOT_GROUP_MEMBER");
    });

    it("false, stranger's and left member's reports are refused by the hub and relayed by code; the commit stands", async () => {
      const { hub, home, alice, bob, carol } = await remoteMember();
      const g = alice.group.groupId;
      // Alice's valid commit for epoch 1; bob discloses it (it opens to a well-formed content signed by alice).
      const valid = await alice.group.createCommit();
      expect((await postBundle(hub, alice.device, g, valid)).status).toBe(202);
      alice.group.mergePendingCommit();
      const [seq] = await standingCommits(hub, alice.device, g, 1);
      const disclosure = await bob.group.disclosePrivateMessage(valid.commit);
      const report = (d: Device, bytes: Uint8Array) => act(home, d, g, "/reports", { seq: seq!, disclosure: toBase64Url(bytes) });

      refused(await report(bob.device, disclosure), 409, "REPORT_UNPROVEN");
      const tampered = disclosure.slice();
      tampered[tampered.length - 1]! ^= 1;
      refused(await report(bob.device, tampered), 422, "REPORT_EVIDENCE_INVALID");
      // Carol of b.example is in no group of the hub: b.example may not act for her there.
      refused(await report(carol, disclosure), 403, "FEDERATION_NOT_PARTICIPANT");
      expect((await act(home, bob.device, g, "/leave")).status).toBe(200);
      refused(await report(bob.device, disclosure), 403, "NOT_GROUP_MEMBER");

      expect(await standingCommits(hub, alice.device, g, 1)).toEqual([seq]);
      expect((await roster(hub, alice.device, g)).epoch).toBe(2);
    });
  });
});
