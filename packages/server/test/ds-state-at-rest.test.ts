/**
 * Issue 17 item 4: the public group state the DS keeps (every member's leaf,
 * keys and credentials) is sealed at rest under the server's KEK: the stored
 * bytes hold no member's key, a row moved to another group does not open,
 * and the group works through it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GroupTreeResponse } from "@conclave/api";
import { bytesEqual } from "@conclave/mls";
import { NO_RATE_LIMITS } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { commit, deliver, groupOf, groupPath } from "./support/mlsGroup.js";
import { errorCode, registerDevice, startServer, type RunningServer } from "./support/server.js";

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe.each(ENGINES)("public group state at rest [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { ...NO_RATE_LIMITS, keyEncryptionKey: new Uint8Array(randomBytes(32)) });
  });
  afterAll(async () => {
    await s?.close();
  });

  it.skipIf(!engine.available)("is sealed, bound to its group, and serves the members", async () => {
    const [a, b] = await Promise.all([registerDevice(s, `sa-${engine.name}`, "d"), registerDevice(s, `sb-${engine.name}`, "d")]);
    const members = await groupOf(s, a, [b]);
    const g1 = members[0]!.group.groupId;
    const row = (await s.t.store.groups.get(g1))!;
    expect(new TextDecoder().decode(row.publicState!.subarray(0, 4))).toBe("CKW1");
    for (const d of [a, b]) expect(contains(row.publicState!, d.keys.publicKey)).toBe(false);

    // The served tree comes out of the sealed state intact, and the group moves on.
    const t = await s.request<GroupTreeResponse>("GET", groupPath(g1, "/tree"), { token: b.token });
    expect(t.status).toBe(200);
    expect(t.body.tree).toBe(Buffer.from(members[0]!.group.ratchetTree()).toString("base64url"));
    const pending = await members[0]!.group.createCommit();
    expect((await commit(s, members[0]!, pending)).status).toBe(202);
    await deliver(members, members[0]!, pending.commit);

    // Another group's sealed state swapped into this row does not open: 500, not someone else's tree.
    const other = await groupOf(s, b, []);
    const otherRow = (await s.t.store.groups.get(other[0]!.group.groupId))!;
    await s.t.store.groups.setPublicState(g1, { publicState: otherRow.publicState! });
    const swapped = await s.request("GET", groupPath(g1, "/tree"), { token: b.token });
    expect([swapped.status, errorCode(swapped)]).toEqual([500, "INTERNAL"]);
    expect(bytesEqual(otherRow.publicState!, (await s.t.store.groups.get(g1))!.publicState!)).toBe(true);
  });
});
