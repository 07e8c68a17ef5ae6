/**
 * Durability over a real crash: a server child process is killed with SIGKILL
 * while messages are being accepted, then restarted on the same storage. Every
 * message the DS answered 202 for must be in the recipient's queue, nothing
 * acknowledged may come back, nothing unacknowledged may be lost.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toBase64Url } from "@conclave/api";
import { dropSchema, freshSchemaName, POSTGRES } from "./support/engines.js";
import { killHard, remote, startChild } from "./support/child.js";
import { registerDevice } from "./support/server.js";
import { ackCursor, applicationMessage, cursorThrough, queueOf, unb64 } from "./ds-support.js";
import { groupOf } from "./support/mlsGroup.js";

const cases = [
  { name: "sqlite", available: true },
  { name: "postgres", available: POSTGRES.available },
];

describe.each(cases)("DS survives SIGKILL [$name]", ({ name, available }) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-crash-"));
  const schema = freshSchemaName();
  const storeSpec = name === "sqlite" ? `sqlite:${join(dir, "ds.sqlite")}` : `postgres:${schema}`;
  let current: ChildProcess | undefined;
  afterAll(async () => {
    if (current !== undefined && current.exitCode === null && current.signalCode === null) await killHard(current);
    rmSync(dir, { recursive: true, force: true });
    if (name === "postgres" && available) await dropSchema(schema);
  });

  it.skipIf(!available)("loses no queued message, acknowledged or not, across a kill -9 and restart", async () => {
    let { child, url } = await startChild(storeSpec);
    current = child;
    let s = remote(url);
    const a = await registerDevice(s, "crash-alice", "d");
    const b = await registerDevice(s, "crash-bob", "d");
    // A real two-member group: bob's Welcome is the first entry of his queue.
    const [alice] = await groupOf(s, a, [b]);
    const g = alice!.group.groupId;

    const post = (i: number) =>
      s
        .request("POST", `/v1/groups/${toBase64Url(g)}/messages`, {
          token: a.token,
          headers: { "content-type": "message/mls" },
          body: Buffer.from(applicationMessage(g, 1n, new Uint8Array([i >> 8, i & 255]))),
        })
        .then(
          (r) => (r.status === 202 ? i : -1),
          () => -1,
        );
    for (let i = 0; i < 20; i++) expect(await post(i)).toBe(i);
    // bob acknowledges the Welcome and the first 10 messages.
    const before = await queueOf(s, b);
    expect(before.length).toBe(21);
    expect(await ackCursor(s, b, cursorThrough(before.slice(0, 11)))).toBe(2);

    // Keep posting while the process dies mid-flight.
    const inflight: Promise<number>[] = [];
    for (let i = 20; i < 220; i++) {
      inflight.push(post(i));
      if (i === 120) await killHard(child);
    }
    const accepted = (await Promise.all(inflight)).filter((i) => i >= 0);

    ({ child, url } = await startChild(storeSpec));
    current = child;
    s = remote(url);
    const after = await queueOf(s, b);
    const got = after.map((e) => {
      const m = unb64(e.message);
      return (m[m.length - 2]! << 8) | m[m.length - 1]!;
    });
    // Unacknowledged ones from before the crash: exactly 10..19; then every accepted in-flight one.
    expect(got.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    const inflightGot = new Set(got.slice(10));
    for (const i of accepted) expect(inflightGot.has(i), `accepted message ${i} lost`).toBe(true);
    expect(new Set(got).size).toBe(got.length);
    // The restarted server keeps accepting and the tokens still work.
    expect(await post(999)).toBe(999);
    await killHard(child);
  });
});
