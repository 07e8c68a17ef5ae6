import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { toBase64Url, type GroupResponse } from "@conclave/api";
import { ENGINES } from "./support/engines.js";
import { errorCode, registerDevice, startServer, type Device, type Reply, type RunningServer } from "./support/server.js";
import { NO_RATE_LIMITS, queueOf } from "./ds-support.js";
import { createGroup, groupPath, memberKeyPackage, postBundle, postMessage, type CommitBundle, type Member } from "./support/mlsGroup.js";

describe.each(ENGINES)("DS robustness against mutated MLS bytes [$name]", (engine) => {
  let s: RunningServer;
  let a: Device;
  let b: Device;
  let alice: Member;
  let g: Uint8Array;
  const path = (rest = "") => groupPath(g, rest);
  beforeAll(async () => {
    if (!engine.available) return;
    s = await startServer(engine, { limits: { ...NO_RATE_LIMITS.limits, mlsBodyBytes: 16 * 1024 } });
    a = await registerDevice(s, "rb-a", "d");
    b = await registerDevice(s, "rb-b", "d");
    alice = await createGroup(s, a);
    g = alice.group.groupId;
  });
  afterAll(async () => {
    await s?.close();
  });

  /** A commit bundle of alice's, made and dropped (the group stays where it is). */
  async function pendingCommit(add?: Uint8Array): Promise<CommitBundle & { readonly groupInfo: Uint8Array }> {
    const p = await alice.group.createCommit(add === undefined ? {} : { add: [add] });
    const groupInfo = await p.groupInfo(); // asked before the commit is dropped, when it can no longer be signed
    alice.group.clearPendingCommit();
    return { commit: p.commit, groupInfo, ...(p.welcome === undefined ? {} : { welcome: p.welcome }) };
  }

  describe.skipIf(!engine.available)("", () => {
    it("answers truncated, extended and bit-flipped messages with JSON 4xx or an honest 202, never 5xx, changing nothing on rejection", async () => {
      // Real, validly signed seeds: a commit (PublicMessage), a proposal, an application message, a Welcome, a GroupInfo.
      const empty = await pendingCommit();
      const adding = await pendingCommit((await memberKeyPackage(b)).message);
      const app = await alice.group.encryptApplicationMessage(new Uint8Array(40));
      const proposal = (await alice.group.proposeUpdate()).message;
      type Target = (bytes: Uint8Array) => Promise<Reply>;
      const seeds: [Uint8Array, Target][] = [
        // To /messages: each kind of MLSMessage.
        ...[empty.commit, proposal, app, adding.welcome!, empty.groupInfo].map((m): [Uint8Array, Target] => [m, (bytes) => postMessage(s, a, g, bytes)]),
        // To /commits: a mutated commit with its GroupInfo, and the commit with a mutated GroupInfo.
        [empty.commit, (bytes) => postBundle(s, a, g, { commit: bytes, groupInfo: empty.groupInfo })],
        [empty.groupInfo, (bytes) => postBundle(s, a, g, { commit: empty.commit, groupInfo: bytes })],
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: seeds.length - 1 }),
          fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 3 }),
          fc.integer({ min: -20, max: 5 }),
          async (which, flips, cut) => {
            const [seed, send] = seeds[which]!;
            let bytes = new Uint8Array(seed);
            for (const f of flips) bytes[f.at % bytes.length]! ^= f.xor;
            bytes = cut < 0 ? bytes.subarray(0, Math.max(0, bytes.length + cut)) : new Uint8Array([...bytes, ...new Uint8Array(cut)]);
            const before = (await s.request<GroupResponse>("GET", path(), { token: a.token })).body;
            const r = await send(bytes);
            expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
            if (r.status !== 202) {
              expect(r.headers.get("content-type")).toMatch(/^application\/json/);
              expect(typeof errorCode(r)).toBe("string");
              expect((await s.request<GroupResponse>("GET", path(), { token: a.token })).body).toEqual(before);
            }
          },
        ),
        { numRuns: 150 },
      );
      // b was never added: nothing reached its queue, and the roster is alice alone.
      expect(await queueOf(s, b)).toEqual([]);
      expect((await s.request<GroupResponse>("GET", path(), { token: a.token })).body.members).toEqual([`${a.user}@example.com#d`]);
    });

    it("refuses oversize commit bundles with 413 and leaves the group alone", async () => {
      const before = (await s.request<GroupResponse>("GET", path(), { token: a.token })).body;
      const p = await pendingCommit();
      const huge = toBase64Url(new Uint8Array(40 * 1024));
      const r = await s.request("POST", path("/commits"), { token: a.token, json: { commit: toBase64Url(p.commit), groupInfo: toBase64Url(p.groupInfo), welcome: huge } });
      expect([r.status, errorCode(r)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      expect((await s.request<GroupResponse>("GET", path(), { token: a.token })).body).toEqual(before);
    });
  });
});
