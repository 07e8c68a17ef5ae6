/**
 * Opaque groups on the real server (issue 17 item 5, RFC 9750 §5.3), every
 * engine: handshakes travel as PrivateMessage, the DS keeps every commit of an
 * epoch in arrival order, members apply the first they can validate, and a
 * member's proven report drops a bad commit (stepping the epoch back when it
 * stood alone). A report whose disclosure does not open the commit, or that
 * swaps in another GroupContext, is refused (REPORT_EVIDENCE_INVALID); one
 * about a well-formed commit signed by its poster proves nothing (REPORT_UNPROVEN).
 * Only the roster reports: a stranger or a member who left gets NOT_GROUP_MEMBER.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64Url, type GroupResponse, type ReportCommitResponse } from "@conclave/api";
import { ContentType, Group, SenderType, WireFormat } from "@conclave/mls";
import { signFramedContent } from "../../mls/src/framing/contentAuth.js";
import { withConfirmationTag } from "../../mls/src/framing/context.js";
import { protectPrivateMessage } from "../../mls/src/framing/privateMessage.js";
import { resolveConfig } from "../../mls/src/group/groupConfig.js";
import { privateMessageContext } from "../../mls/src/group/groupState.js";
import { deserializeGroupState } from "../../mls/src/group/serialize.js";
import { commitMessage, NO_RATE_LIMITS, unb64, uploadKeyPackages } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { commitsOf as epochCommits, createGroup, groupPath, memberKeyPackage, OPAQUE_CONFIG, opaqueGroupOptions, postBundle, postMessage, type Member } from "./support/mlsGroup.js";
import { crypto, errorCode, registerDevice, startServer, type Device, type Reply, type RunningServer } from "./support/server.js";

/** A commit signed with a key that is not its sender's, encrypted with the sender's real ratchet: provably bad once disclosed. */
async function forgedCommit(sender: Group): Promise<Uint8Array> {
  const { state } = deserializeGroupState(sender.serialize(), crypto, resolveConfig(undefined));
  const other = await state.suite.signatureGenerateKeyPair();
  const signed = await signFramedContent(
    state.suite,
    other.privateKey,
    WireFormat.privateMessage,
    {
      groupId: state.groupContext.groupId,
      epoch: state.groupContext.epoch,
      sender: { senderType: SenderType.member, leafIndex: sender.ownLeafIndex },
      authenticatedData: new Uint8Array(0),
      contentType: ContentType.commit,
      commit: { proposals: [] },
    },
    state.groupContextBytes,
  );
  return protectPrivateMessage(privateMessageContext(state), withConfirmationTag(signed, new Uint8Array(state.suite.params.nh)));
}

