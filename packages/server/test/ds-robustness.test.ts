import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { toBase64Url, type GroupResponse } from "@conclave/api";
import { ENGINES } from "./support/engines.js";
import { errorCode, registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { applicationMessage, commitMessage, groupInfoFor, NO_RATE_LIMITS, queueOf, welcomeFor } from "./ds-support.js";

describe.each(ENGINES)("DS robustness against mutated MLS bytes [$name]", (engine) => {
  let s: RunningServer;
  let a: Device;
  let b: Device;
  const g = new TextEncoder().encode(`robust-${engine.name}`);
  const path = (rest = "") => `/v1/groups/${toBase64Url(g)}${rest}`;
  beforeAll(async () => {
    if (!engine.available) return;
    s = await startServer(engine, { limits: { ...NO_RATE_LIMITS.limits, mlsBodyBytes: 16 * 1024 } });
    a = await registerDevice(s, "rb-a", "d");
    b = await registerDevice(s, "rb-b", "d");
    await s.request("POST", "/v1/groups", { token: a.token, json: { groupId: toBase64Url(g) } });
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("answers truncated, extended and bit-flipped messages with JSON 4xx or an honest 202, never 5xx, changing nothing on rejection", async () => {
      const seeds = [commitMessage(g, 0n), applicationMessage(g, 0n, new Uint8Array(40)), welcomeFor([new Uint8Array(32)]), groupInfoFor(g, 1n)];
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: seeds.length - 1 }),
          fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 3 }),
          fc.integer({ min: -20, max: 5 }),
          async (which, flips, cut) => {
            const seed = seeds[which]!;
            let bytes = new Uint8Array(seed);
            for (const f of flips) bytes[f.at % bytes.length]! ^= f.xor;
            bytes = cut < 0 ? bytes.subarray(0, Math.max(0, bytes.length + cut)) : new Uint8Array([...bytes, ...new Uint8Array(cut)]);
            const before = (await s.request<GroupResponse>("GET", path(), { token: a.token })).body;
            const r = await s.request("POST", path("/messages"), { token: a.token, headers: { "content-type": "message/mls" }, body: Buffer.from(bytes) });
            expect(r.status).toBeLessThan(500);
            if (r.status !== 202) {
              expect(r.headers.get("content-type")).toMatch(/^application\/json/);
              expect(typeof errorCode(r)).toBe("string");
              expect((await s.request<GroupResponse>("GET", path(), { token: a.token })).body).toEqual(before);
            }
          },
        ),
        { numRuns: 150 },
      );
      // b was never added: nothing reached its queue.
      expect(await queueOf(s, b)).toEqual([]);
    });

    it("refuses oversize commit bundles with 413 and leaves the group alone", async () => {
      const before = (await s.request<GroupResponse>("GET", path(), { token: a.token })).body;
      const huge = toBase64Url(new Uint8Array(40 * 1024));
      const r = await s.request("POST", path("/commits"), { token: a.token, json: { commit: toBase64Url(commitMessage(g, BigInt(before.epoch))), welcome: huge } });
      expect([r.status, errorCode(r)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      expect((await s.request<GroupResponse>("GET", path(), { token: a.token })).body).toEqual(before);
    });
  });
});
