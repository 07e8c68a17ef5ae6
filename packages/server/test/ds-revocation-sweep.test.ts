/**
 * Issue 17 item 3, robustness: a revocation whose Remove proposal was lost
 * (the process died between the revocation and the fan-out, or a commit that
 * did not cover the proposal ended its epoch) is proposed again by the DS's
 * revocation sweep; a proposal still pending is never sent twice. Real server,
 * every engine, the sweep running every 100 ms.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fromBase64Url, type ExternalSenderResponse, type GroupResponse, type HandshakesResponse } from "@conclave/api";
import { ContentType, ExtensionType } from "@conclave/mls";
import { revocationSweepPeriod } from "../src/ds/revocationSweep.js";
import { NO_RATE_LIMITS } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { addDevices, commit, createGroup, deliver, groupPath, type Member } from "./support/mlsGroup.js";
import { registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";

const SWEEP_MS = 100;

describe("revocationSweepPeriod", () => {
  it("takes a whole number of ms or false, and refuses anything else", () => {
    expect(revocationSweepPeriod(undefined)).toBe(300_000);
    expect(revocationSweepPeriod(false)).toBe(false);
    expect(revocationSweepPeriod(250)).toBe(250);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 86_400_001]) expect(() => revocationSweepPeriod(bad)).toThrow(RangeError);
  });
});

describe.each(ENGINES)("revocation sweep [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, ds: { revocationSweepMs: SWEEP_MS } });
  });
  afterAll(async () => {
    await s?.close();
  });

  let n = 0;
  const device = (who: string) => registerDevice(s, `${who}${++n}-${engine.name}`, "d");

  /** The DS's Remove proposals in the log of `epoch` (the only proposals in these groups). */
  async function proposalsOf(d: Device, g: Uint8Array, epoch: number): Promise<Uint8Array[]> {
    const r = await s.request<HandshakesResponse>("GET", `${groupPath(g, "/handshakes")}?sinceEpoch=${epoch}&afterSeq=0&limit=100`, { token: d.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.messages.filter((m) => m.epoch === epoch && m.contentType === ContentType.proposal).map((m) => fromBase64Url(m.message));
  }

  /** A group of `a`, `b`, `c` that lists the DS in external_senders (as the client SDK's groups do). */
  async function dsGroup(a: Device, b: Device, c: Device): Promise<Member[]> {
    const ds = await s.request<ExternalSenderResponse>("GET", `/v1/ds/external-sender?cipherSuite=${a.cipherSuite}`, { token: a.token });
    expect(ds.status).toBe(200);
    const first = await createGroup(s, a, { extensions: [{ extensionType: ExtensionType.externalSenders, extensionData: fromBase64Url(ds.body.extension) }] });
    return [first, ...(await addDevices(s, first, [b, c]))];
  }

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  describe.skipIf(!engine.available)("", () => {
    it("re-sends a proposal lost with the fan-out or dropped by an epoch change, never one still pending", async () => {
      const [a, b, c] = await Promise.all([device("a"), device("b"), device("c")]);
      const members = await dsGroup(a, b, c);
      const [ma] = members;
      const g = ma!.group.groupId;
      expect(ma!.group.epoch).toBe(1n);

      // Revoked in the store with no fan-out: what a crash right after the revocation leaves.
      const rec = await s.t.store.clients.getByName(c.user, c.device);
      expect(await s.t.store.clients.revoke(rec!.id, s.clock.now)).toBe(true);
      await vi.waitFor(async () => expect(await proposalsOf(a, g, 1)).toHaveLength(1), { timeout: 10_000, interval: 50 });
      // Several more passes: the proposal is pending, nothing more is sent.
      await pause(SWEEP_MS * 4);
      expect(await proposalsOf(a, g, 1)).toHaveLength(1);

      // A commit that does not cover the proposal ends its epoch: the proposal is gone with it.
      const empty = await ma!.group.createCommit();
      expect((await commit(s, ma!, empty)).status).toBe(202);
      await deliver(members, ma!, empty.commit);
      await vi.waitFor(async () => expect(await proposalsOf(a, g, 2)).toHaveLength(1), { timeout: 10_000, interval: 50 });
      await pause(SWEEP_MS * 4);
      const [again] = await proposalsOf(a, g, 2);
      expect(await proposalsOf(a, g, 2)).toHaveLength(1);

      // A member commits the re-sent proposal: the revoked device leaves, and the sweep has nothing left to do.
      for (const m of members) await m.group.processMessage(again!);
      const removal = await ma!.group.createCommit();
      expect((await commit(s, ma!, removal)).status).toBe(202);
      await deliver(members.slice(0, 2), ma!, removal.commit);
      const roster = await s.request<GroupResponse>("GET", groupPath(g), { token: a.token });
      expect(roster.body.members.sort()).toEqual([`${a.user}@example.com#d`, `${b.user}@example.com#d`].sort());
      await pause(SWEEP_MS * 4);
      expect(await proposalsOf(a, g, 3)).toHaveLength(0);
      expect(await s.t.store.memberships.revokedMembers()).toEqual([]);
    });
  });
});
