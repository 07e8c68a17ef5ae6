import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64Url, type AcceptedResponse, type ClaimKeyPackagesResponse, type GroupInfoResponse, type GroupResponse, type HandshakesResponse } from "@conclave/api";
import { bytesEqual, ContentType, encode, leafIndex, mlsMessageCodec, ProposalOrRefType, ProposalType, SenderType, WireFormat } from "@conclave/mls";
import { ENGINES } from "./support/engines.js";
import { errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { ackCursor, applicationMessage, commitMessage, cursorThrough, externalCommitMessage, groupInfoFor, keyPackageOf, NO_RATE_LIMITS, proposalMessage, queueOf, unb64, uploadKeyPackages, welcomeFor } from "./ds-support.js";

const MLS = { "content-type": "message/mls" };

describe.each(ENGINES)("DS groups, ordering and fan-out [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, limits: { ...NO_RATE_LIMITS.limits, mlsBodyBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  let n = 0;
  const gid = () => new TextEncoder().encode(`group-${engine.name}-${++n}-${Math.random()}`);
  const path = (g: Uint8Array, rest = "") => `/v1/groups/${toBase64Url(g)}${rest}`;
  const post = (d: Device, g: Uint8Array, bytes: Uint8Array) => s.request<AcceptedResponse>("POST", path(g, "/messages"), { token: d.token, headers: MLS, body: Buffer.from(bytes) });
  const bundle = (d: Device, g: Uint8Array, body: Record<string, unknown>) => s.request<AcceptedResponse>("POST", path(g, "/commits"), { token: d.token, json: body });
  const group = async (d: Device, g: Uint8Array) => (await s.request<GroupResponse>("GET", path(g), { token: d.token })).body;

  /** Uploads a KeyPackage for each device and claims it, returning the refs. */
  async function claimRefs(claimer: Device, ds: Device[]): Promise<Uint8Array[]> {
    const refs: Uint8Array[] = [];
    for (const d of ds) {
      expect((await uploadKeyPackages(s, d, [await keyPackageOf(d)])).status).toBe(201);
      const c = await s.request<ClaimKeyPackagesResponse>("POST", `/v1/users/${d.user}/key-packages/claim`, { token: claimer.token, json: { cipherSuites: [1] } });
      refs.push(unb64(c.body.keyPackages[0]!.ref));
    }
    return refs;
  }

  describe.skipIf(!engine.available)("", () => {
    it("creates a group with its creator as the only member, once", async () => {
      const a = await registerDevice(s, `g1a-${engine.name}`, "d");
      const g = gid();
      const r = await s.request<GroupResponse>("POST", "/v1/groups", { token: a.token, json: { groupId: toBase64Url(g) } });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({ groupId: toBase64Url(g), epoch: 0, members: [`g1a-${engine.name}@example.com#d`] });
      const again = await s.request("POST", "/v1/groups", { token: a.token, json: { groupId: toBase64Url(g) } });
      expect([again.status, errorCode(again)]).toEqual([409, "GROUP_EXISTS"]);
      const missing = await s.request("GET", path(gid()), { token: a.token });
      expect([missing.status, errorCode(missing)]).toEqual([404, "GROUP_NOT_FOUND"]);
    });

    it("adds members through a commit bundle, delivers the Welcome only to them, keeps GroupInfo and the handshake log", async () => {
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((x) => registerDevice(s, `g2${x}-${engine.name}`, "d")));
      const g = gid();
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } });
      const refs = await claimRefs(a!, [b!]);
      const commit0 = commitMessage(g, 0n);
      const welcome = welcomeFor(refs);
      const gi1 = groupInfoFor(g, 1n);
      const r = await bundle(a!, g, { commit: toBase64Url(commit0), welcome: toBase64Url(welcome), groupInfo: toBase64Url(gi1), ratchetTree: toBase64Url(new Uint8Array([1, 2, 3])) });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body).toEqual({ epoch: 1, delivered: 1 });
      expect((await group(a!, g)).members.sort()).toEqual([a!, b!].map((d) => `${d.user}@example.com#d`).sort());
      const qb = await queueOf(s, b!);
      expect(qb.map((e) => [e.kind, e.epoch])).toEqual([["welcome", 1]]);
      expect(bytesEqual(unb64(qb[0]!.message), welcome)).toBe(true);
      expect(await queueOf(s, a!)).toEqual([]);
      expect(await queueOf(s, c!)).toEqual([]);
      // Anyone authenticated may fetch the GroupInfo for an external join.
      const gi = await s.request<GroupInfoResponse>("GET", path(g, "/group-info"), { token: c!.token });
      expect(gi.status).toBe(200);
      expect(bytesEqual(unb64(gi.body.groupInfo), gi1)).toBe(true);
      expect(gi.body.ratchetTree).toBe(toBase64Url(new Uint8Array([1, 2, 3])));
      expect(gi.body.epoch).toBe(1);

      // b adds c at epoch 1; a gets the commit, c the Welcome.
      const refs2 = await claimRefs(b!, [c!]);
      const commit1 = commitMessage(g, 1n, 1);
      expect((await bundle(b!, g, { commit: toBase64Url(commit1), welcome: toBase64Url(welcomeFor(refs2)) })).status).toBe(202);
      const qa = await queueOf(s, a!);
      expect(qa.map((e) => [e.kind, e.epoch])).toEqual([["handshake", 1]]);
      expect(bytesEqual(unb64(qa[0]!.message), commit1)).toBe(true);
      expect((await queueOf(s, c!)).map((e) => e.kind)).toEqual(["welcome"]);

      // Catch-up: every accepted handshake since epoch 0, in order.
      const hs = await s.request<HandshakesResponse>("GET", path(g, "/handshakes?sinceEpoch=0"), { token: c!.token });
      expect(hs.body.currentEpoch).toBe(2);
      expect(hs.body.messages.map((m) => [m.epoch, m.contentType, m.sender])).toEqual([
        [0, 3, `${a!.user}@example.com#d`],
        [1, 3, `${b!.user}@example.com#d`],
      ]);
      const since1 = await s.request<HandshakesResponse>("GET", path(g, "/handshakes?sinceEpoch=1"), { token: a!.token });
      expect(since1.body.messages.map((m) => m.epoch)).toEqual([1]);

      // c removes a: a still receives that commit, then is out of the roster.
      expect((await bundle(c!, g, { commit: toBase64Url(commitMessage(g, 2n, 2)), removed: [`${a!.user}@example.com#d`] })).status).toBe(202);
      expect((await group(b!, g)).members.sort()).toEqual([b!, c!].map((d) => `${d.user}@example.com#d`).sort());
      expect((await queueOf(s, a!)).map((e) => e.epoch)).toEqual([1, 2]);
      // The GroupInfo kept is still epoch 1's: no later bundle carried one.
      expect((await s.request<GroupInfoResponse>("GET", path(g, "/group-info"), { token: a!.token })).body.epoch).toBe(1);
      const denied = await post(a!, g, applicationMessage(g, 3n, new Uint8Array([1])));
      expect([denied.status, errorCode(denied)]).toEqual([403, "NOT_GROUP_MEMBER"]);
    });

    it("fans application messages out to the other members for the current and recent epochs, and acknowledges", async () => {
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((x) => registerDevice(s, `g3${x}-${engine.name}`, "d")));
      const g = gid();
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } });
      const refs = await claimRefs(a!, [b!, c!]);
      expect((await bundle(a!, g, { commit: toBase64Url(commitMessage(g, 0n)), welcome: toBase64Url(welcomeFor(refs)) })).status).toBe(202);
      for (let e = 1n; e <= 3n; e++) expect((await post(a!, g, commitMessage(g, e))).status).toBe(202);
      // Group at epoch 4; the default window accepts epochs 2..4.
      const app = applicationMessage(g, 4n, new Uint8Array([42]));
      const r = await post(b!, g, app);
      expect([r.status, r.body.delivered]).toEqual([202, 2]);
      expect((await post(b!, g, applicationMessage(g, 2n, new Uint8Array([1])))).status).toBe(202);
      const old = await post(b!, g, applicationMessage(g, 1n, new Uint8Array([1])));
      expect([old.status, errorCode(old), (old.body as unknown as { error: { currentEpoch: number } }).error.currentEpoch]).toEqual([409, "EPOCH_MISMATCH", 4]);
      const future = await post(b!, g, applicationMessage(g, 5n, new Uint8Array([1])));
      expect([future.status, errorCode(future)]).toEqual([409, "EPOCH_MISMATCH"]);
      const qc = await queueOf(s, c!);
      expect(qc.map((e) => [e.kind, e.epoch])).toEqual([["welcome", 1], ["handshake", 1], ["handshake", 2], ["handshake", 3], ["application", 4], ["application", 2]]);
      expect(bytesEqual(unb64(qc[4]!.message), app)).toBe(true);
      expect((await queueOf(s, b!)).some((e) => e.kind === "application")).toBe(false);
      // Proposals: current epoch only, kept in the handshake log.
      expect((await post(c!, g, proposalMessage(g, 4n))).status).toBe(202);
      expect((await post(c!, g, proposalMessage(g, 3n))).status).toBe(409);
      // Each message is stored once: the log positions are consecutive, the Welcome is c's alone.
      expect(qc.map((e) => [e.source, e.seq])).toEqual([["direct", qc[0]!.seq], ["group", 2], ["group", 3], ["group", 4], ["group", 5], ["group", 6]]);
      // Acknowledge up to the fourth entry (the Welcome and one group position): the rest stays.
      expect(await ackCursor(s, c!, cursorThrough(qc.slice(0, 4)))).toBe(2);
      // c's own proposal (position 7) is not sent back to it.
      expect((await queueOf(s, c!)).map((e) => e.seq)).toEqual([5, 6]);
      // An old or repeated acknowledgement moves nothing back; one past the log's end stops at its end.
      expect(await ackCursor(s, c!, cursorThrough(qc.slice(0, 2)))).toBe(0);
      const gid64 = toBase64Url(g);
      expect(await ackCursor(s, c!, { direct: 0, groups: [{ groupId: gid64, seq: 1_000_000 }] })).toBe(1);
      expect(await queueOf(s, c!)).toEqual([]);
      const later = applicationMessage(g, 4n, new Uint8Array([7]));
      expect((await post(b!, g, later)).status).toBe(202);
      expect((await queueOf(s, c!)).map((e) => bytesEqual(unb64(e.message), later))).toEqual([true]);
    });

    it("answers bad input with typed 4xx JSON and changes nothing", async () => {
      const [a, b, x] = await Promise.all(["a", "b", "x"].map((v) => registerDevice(s, `g4${v}-${engine.name}`, "d")));
      const g = gid();
      const other = gid();
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } });
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(other) } });
      const refs = await claimRefs(a!, [b!]);
      const commit0 = commitMessage(g, 0n);
      expect((await bundle(a!, g, { commit: toBase64Url(commit0), welcome: toBase64Url(welcomeFor(refs)) })).status).toBe(202);
      const before = await group(a!, g);
      const qbBefore = await queueOf(s, b!);

      const cases: [string, () => Promise<{ status: number; body: unknown; headers: Headers }>, number, string | RegExp][] = [
        ["malformed", () => post(a!, g, new Uint8Array([0, 1, 0, 1, 9, 9])), 400, /^DECODE_/],
        ["empty", () => post(a!, g, new Uint8Array(0)), 400, /^(DECODE_|BAD_REQUEST)/],
        ["trailing bytes", () => post(a!, g, new Uint8Array([...commitMessage(g, 1n), 0])), 400, "DECODE_TRAILING_BYTES"],
        ["wrong group", () => post(a!, g, commitMessage(other, 1n)), 400, "WRONG_GROUP"],
        ["welcome as message", () => post(a!, g, welcomeFor(refs)), 400, "UNEXPECTED_WIRE_FORMAT"],
        ["stale epoch", () => post(a!, g, commitMessage(g, 0n, 0, 7)), 409, "EPOCH_MISMATCH"],
        ["replayed commit", () => bundle(a!, g, { commit: toBase64Url(commit0), welcome: toBase64Url(welcomeFor(refs)) }), 409, "EPOCH_MISMATCH"],
        ["future epoch", () => post(a!, g, commitMessage(g, 5n)), 409, "EPOCH_MISMATCH"],
        ["non-member", () => post(x!, g, commitMessage(g, 1n)), 403, "NOT_GROUP_MEMBER"],
        ["unknown KeyPackageRef", () => bundle(a!, g, { commit: toBase64Url(commitMessage(g, 1n)), welcome: toBase64Url(welcomeFor([new Uint8Array(32).fill(9)])) }), 400, "UNKNOWN_KEY_PACKAGE"],
        ["re-adding a member", () => bundle(a!, g, { commit: toBase64Url(commitMessage(g, 1n)), welcome: toBase64Url(welcomeFor(refs)) }), 400, "INVALID_ROSTER_CHANGE"],
        ["removing a non-member", () => bundle(a!, g, { commit: toBase64Url(commitMessage(g, 1n)), removed: [`${x!.user}@example.com#d`] }), 400, "INVALID_ROSTER_CHANGE"],
        ["removing oneself", () => bundle(a!, g, { commit: toBase64Url(commitMessage(g, 1n)), removed: [`${a!.user}@example.com#d`] }), 400, "INVALID_ROSTER_CHANGE"],
        ["GroupInfo of the wrong epoch", () => bundle(a!, g, { commit: toBase64Url(commitMessage(g, 1n)), groupInfo: toBase64Url(groupInfoFor(g, 1n)) }), 400, "BAD_REQUEST"],
        ["application as bundle commit", () => bundle(a!, g, { commit: toBase64Url(applicationMessage(g, 1n, new Uint8Array(1))) }), 400, "UNEXPECTED_WIRE_FORMAT"],
        ["oversize", () => post(a!, g, new Uint8Array(64 * 1024 + 1)), 413, "PAYLOAD_TOO_LARGE"],
        ["JSON to the message route", () => s.request("POST", path(g, "/messages"), { token: a!.token, json: { x: 1 } }), 415, "UNSUPPORTED_MEDIA_TYPE"],
        ["no token", () => s.request("POST", path(g, "/messages"), { headers: MLS, body: Buffer.from(commitMessage(g, 1n)) }), 401, "AUTH_REQUIRED"],
      ];
      for (const [name, run, status, code] of cases) {
        const r = await run();
        expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(status);
        expect(r.headers.get("content-type"), name).toMatch(/^application\/json/);
        expect(errorCode(r as never), name).toMatch(code);
      }
      expect(await group(a!, g)).toEqual(before);
      expect(await queueOf(s, b!)).toEqual(qbBefore);
      const hs = await s.request<HandshakesResponse>("GET", path(g, "/handshakes"), { token: a!.token });
      expect(hs.body.messages.length).toBe(1);
    });

    it("lets a non-member join through an external commit for the current epoch, once", async () => {
      const [a, b, x] = await Promise.all(["a", "b", "x"].map((v) => registerDevice(s, `g6${v}-${engine.name}`, "d")));
      const g = gid();
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } });
      const refs = await claimRefs(a!, [b!]);
      expect((await bundle(a!, g, { commit: toBase64Url(commitMessage(g, 0n)), welcome: toBase64Url(welcomeFor(refs)), groupInfo: toBase64Url(groupInfoFor(g, 1n)) })).status).toBe(202);
      const gi = await s.request<GroupInfoResponse>("GET", path(g, "/group-info"), { token: x!.token });
      expect(gi.body.epoch).toBe(1);
      const stale = await post(x!, g, externalCommitMessage(g, 0n));
      expect([stale.status, errorCode(stale)]).toEqual([409, "EPOCH_MISMATCH"]);
      const ext = externalCommitMessage(g, 1n);
      const r = await bundle(x!, g, { commit: toBase64Url(ext), groupInfo: toBase64Url(groupInfoFor(g, 2n)) });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect((await group(a!, g)).members.sort()).toEqual([a!, b!, x!].map((d) => `${d.user}@example.com#d`).sort());
      for (const m of [a!, b!]) expect((await queueOf(s, m)).filter((e) => e.kind === "handshake").map((e) => bytesEqual(unb64(e.message), ext))).toEqual([true]);
      const again = await post(x!, g, externalCommitMessage(g, 2n));
      expect([again.status, errorCode(again)]).toEqual([400, "INVALID_ROSTER_CHANGE"]);
    });

    it("RFC 9750 §6.6: lets a roster member that lost its state resync by an external commit removing its old leaf; it stays on the roster once", async () => {
      const [a, b] = await Promise.all(["a", "b"].map((v) => registerDevice(s, `g7${v}-${engine.name}`, "d")));
      const g = gid();
      await s.request("POST", "/v1/groups", { token: a!.token, json: { groupId: toBase64Url(g) } });
      const refs = await claimRefs(a!, [b!]);
      expect((await bundle(a!, g, { commit: toBase64Url(commitMessage(g, 0n)), welcome: toBase64Url(welcomeFor(refs)), groupInfo: toBase64Url(groupInfoFor(g, 1n)) })).status).toBe(202);
      const resync = (epoch: bigint, removes: number[]) =>
        encode(mlsMessageCodec, {
          wireFormat: WireFormat.publicMessage,
          publicMessage: {
            content: {
              groupId: g,
              epoch,
              sender: { senderType: SenderType.newMemberCommit },
              authenticatedData: new Uint8Array(0),
              contentType: ContentType.commit,
              commit: { proposals: removes.map((l) => ({ type: ProposalOrRefType.proposal, proposal: { proposalType: ProposalType.remove, removed: leafIndex(l) } })) },
            },
            auth: { signature: new Uint8Array(64), confirmationTag: new Uint8Array(32) },
          },
        });
      // Without a Remove (or with two) it is not a resync.
      for (const removes of [[], [1, 0]]) {
        const bad = await bundle(b!, g, { commit: toBase64Url(resync(1n, removes)), groupInfo: toBase64Url(groupInfoFor(g, 2n)) });
        expect([bad.status, errorCode(bad)]).toEqual([400, "INVALID_ROSTER_CHANGE"]);
      }
      const ok = await bundle(b!, g, { commit: toBase64Url(resync(1n, [1])), groupInfo: toBase64Url(groupInfoFor(g, 2n)) });
      expect(ok.status, JSON.stringify(ok.body)).toBe(202);
      const roster = (await group(a!, g)).members;
      expect(roster.sort()).toEqual([a!, b!].map((d) => `${d.user}@example.com#d`).sort());
      expect((await queueOf(s, a!)).filter((e) => e.kind === "handshake").length).toBe(1);
    });

    it("lets exactly one of N concurrent commits for the same epoch win", async () => {
      const N = 8;
      const ds = await Promise.all(Array.from({ length: N }, (_, i) => registerDevice(s, `g5-${engine.name}-${i}`, "d")));
      const g = gid();
      await s.request("POST", "/v1/groups", { token: ds[0]!.token, json: { groupId: toBase64Url(g) } });
      const refs = await claimRefs(ds[0]!, ds.slice(1));
      expect((await bundle(ds[0]!, g, { commit: toBase64Url(commitMessage(g, 0n)), welcome: toBase64Url(welcomeFor(refs)) })).status).toBe(202);
      for (let round = 1; round <= 3; round++) {
        const results = await Promise.all(ds.map((d, i) => post(d, g, commitMessage(g, BigInt(round), i, round))));
        const won = results.filter((r) => r.status === 202);
        const lost = results.filter((r) => r.status === 409);
        expect(won.length).toBe(1);
        expect(lost.length).toBe(N - 1);
        for (const l of lost) expect((l.body as unknown as { error: { currentEpoch: number } }).error.currentEpoch).toBe(round + 1);
      }
      const hs = await s.request<HandshakesResponse>("GET", path(g, "/handshakes"), { token: ds[3]!.token });
      expect(hs.body.messages.map((m) => m.epoch)).toEqual([0, 1, 2, 3]);
      expect(hs.body.currentEpoch).toBe(4);
    });
  });
});
