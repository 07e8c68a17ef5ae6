/**
 * Issue 17, played as the attacker against the real server on every engine:
 * a member, a removed member, a non-member and a replayer each try what used
 * to let them in, cut someone off or wedge the group. Every attempt must be
 * refused with its typed code, leave the group's epoch and roster as they
 * were, and the group must keep working for its honest members.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64Url, toBase64Url, type GroupInfoResponse, type GroupResponse, type QueueResponse } from "@conclave/api";
import { ContentType, encode, Group, mlsMessageCodec, WireFormat, type LeafIndex } from "@conclave/mls";
import { commitMessage, externalCommitMessage, NO_RATE_LIMITS, proposalMessage, uploadKeyPackages, welcomeFor } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { commit, deliver, groupOf, groupPath, identityOf, memberKeyPackage, MLS_CONFIG, postBundle, postMessage, type Member } from "./support/mlsGroup.js";
import { crypto, errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";

describe.each(ENGINES)("DS refuses what no member may do [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, limits: { ...NO_RATE_LIMITS.limits, mlsBodyBytes: 2 * 1024 * 1024 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  let n = 0;
  const device = (who: string) => registerDevice(s, `${who}${++n}-${engine.name}`, "d");
  const info = (d: Device, g: Uint8Array) => s.request<GroupInfoResponse>("GET", groupPath(g, "/group-info"), { token: d.token });
  const roster = async (d: Device, g: Uint8Array) => (await s.request<GroupResponse>("GET", groupPath(g), { token: d.token })).body;

  /** The group's DS epoch and roster stay as they were, and an honest commit and message still go through. */
  async function stillWorks(members: Member[], epoch: bigint): Promise<void> {
    const [a] = members;
    const r = await roster(a!.device, a!.group.groupId);
    expect(BigInt(r.epoch)).toBe(epoch);
    expect(r.members.sort()).toEqual(members.map((m) => `${m.device.user}@example.com#d`).sort());
    const pending = await a!.group.createCommit();
    const c = await commit(s, a!, pending);
    expect(c.status, JSON.stringify(c.body)).toBe(202);
    await deliver(members, a!, pending.commit);
    const msg = await a!.group.encryptApplicationMessage(new TextEncoder().encode("still here"));
    expect((await postMessage(s, a!.device, a!.group.groupId, msg)).status).toBe(202);
    for (const m of members.slice(1)) {
      const got = await m.group.processMessage(msg);
      expect(got.kind).toBe("application");
    }
  }

  function refused(r: { status: number; body: unknown }, status: number, code: string): void {
    expect([r.status, errorCode(r as never)], JSON.stringify(r.body)).toEqual([status, code]);
  }

  describe.skipIf(!engine.available)("", () => {
    it("a non-member cannot read a closed group's GroupInfo or tree, nor join it by external commit", async () => {
      const [a, b, x] = await Promise.all([device("a"), device("b"), device("x")]);
      const members = await groupOf(s, a, [b]);
      const g = members[0]!.group.groupId;
      refused(await info(x, g), 403, "GROUP_CLOSED");
      refused(await s.request("GET", groupPath(g, "/tree"), { token: x.token }), 403, "GROUP_CLOSED");
      // The trees kept for earlier epochs' Welcomes are for the roster only.
      refused(await s.request("GET", `${groupPath(g, "/tree")}?epoch=0`, { token: x.token }), 403, "NOT_GROUP_MEMBER");
      // Even with the GroupInfo (leaked by a member), the DS refuses the join.
      const leaked = (await info(b, g)).body;
      const ext = await Group.joinExternal(fromBase64Url(leaked.groupInfo), {
        provider: crypto,
        identity: identityOf(x),
        ratchetTree: fromBase64Url(leaked.ratchetTree),
        config: MLS_CONFIG,
      });
      refused(await postBundle(s, x, g, { commit: ext.commit, groupInfo: ext.groupInfo }), 403, "GROUP_CLOSED");
      // A corrupted external commit from the outsider changes nothing either.
      refused(await postBundle(s, x, g, { commit: externalCommitMessage(g, members[0]!.group.epoch), groupInfo: ext.groupInfo }), 400, "MESSAGE_INVALID_SENDER");
      await stillWorks(members, members[0]!.group.epoch);
    });

    it("a removed member cannot rejoin by external commit, read the GroupInfo, or post", async () => {
      const [a, b, c] = await Promise.all([device("a"), device("b"), device("c")]);
      const members = await groupOf(s, a, [b, c]);
      const [ma, mb, mc] = members;
      const g = ma!.group.groupId;
      const gi = (await info(c, g)).body; // fetched while still a member
      const removal = await ma!.group.createCommit({ remove: [mc!.group.ownLeafIndex as LeafIndex] });
      expect((await commit(s, ma!, removal)).status).toBe(202);
      await deliver([mb!], ma!, removal.commit);
      refused(await info(c, g), 403, "GROUP_CLOSED");
      refused(await s.request("GET", groupPath(g, "/tree"), { token: c.token }), 403, "GROUP_CLOSED");
      // The tree of the epoch c joined in is still kept (its Welcome's), but no longer for c.
      refused(await s.request("GET", `${groupPath(g, "/tree")}?epoch=1`, { token: c.token }), 403, "NOT_GROUP_MEMBER");
      // recover() as a removed member: a resync against the current GroupInfo it can no longer get, or the old one.
      const now = (await info(a, g)).body;
      for (const src of [now, gi]) {
        const ext = await Group.joinExternal(fromBase64Url(src.groupInfo), { provider: crypto, identity: identityOf(c), ratchetTree: fromBase64Url(src.ratchetTree), config: MLS_CONFIG });
        const r = await postBundle(s, c, g, { commit: ext.commit, groupInfo: ext.groupInfo });
        expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(400);
        expect(["GROUP_CLOSED", "EPOCH_MISMATCH"]).toContain(errorCode(r as never));
      }
      refused(await postMessage(s, c, g, await mc!.group.encryptApplicationMessage(new Uint8Array([1]))), 403, "NOT_GROUP_MEMBER");
      await stillWorks([ma!, mb!], ma!.group.epoch);
    });

    it("the roster follows the tree: no `removed` claim, no phantom from a junk Welcome", async () => {
      const [a, b, p] = await Promise.all([device("a"), device("b"), device("p")]);
      const members = await groupOf(s, a, [b]);
      const [ma] = members;
      const g = ma!.group.groupId;
      const epoch = ma!.group.epoch;
      // An empty commit that "removes" b: the field no longer exists.
      const empty = await ma!.group.createCommit();
      refused(await postBundle(s, a, g, empty, { removed: [`${b.user}@example.com#d`] }), 400, "BAD_REQUEST");
      ma!.group.clearPendingCommit();
      // A Welcome naming a KeyPackage the commit does not add: the phantom stays out.
      const kp = await memberKeyPackage(p);
      expect((await uploadKeyPackages(s, p, [kp])).status).toBe(201);
      const junk = await ma!.group.createCommit();
      refused(await postBundle(s, a, g, { ...junk, welcome: welcomeFor([kp.ref]) }), 400, "INVALID_ROSTER_CHANGE");
      ma!.group.clearPendingCommit();
      // An Add whose Welcome is missing or names another KeyPackage.
      const kq = await memberKeyPackage(p);
      const add = await ma!.group.createCommit({ add: [kq.message] });
      refused(await postBundle(s, a, g, { commit: add.commit, groupInfo: add.groupInfo }), 400, "INVALID_ROSTER_CHANGE");
      refused(await postBundle(s, a, g, { ...add, welcome: welcomeFor([kp.ref]) }), 400, "INVALID_ROSTER_CHANGE");
      ma!.group.clearPendingCommit();
      const queue = await s.request<QueueResponse>("GET", "/v1/queue", { token: p.token });
      expect(queue.body.messages).toEqual([]);
      refused(await s.request("GET", groupPath(g, "/handshakes"), { token: p.token }), 403, "NOT_GROUP_MEMBER");
      await stillWorks(members, epoch);
    });

    it("forged and relabelled handshakes do not move the epoch", async () => {
      const [a, b] = await Promise.all([device("a"), device("b")]);
      const members = await groupOf(s, a, [b]);
      const [ma, mb] = members;
      const g = ma!.group.groupId;
      const epoch = ma!.group.epoch;
      const gi = await (await ma!.group.createCommit()).groupInfo();
      ma!.group.clearPendingCommit();
      // An application message relabelled as a commit (PrivateMessage with content type commit).
      const asCommit = encode(mlsMessageCodec, {
        wireFormat: WireFormat.privateMessage,
        privateMessage: { groupId: g, epoch, contentType: ContentType.commit, authenticatedData: new Uint8Array(0), encryptedSenderData: new Uint8Array(28), ciphertext: new Uint8Array(64) },
      });
      refused(await postMessage(s, b, g, asCommit), 400, "BAD_REQUEST");
      refused(await postBundle(s, b, g, { commit: asCommit, groupInfo: gi }), 400, "UNEXPECTED_WIRE_FORMAT");
      // Forged commit headers (a valid shape, no valid signature), in b's name, in a's, and from no leaf at all.
      refused(await postBundle(s, b, g, { commit: commitMessage(g, epoch, 1), groupInfo: gi }), 400, "MESSAGE_INVALID_SIGNATURE");
      refused(await postBundle(s, b, g, { commit: commitMessage(g, epoch, 0), groupInfo: gi }), 400, "MESSAGE_INVALID_SIGNATURE");
      refused(await postBundle(s, b, g, { commit: commitMessage(g, epoch, 7), groupInfo: gi }), 400, "MESSAGE_INVALID_SENDER");
      // a's real commit, posted by b: validly signed, but not by the poster.
      const byA = await ma!.group.createCommit();
      refused(await postBundle(s, b, g, byA), 403, "SENDER_MISMATCH");
      ma!.group.clearPendingCommit();
      // A real commit by b with a's GroupInfo: the tree hash does not match.
      const real = await mb!.group.createCommit();
      refused(await postBundle(s, b, g, { commit: real.commit, groupInfo: gi }), 400, "GROUP_INFO_MISMATCH");
      // Replaying an accepted commit (after a real one moved on): the epoch is gone.
      const ok = await commit(s, mb!, real);
      expect(ok.status).toBe(202);
      await deliver(members, mb!, real.commit);
      refused(await postBundle(s, b, g, real), 409, "EPOCH_MISMATCH");
      await stillWorks(members, ma!.group.epoch);
    });

    it("proposals are validated and bounded: forged, oversized and too many are refused", async () => {
      const [a, b] = await Promise.all([device("a"), device("b")]);
      const members = await groupOf(s, a, [b]);
      const [ma, mb] = members;
      const g = ma!.group.groupId;
      const epoch = ma!.group.epoch;
      refused(await postMessage(s, b, g, proposalMessage(g, epoch)), 400, "UNEXPECTED_WIRE_FORMAT");
      const big = await mb!.group.proposeUpdate(undefined, { authenticatedData: new Uint8Array(70 * 1024) });
      refused(await postMessage(s, b, g, big.message), 413, "HANDSHAKE_TOO_LARGE");
      // A valid proposal is accepted, logged and committed by reference.
      const upd = await mb!.group.proposeUpdate();
      expect((await postMessage(s, b, g, upd.message)).status).toBe(202);
      await ma!.group.processMessage(upd.message);
      await stillWorks(members, epoch);
    });
  });
});
