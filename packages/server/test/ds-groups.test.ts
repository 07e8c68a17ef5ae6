import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupPolicyExtension, toBase64Url, type GroupInfoResponse, type GroupResponse, type HandshakesResponse } from "@conclave/api";
import { bytesEqual, Group, type LeafIndex } from "@conclave/mls";
import { ENGINES } from "./support/engines.js";
import { crypto, errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { ackCursor, applicationMessage, commitMessage, cursorThrough, NO_RATE_LIMITS, queueOf, unb64, welcomeFor } from "./ds-support.js";
import { addDevicesWithReply, commit, createGroup, deliver, groupOf, groupPath, identityOf, MLS_CONFIG, postBundle, postMessage, type Member } from "./support/mlsGroup.js";

const MLS = { "content-type": "message/mls" };

describe.each(ENGINES)("DS groups, ordering and fan-out [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, limits: { ...NO_RATE_LIMITS.limits, mlsBodyBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  const id = (d: Device) => `${d.user}@example.com#d`;
  const post = (d: Device, g: Uint8Array, bytes: Uint8Array) => postMessage(s, d, g, bytes);
  const group = async (d: Device, g: Uint8Array) => (await s.request<GroupResponse>("GET", groupPath(g), { token: d.token })).body;
  const groupInfo = (d: Device, g: Uint8Array) => s.request<GroupInfoResponse>("GET", groupPath(g, "/group-info"), { token: d.token });
  const refused = (r: { status: number; body: unknown }, status: number, code: string) => expect([r.status, errorCode(r as never)], JSON.stringify(r.body)).toEqual([status, code]);

  /** `by` commits (an empty commit unless told), the DS accepts it, the other members apply it. */
  async function commitAll(members: readonly Member[], by: Member, options: Parameters<Group["createCommit"]>[0] = {}) {
    const pending = await by.group.createCommit(options);
    const r = await commit(s, by, pending);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await deliver(members, by, pending.commit);
    return { pending, reply: r };
  }

  describe.skipIf(!engine.available)("", () => {
    it("creates a group from its creator's epoch-0 GroupInfo, with the creator as the only member, once", async () => {
      const [a, b] = await Promise.all(["a", "b"].map((x) => registerDevice(s, `g1${x}-${engine.name}`, "d")));
      const mls = await Group.create({ provider: crypto, cipherSuite: a!.cipherSuite, identity: identityOf(a!), config: MLS_CONFIG });
      const g = mls.groupId;
      const gi = toBase64Url(await mls.groupInfo({ ratchetTree: true }));
      // Issue 17: no group without the GroupInfo the DS checks; none for another group id; none signed by someone else.
      refused(await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } }), 400, "BAD_REQUEST");
      refused(await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(new TextEncoder().encode("another")), groupInfo: gi } }), 400, "WRONG_GROUP");
      refused(await s.request("POST", "/v1/groups", { token: b!.token, json: { groupId: toBase64Url(g), groupInfo: gi } }), 403, "SENDER_MISMATCH");
      refused(await s.request("GET", groupPath(g), { token: a!.token }), 404, "GROUP_NOT_FOUND");
      const r = await s.request<GroupResponse>("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g), groupInfo: gi } });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({ groupId: toBase64Url(g), epoch: 0, members: [id(a!)], handshakes: "public" });
      refused(await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g), groupInfo: gi } }), 409, "GROUP_EXISTS");
      refused(await s.request("GET", groupPath(new TextEncoder().encode(`none-${Math.random()}`)), { token: a!.token }), 404, "GROUP_NOT_FOUND");
    });

    it("adds members through a commit bundle, delivers the Welcome only to them, keeps GroupInfo and the handshake log", async () => {
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((x) => registerDevice(s, `g2${x}-${engine.name}`, "d")));
      const ma = await createGroup(s, a!);
      const g = ma.group.groupId;
      const add = await addDevicesWithReply(s, ma, [b!]);
      const mb = add.members[0]!;
      expect(add.reply.body).toEqual({ epoch: 1, delivered: 1 });
      expect((await group(a!, g)).members.sort()).toEqual([a!, b!].map(id).sort());
      const qb = await queueOf(s, b!);
      expect(qb.map((e) => [e.kind, e.epoch])).toEqual([["welcome", 1]]);
      expect(bytesEqual(unb64(qb[0]!.message), add.pending.welcome!)).toBe(true);
      expect(await queueOf(s, a!)).toEqual([]);
      expect(await queueOf(s, c!)).toEqual([]);
      // The GroupInfo the committer signed for epoch 1, with the tree of the DS's state: members only (issue 17 item 2).
      const gi = await groupInfo(b!, g);
      expect(gi.status).toBe(200);
      expect(gi.body.epoch).toBe(1);
      expect(bytesEqual(unb64(gi.body.groupInfo), await add.pending.groupInfo())).toBe(true);
      expect(bytesEqual(unb64(gi.body.ratchetTree), ma.group.ratchetTree())).toBe(true);
      refused(await groupInfo(c!, g), 403, "GROUP_CLOSED");

      // b adds c at epoch 1; a gets the commit, c the Welcome.
      const add2 = await addDevicesWithReply(s, mb, [c!]);
      const mc = add2.members[0]!;
      const qa = await queueOf(s, a!);
      expect(qa.map((e) => [e.kind, e.epoch])).toEqual([["handshake", 1]]);
      expect(bytesEqual(unb64(qa[0]!.message), add2.pending.commit)).toBe(true);
      await deliver([ma], mb, add2.pending.commit);
      expect((await queueOf(s, c!)).map((e) => e.kind)).toEqual(["welcome"]);

      // Catch-up: every accepted handshake since epoch 0, in order.
      const hs = await s.request<HandshakesResponse>("GET", groupPath(g, "/handshakes?sinceEpoch=0"), { token: c!.token });
      expect(hs.body.currentEpoch).toBe(2);
      expect(hs.body.messages.map((m) => [m.epoch, m.contentType, m.sender])).toEqual([
        [0, 3, id(a!)],
        [1, 3, id(b!)],
      ]);
      expect(hs.body.messages.map((m) => unb64(m.message))).toEqual([add.pending.commit, add2.pending.commit]);
      const since1 = await s.request<HandshakesResponse>("GET", groupPath(g, "/handshakes?sinceEpoch=1"), { token: a!.token });
      expect(since1.body.messages.map((m) => m.epoch)).toEqual([1]);

      // c removes a (the roster follows the tree's Remove): a still receives that commit, then is out of the roster.
      const removal = await commitAll([ma, mb, mc], mc, { remove: [ma.group.ownLeafIndex as LeafIndex] });
      expect(removal.reply.body).toEqual({ epoch: 3, delivered: 2 });
      expect((await group(b!, g)).members.sort()).toEqual([b!, c!].map(id).sort());
      expect((await queueOf(s, a!)).map((e) => e.epoch)).toEqual([1, 2]);
      // The GroupInfo is the one c's commit came with; a, no longer a member, cannot read it.
      const gi3 = await groupInfo(b!, g);
      expect([gi3.body.epoch, bytesEqual(unb64(gi3.body.groupInfo), await removal.pending.groupInfo())]).toEqual([3, true]);
      refused(await groupInfo(a!, g), 403, "GROUP_CLOSED");
      refused(await post(a!, g, applicationMessage(g, 3n, new Uint8Array([1]))), 403, "NOT_GROUP_MEMBER");
    });

    it("fans application messages out to the other members for the current and recent epochs, and acknowledges", async () => {
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((x) => registerDevice(s, `g3${x}-${engine.name}`, "d")));
      const members = await groupOf(s, a!, [b!, c!]);
      const [ma, , mc] = members;
      const g = ma!.group.groupId;
      // c makes a proposal at epoch 3 that never reaches the DS in time (a commits first).
      let stale: Uint8Array | undefined;
      for (let e = 1n; e <= 3n; e++) {
        if (e === 3n) stale = (await mc!.group.proposeUpdate()).message;
        await commitAll(members, ma!);
      }
      // Group at epoch 4; the default window accepts epochs 2..4.
      const app = applicationMessage(g, 4n, new Uint8Array([42]));
      const r = await post(b!, g, app);
      expect([r.status, r.body.delivered]).toEqual([202, 2]);
      expect((await post(b!, g, applicationMessage(g, 2n, new Uint8Array([1])))).status).toBe(202);
      const old = await post(b!, g, applicationMessage(g, 1n, new Uint8Array([1])));
      expect([old.status, errorCode(old as never), (old.body as unknown as { error: { currentEpoch: number } }).error.currentEpoch]).toEqual([409, "EPOCH_MISMATCH", 4]);
      const future = await post(b!, g, applicationMessage(g, 5n, new Uint8Array([1])));
      refused(future, 409, "EPOCH_MISMATCH");
      const qc = await queueOf(s, c!);
      expect(qc.map((e) => [e.kind, e.epoch])).toEqual([
        ["welcome", 1],
        ["handshake", 1],
        ["handshake", 2],
        ["handshake", 3],
        ["application", 4],
        ["application", 2],
      ]);
      expect(bytesEqual(unb64(qc[4]!.message), app)).toBe(true);
      expect((await queueOf(s, b!)).some((e) => e.kind === "application")).toBe(false);
      // Proposals: validated PublicMessages of the current epoch only, kept in the handshake log.
      expect((await post(c!, g, (await mc!.group.proposeUpdate()).message)).status).toBe(202);
      refused(await post(c!, g, stale!), 409, "EPOCH_MISMATCH");
      // Each message is stored once: the log positions are consecutive, the Welcome is c's alone.
      expect(qc.map((e) => [e.source, e.seq])).toEqual([
        ["direct", qc[0]!.seq],
        ["group", 2],
        ["group", 3],
        ["group", 4],
        ["group", 5],
        ["group", 6],
      ]);
      // Acknowledge up to the fourth entry (the Welcome and one group position): the rest stays.
      expect(await ackCursor(s, c!, cursorThrough(qc.slice(0, 4)))).toBe(2);
      // c's own proposal (position 7) is not sent back to it.
      expect((await queueOf(s, c!)).map((e) => e.seq)).toEqual([5, 6]);
      // An old or repeated acknowledgement moves nothing back; one past the log's end stops at its end.
      expect(await ackCursor(s, c!, cursorThrough(qc.slice(0, 2)))).toBe(0);
      expect(await ackCursor(s, c!, { direct: 0, groups: [{ groupId: toBase64Url(g), seq: 1_000_000 }] })).toBe(1);
      expect(await queueOf(s, c!)).toEqual([]);
      const later = applicationMessage(g, 4n, new Uint8Array([7]));
      expect((await post(b!, g, later)).status).toBe(202);
      expect((await queueOf(s, c!)).map((e) => bytesEqual(unb64(e.message), later))).toEqual([true]);
    });

    it("answers bad input with typed 4xx JSON and changes nothing", async () => {
      const [a, b, x] = await Promise.all(["a", "b", "x"].map((v) => registerDevice(s, `g4${v}-${engine.name}`, "d")));
      const ma = await createGroup(s, a!);
      const g = ma.group.groupId;
      const other = await createGroup(s, a!);
      const add = await addDevicesWithReply(s, ma, [b!]);
      const mb = add.members[0]!;
      // b proposes at epoch 1, too late: a's commit moves the group to epoch 2 first.
      const staleProposal = (await mb.group.proposeUpdate()).message;
      await commitAll([ma, mb], ma);
      const before = await group(a!, g);
      const qbBefore = await queueOf(s, b!);
      const proposal = (await ma.group.proposeUpdate()).message; // a valid proposal, never posted as is
      const otherProposal = (await other.group.proposeUpdate()).message;
      const pendingNext = await ma.group.createCommit(); // a valid commit of epoch 2, never posted as is
      const next = { commit: pendingNext.commit, groupInfo: await pendingNext.groupInfo() }; // asked before the commit is dropped
      ma.group.clearPendingCommit();
      const json = (body: Record<string, unknown>) => s.request("POST", groupPath(g, "/commits"), { token: a!.token, json: body });

      const cases: [string, () => Promise<{ status: number; body: unknown; headers: Headers }>, number, string | RegExp][] = [
        ["malformed", () => post(a!, g, new Uint8Array([0, 1, 0, 1, 9, 9])), 400, /^DECODE_/],
        ["empty", () => post(a!, g, new Uint8Array(0)), 400, /^(DECODE_|BAD_REQUEST)/],
        ["trailing bytes", () => post(a!, g, new Uint8Array([...proposal, 0])), 400, "DECODE_TRAILING_BYTES"],
        ["wrong group", () => post(a!, g, otherProposal), 400, "WRONG_GROUP"],
        ["welcome as message", () => post(a!, g, add.pending.welcome!), 400, "UNEXPECTED_WIRE_FORMAT"],
        ["commit as message", () => post(a!, g, next.commit), 400, "BAD_REQUEST"],
        ["stale proposal", () => post(b!, g, staleProposal), 409, "EPOCH_MISMATCH"],
        ["replayed commit", () => postBundle(s, a!, g, add.pending), 409, "EPOCH_MISMATCH"],
        ["future epoch", () => postBundle(s, a!, g, { commit: commitMessage(g, 5n), groupInfo: next.groupInfo }), 409, "EPOCH_MISMATCH"],
        ["non-member", () => post(x!, g, applicationMessage(g, 2n, new Uint8Array([1]))), 403, "NOT_GROUP_MEMBER"],
        ["a Welcome naming a KeyPackage the commit does not add", () => postBundle(s, a!, g, { ...next, welcome: welcomeFor([new Uint8Array(32).fill(9)]) }), 400, "INVALID_ROSTER_CHANGE"],
        ["a claimed roster change (`removed` is no field)", () => json({ commit: toBase64Url(next.commit), groupInfo: toBase64Url(next.groupInfo), removed: [id(b!)] }), 400, "BAD_REQUEST"],
        [
          "a client's ratchet tree (no field either)",
          () => json({ commit: toBase64Url(next.commit), groupInfo: toBase64Url(next.groupInfo), ratchetTree: toBase64Url(ma.group.ratchetTree()) }),
          400,
          "BAD_REQUEST",
        ],
        ["commit without its GroupInfo", () => json({ commit: toBase64Url(next.commit) }), 400, "BAD_REQUEST"],
        ["GroupInfo of the wrong epoch", () => postBundle(s, a!, g, { commit: next.commit, groupInfo: add.pending.groupInfo }), 400, "GROUP_INFO_MISMATCH"],
        ["application as bundle commit", () => postBundle(s, a!, g, { commit: applicationMessage(g, 2n, new Uint8Array(1)), groupInfo: next.groupInfo }), 400, "UNEXPECTED_WIRE_FORMAT"],
        ["oversize", () => post(a!, g, new Uint8Array(64 * 1024 + 1)), 413, "PAYLOAD_TOO_LARGE"],
        ["JSON to the message route", () => s.request("POST", groupPath(g, "/messages"), { token: a!.token, json: { x: 1 } }), 415, "UNSUPPORTED_MEDIA_TYPE"],
        ["no token", () => s.request("POST", groupPath(g, "/messages"), { headers: MLS, body: Buffer.from(proposal) }), 401, "AUTH_REQUIRED"],
      ];
      for (const [name, run, status, code] of cases) {
        const r = await run();
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(status);
        expect(r.headers.get("content-type"), name).toMatch(/^application\/json/);
        expect(errorCode(r as never), name).toMatch(code);
      }
      expect(await group(a!, g)).toEqual(before);
      expect(await queueOf(s, b!)).toEqual(qbBefore);
      const hs = await s.request<HandshakesResponse>("GET", groupPath(g, "/handshakes"), { token: a!.token });
      expect(hs.body.messages.length).toBe(2);
      // The untouched commit still goes through: nothing above moved the group.
      expect((await postBundle(s, a!, g, next)).status).toBe(202);
    });

    it("lets a non-member join an open group through an external commit for the current epoch, once", async () => {
      const [a, b, x] = await Promise.all(["a", "b", "x"].map((v) => registerDevice(s, `g6${v}-${engine.name}`, "d")));
      const ma = await createGroup(s, a!, { extensions: [groupPolicyExtension({ externalJoin: "open" })] });
      const g = ma.group.groupId;
      const gi0 = (await groupInfo(x!, g)).body; // open: an outsider may read it
      expect(gi0.epoch).toBe(0);
      const [mb] = await addDevicesWithReply(s, ma, [b!]).then((r) => r.members);
      const joinFrom = (gi: GroupInfoResponse) =>
        Group.joinExternal(unb64(gi.groupInfo), { provider: crypto, identity: identityOf(x!), ratchetTree: unb64(gi.ratchetTree), config: MLS_CONFIG });
      const stale = await joinFrom(gi0);
      refused(await postBundle(s, x!, g, stale), 409, "EPOCH_MISMATCH");
      const gi1 = (await groupInfo(x!, g)).body;
      expect(gi1.epoch).toBe(1);
      const ext = await joinFrom(gi1);
      const r = await postBundle(s, x!, g, ext);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body).toEqual({ epoch: 2, delivered: 2 });
      expect((await group(a!, g)).members.sort()).toEqual([a!, b!, x!].map(id).sort());
      for (const m of [a!, b!]) expect((await queueOf(s, m)).filter((e) => e.kind === "handshake").map((e) => bytesEqual(unb64(e.message), ext.commit))).toEqual([true]);
      await deliver([ma, mb!], { device: x!, group: ext.group }, ext.commit);
      expect(ma.group.epoch).toBe(ext.group.epoch);
      // Once: a member joining again without removing its leaf would put its key in the tree twice (RFC 9420 §7.9.1).
      const again = await joinFrom((await groupInfo(x!, g)).body);
      refused(await postBundle(s, x!, g, again), 400, "TREE_DUPLICATE_KEY");
      expect((await group(a!, g)).members.sort()).toEqual([a!, b!, x!].map(id).sort());
    });

    it("RFC 9750 §6.6: lets a roster member that lost its state resync by an external commit removing its old leaf; it stays on the roster once", async () => {
      const [a, b] = await Promise.all(["a", "b"].map((v) => registerDevice(s, `g7${v}-${engine.name}`, "d")));
      const [ma, mb] = await groupOf(s, a!, [b!]);
      const g = ma!.group.groupId;
      const gi = (await groupInfo(b!, g)).body; // b is still on the roster: it may read the GroupInfo of the closed group
      const resync = (removeLeaf: LeafIndex | undefined, sameIdentity = false) =>
        Group.joinExternal(unb64(gi.groupInfo), {
          provider: crypto,
          identity: identityOf(b!),
          ratchetTree: unb64(gi.ratchetTree),
          ...(removeLeaf === undefined ? {} : { removeLeaf }),
          config: { ...MLS_CONFIG, ...(sameIdentity ? { sameIdentity: () => true } : {}) },
        });
      // Without a Remove it is not a resync (b's key would be in the tree twice); removing someone else's leaf is not one either.
      refused(await postBundle(s, b!, g, await resync(undefined)), 400, "TREE_DUPLICATE_KEY");
      refused(await postBundle(s, b!, g, await resync(ma!.group.ownLeafIndex, true)), 400, "EXTERNAL_COMMIT_RESYNC_IDENTITY");
      const ok = await resync(mb!.group.ownLeafIndex);
      const r = await postBundle(s, b!, g, ok);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const roster = (await group(a!, g)).members;
      expect(roster.sort()).toEqual([a!, b!].map(id).sort());
      expect((await queueOf(s, a!)).filter((e) => e.kind === "handshake").map((e) => bytesEqual(unb64(e.message), ok.commit))).toEqual([true]);
      // a follows, and the resynced b talks to it.
      await deliver([ma!], { device: b!, group: ok.group }, ok.commit);
      const hello = await ok.group.encryptApplicationMessage(new TextEncoder().encode("back"));
      expect((await post(b!, g, hello)).status).toBe(202);
      expect((await ma!.group.processMessage(hello)).kind).toBe("application");
    });

    it("lets exactly one of N concurrent commits for the same epoch win", async () => {
      const N = 8;
      const ds = await Promise.all(Array.from({ length: N }, (_, i) => registerDevice(s, `g5-${engine.name}-${i}`, "d")));
      const members = await groupOf(s, ds[0]!, ds.slice(1));
      const g = members[0]!.group.groupId;
      for (let round = 1; round <= 3; round++) {
        const pendings = await Promise.all(members.map((m) => m.group.createCommit()));
        const results = await Promise.all(members.map((m, i) => postBundle(s, m.device, g, pendings[i]!)));
        const won = results.flatMap((r, i) => (r.status === 202 ? [i] : []));
        const lost = results.filter((r) => r.status === 409);
        expect(won.length).toBe(1);
        expect(lost.length).toBe(N - 1);
        for (const l of lost) expect((l.body as unknown as { error: { currentEpoch: number } }).error.currentEpoch).toBe(round + 1);
        const winner = members[won[0]!]!;
        for (const m of members) if (m !== winner) m.group.clearPendingCommit();
        winner.group.mergePendingCommit();
        await deliver(members, winner, pendings[won[0]!]!.commit);
      }
      const hs = await s.request<HandshakesResponse>("GET", groupPath(g, "/handshakes"), { token: ds[3]!.token });
      expect(hs.body.messages.map((m) => m.epoch)).toEqual([0, 1, 2, 3]);
      expect(hs.body.currentEpoch).toBe(4);
      for (const m of members) expect(m.group.epoch).toBe(4n);
    });
  });
});