describe.each(ENGINES)("opaque groups [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, NO_RATE_LIMITS);
  });
  afterAll(async () => {
    await s?.close();
  });

  let n = 0;
  const device = (who: string) => registerDevice(s, `${who}${++n}-${engine.name}`, "d");
  const refused = (r: Reply, status: number, code: string) => expect([r.status, errorCode(r)], JSON.stringify(r.body)).toEqual([status, code]);
  const report = (d: Device, g: Uint8Array, seq: number, disclosure: Uint8Array) =>
    s.request<ReportCommitResponse>("POST", groupPath(g, "/reports"), { token: d.token, json: { seq, disclosure: toBase64Url(disclosure) } });
  const postCommit = (d: Device, g: Uint8Array, commit: Uint8Array, groupInfo?: Uint8Array) =>
    s.request("POST", groupPath(g, "/commits"), { token: d.token, json: { commit: toBase64Url(commit), ...(groupInfo === undefined ? {} : { groupInfo: toBase64Url(groupInfo) }) } });
  const commitsOf = (d: Device, g: Uint8Array, epoch: number) => epochCommits(s, d, g, epoch);
  const dsEpoch = async (d: Device, g: Uint8Array) => (await s.request<GroupResponse>("GET", groupPath(g), { token: d.token })).body.epoch;

  /** a, b, c in an opaque group at epoch 1 (a added b and c). */
  async function opaqueGroup(): Promise<Member[]> {
    const [a, b, c] = await Promise.all([device("a"), device("b"), device("c")]);
    const first = await createGroup(s, a, opaqueGroupOptions());
    const kps = [];
    for (const d of [b, c]) {
      const kp = await memberKeyPackage(d);
      expect((await uploadKeyPackages(s, d, [kp])).status).toBe(201);
      kps.push(kp);
    }
    const add = await first.group.createCommit({ add: kps.map((k) => k.message) });
    const r = await postBundle(s, a, first.group.groupId, add);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    first.group.mergePendingCommit();
    const joined = await Promise.all(kps.map((k) => Group.join(add.welcome!, { provider: crypto, keyPackages: [k], config: OPAQUE_CONFIG })));
    return [first, { device: b, group: joined[0]! }, { device: c, group: joined[1]! }];
  }

  describe.skipIf(!engine.available)("", () => {
    it("a forged commit first: members apply the valid one, a proven report drops the forgery, false reports are refused", async () => {
      const [ma, mb, mc] = await opaqueGroup();
      const g = ma!.group.groupId;
      const info = await s.request<GroupResponse>("GET", groupPath(g), { token: ma!.device.token });
      expect(info.body.handshakes).toBe("private");
      expect(info.body.members).toHaveLength(3);
      refused(await s.request("GET", groupPath(g, "/tree"), { token: ma!.device.token }), 409, "OPAQUE_GROUP");

      // Charlie's forgery arrives first and moves the DS on; Bob's valid commit of the same epoch is kept beside it.
      const forged = await forgedCommit(mc!.group);
      expect((await postCommit(mc!.device, g, forged)).status).toBe(202);
      const valid = await mb!.group.createCommit();
      expect((await postBundle(s, mb!.device, g, valid)).status).toBe(202);
      mb!.group.mergePendingCommit();
      expect(await dsEpoch(ma!.device, g)).toBe(2);

      // Alice reads both in order, applies the first that validates, and keeps the proof against the other.
      const log = await commitsOf(ma!.device, g, 1);
      expect(log.map((m) => unb64(m.message))).toEqual([forged, valid.commit]);
      const forgedDisclosure = await ma!.group.disclosePrivateMessage(forged);
      const validDisclosure = await ma!.group.disclosePrivateMessage(valid.commit);
      await expect(ma!.group.processMessage(forged)).rejects.toMatchObject({ code: "MESSAGE_INVALID_SIGNATURE" });
      const applied = await ma!.group.processMessage(valid.commit);
      if (applied.kind !== "commit") throw new Error(applied.kind);
      ma!.group.mergeStagedCommit(applied.staged);
      expect(ma!.group.epoch).toBe(2n);

      // False reports against Bob's valid commit: a disclosure of another message, a swapped GroupContext, a true one.
      refused(await report(ma!.device, g, log[1]!.seq, forgedDisclosure), 422, "REPORT_EVIDENCE_INVALID");
      // The reporter's own GroupContext (another tree hash), under which Bob's signature fails: not the epoch's.
      const swapped = swapTreeHash(validDisclosure);
      expect(swapped).not.toEqual(validDisclosure);
      refused(await report(ma!.device, g, log[1]!.seq, swapped), 422, "REPORT_EVIDENCE_INVALID");
      refused(await report(ma!.device, g, log[1]!.seq, validDisclosure), 409, "REPORT_UNPROVEN");
      // The proven one: dropped, the epoch stands on Bob's commit.
      const ok = await report(ma!.device, g, log[0]!.seq, forgedDisclosure);
      expect([ok.status, ok.body]).toEqual([200, { seq: log[0]!.seq, dropped: true, epoch: 2 }]);
      expect((await commitsOf(ma!.device, g, 1)).map((m) => m.seq)).toEqual([log[1]!.seq]);

      // The group goes on at epoch 2.
      const msg = await ma!.group.encryptApplicationMessage(new TextEncoder().encode("still here"));
      expect((await postMessage(s, ma!.device, g, msg)).status).toBe(202);
      expect((await mb!.group.processMessage(msg)).kind).toBe("application");
    });

    it("a forgery that stood alone: dropped, the epoch steps back and the members commit again", async () => {
      const [ma, mb, mc] = await opaqueGroup();
      const g = ma!.group.groupId;
      const forged = await forgedCommit(mc!.group);
      expect((await postCommit(mc!.device, g, forged)).status).toBe(202);
      expect(await dsEpoch(ma!.device, g)).toBe(2);
      // Nothing else for epoch 1: the members are stuck until the forgery goes.
      const [entry] = await commitsOf(mb!.device, g, 1);
      const d = await mb!.group.disclosePrivateMessage(forged);
      const r = await report(mb!.device, g, entry!.seq, d);
      expect([r.status, r.body.epoch]).toEqual([200, 1]);
      expect(await dsEpoch(ma!.device, g)).toBe(1);
      const next = await ma!.group.createCommit();
      const again = await postBundle(s, ma!.device, g, next);
      expect(again.status, JSON.stringify(again.body)).toBe(202);
      // Nobody reports their own commit.
      refused(await report(mc!.device, g, entry!.seq, d), 400, "BAD_REQUEST");
    });

    it("refuses reports from outside the roster (a stranger, a member who left), and the commit stands", async () => {
      const [ma, mb, mc] = await opaqueGroup();
      const g = ma!.group.groupId;
      // A provably bad commit: the evidence itself would carry the report.
      const forged = await forgedCommit(mc!.group);
      expect((await postCommit(mc!.device, g, forged)).status).toBe(202);
      const [entry] = await commitsOf(ma!.device, g, 1);
      const proof = await mb!.group.disclosePrivateMessage(forged);
      expect((await s.request("POST", groupPath(g, "/leave"), { token: mb!.device.token })).status).toBe(200);
      const stranger = await device("x");
      refused(await report(stranger, g, entry!.seq, proof), 403, "NOT_GROUP_MEMBER");
      refused(await report(mb!.device, g, entry!.seq, proof), 403, "NOT_GROUP_MEMBER");
      // Nor does a stranger learn which positions hold commits.
      refused(await report(stranger, g, entry!.seq + 99, proof), 403, "NOT_GROUP_MEMBER");
      // Nothing dropped, the epoch unmoved; the same evidence from a member is proven.
      expect((await commitsOf(ma!.device, g, 1)).map((m) => m.seq)).toEqual([entry!.seq]);
      expect(await dsEpoch(ma!.device, g)).toBe(2);
      const ok = await report(ma!.device, g, entry!.seq, await ma!.group.disclosePrivateMessage(forged));
      expect([ok.status, ok.body]).toEqual([200, { seq: entry!.seq, dropped: true, epoch: 1 }]);
    });

    it("a member takes itself off the roster (POST /leave), only in opaque groups", async () => {
      const [ma, mb] = await opaqueGroup();
      const g = ma!.group.groupId;
      const r = await s.request("POST", groupPath(g, "/leave"), { token: mb!.device.token });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const roster = await s.request<GroupResponse>("GET", groupPath(g), { token: ma!.device.token });
      expect(roster.body.members).toHaveLength(2);
      expect(roster.body.members).not.toContain(`${mb!.device.user}@example.com#d`);
      refused(await s.request("POST", groupPath(g, "/leave"), { token: mb!.device.token }), 403, "NOT_GROUP_MEMBER");
      const plain = await createGroup(s, ma!.device);
      refused(await s.request("POST", groupPath(plain.group.groupId, "/leave"), { token: ma!.device.token }), 400, "BAD_REQUEST");
    });

    it("refuses what an opaque group cannot take", async () => {
      const [ma] = await opaqueGroup();
      const g = ma!.group.groupId;
      refused(await postCommit(ma!.device, g, commitMessage(g, 1n)), 400, "UNEXPECTED_WIRE_FORMAT");
      refused(await s.request("GET", groupPath(g, "/group-info"), { token: ma!.device.token }), 409, "OPAQUE_GROUP");
      // A commit of an epoch two behind the DS.
      const stale = await ma!.group.createCommit();
      ma!.group.clearPendingCommit();
      const forward = await ma!.group.createCommit();
      expect((await postBundle(s, ma!.device, g, forward)).status).toBe(202);
      ma!.group.mergePendingCommit();
      const newer = await ma!.group.createCommit();
      expect((await postBundle(s, ma!.device, g, newer)).status).toBe(202);
      ma!.group.mergePendingCommit();
      refused(await postCommit(ma!.device, g, stale.commit), 409, "EPOCH_MISMATCH");
    });
  });
});

/** The disclosure with one byte of its GroupContext's tree hash flipped (the GroupContext is its first field). */
function swapTreeHash(disclosure: Uint8Array): Uint8Array {
  // varint length prefix, then version (2), suite (2), group_id (varint + bytes), epoch (8), tree_hash (varint + bytes).
  const varint = (at: number): [number, number] => ((disclosure[at]! & 0xc0) === 0 ? [disclosure[at]!, 1] : [((disclosure[at]! & 0x3f) << 8) | disclosure[at + 1]!, 2]);
  let at = varint(0)[1] + 4;
  const [gidLen, gidPrefix] = varint(at);
  at += gidPrefix + gidLen + 8;
  at += varint(at)[1];
  const out = disclosure.slice();
  out[at] = out[at]! ^ 1;
  return out;
}
