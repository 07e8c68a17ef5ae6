/**
 * WebSocket fan-out (ds/groupFeed.ts): each process reads a group's new log
 * entries once per round and hands them to all of its streams on that group.
 * Many sockets on one group, spread over two server processes on one
 * PostgreSQL (one process on SQLite, whose push stays in its process), while
 * several members post through both: every socket gets every
 * message once, in the log's order, never its own client's; and a member
 * removed meanwhile gets nothing sent after its removal.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, describe, expect, it } from "vitest";
import { toBase64Url, type QueueEntryJson, type StreamServerFrame } from "@conclave/api";
import { dropSchema, ENGINES, freshSchemaName, POSTGRES } from "./support/engines.js";
import { killHard, remote, startChild } from "./support/child.js";
import { registerDevice, startServer, type Device, type RunningServer } from "./support/server.js";
import { applicationMessage, NO_RATE_LIMITS, unb64 } from "./ds-support.js";
import { groupOf } from "./support/mlsGroup.js";

const SENDERS = 3;
const PER_SENDER = 150;
const READERS = 12;

/** Sender index and sequence number, from the payload's last two bytes. */
function tagOf(e: QueueEntryJson): number {
  const m = unb64(e.message);
  return m[m.length - 2]! * 256 + m[m.length - 1]!;
}

interface Socket {
  readonly entries: QueueEntryJson[];
  readonly opened: Promise<void>;
  close(): void;
}

/** A stream that records application entries; it acknowledges each position frame when `ack` is set. */
function socket(url: string, d: Device, ack: boolean): Socket {
  const entries: QueueEntryJson[] = [];
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/stream`, { headers: { authorization: `Bearer ${d.token}` } });
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as StreamServerFrame;
    if (f.type === "message" && f.entry.kind === "application") entries.push(f.entry);
    if (ack && f.type === "position") ws.send(JSON.stringify({ type: "ack", cursor: f.cursor }));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { entries, opened, close: () => ws.close() };
}

function post(s: RunningServer, d: Device, g: Uint8Array, tag: number) {
  const body = Buffer.from(applicationMessage(g, 1n, new Uint8Array([tag >> 8, tag & 255])));
  return s.request("POST", `/v1/groups/${toBase64Url(g)}/messages`, { token: d.token, headers: { "content-type": "message/mls" }, body });
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

const cases = [
  { name: "sqlite", available: true },
  { name: "postgres", available: POSTGRES.available },
];

describe.each(cases)("DS stream fan-out, many sockets on one group [$name]", ({ name, available }) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-fanout-"));
  const schema = freshSchemaName();
  const spec = name === "sqlite" ? `sqlite:${join(dir, "ds.sqlite")}` : `postgres:${schema}`;
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) await killHard(c);
    rmSync(dir, { recursive: true, force: true });
    if (name === "postgres" && available) await dropSchema(schema);
  });

  it.skipIf(!available)("every socket gets every message once, in log order, never its own", { timeout: 120_000 }, async () => {
    const first = await startChild(spec);
    children.push(first.child);
    // Push crosses processes through PostgreSQL's LISTEN/NOTIFY; SQLite's notifier wakes its own process only.
    const second = name === "postgres" ? await startChild(spec) : first;
    if (second !== first) children.push(second.child);
    const servers = [remote(first.url), remote(second.url)];
    const senders: Device[] = [];
    for (let k = 0; k < SENDERS; k++) senders.push(await registerDevice(servers[0]!, `fo-s${k}-${name}`, "d"));
    const readers: Device[] = [];
    for (let k = 0; k < READERS; k++) readers.push(await registerDevice(servers[0]!, `fo-r${k}-${name}`, "d"));
    const g = (await groupOf(servers[0]!, senders[0]!, [...senders.slice(1), ...readers]))[0]!.group.groupId;

    // One socket per reader, spread over the processes, half of them acknowledging (a client's acknowledgement
    // covers all its streams, so each reader has one here); one per sender too.
    const sockets: { socket: Socket; own: number | undefined }[] = [];
    readers.forEach((d, k) => {
      sockets.push({ socket: socket(servers[k % 2]!.url, d, k % 4 < 2), own: undefined });
    });
    senders.forEach((d, k) => {
      sockets.push({ socket: socket(servers[k % 2]!.url, d, true), own: k });
    });
    await Promise.all(sockets.map((s) => s.socket.opened));

    const accepted: number[] = [];
    await Promise.all(
      senders.map(async (d, k) => {
        for (let i = 0; i < PER_SENDER; i++) {
          const tag = k * PER_SENDER + i;
          const r = await post(servers[(k + i) % 2]!, d, g, tag);
          expect(r.status).toBe(202);
          accepted.push(tag);
        }
      }),
    );
    const expectedCount = (own: number | undefined) => accepted.length - (own === undefined ? 0 : PER_SENDER);
    await until(() => sockets.every((s) => s.socket.entries.length >= expectedCount(s.own)), 60_000);
    await new Promise((r) => setTimeout(r, 300)); // anything more would be a duplicate
    for (const s of sockets) s.socket.close();

    const order = sockets[0]!.socket.entries.map((e) => e.seq);
    for (const [n, { socket: sk, own }] of sockets.entries()) {
      const seqs = sk.entries.map((e) => e.seq);
      const tags = sk.entries.map(tagOf);
      expect(new Set(tags).size, `socket ${n}: duplicates`).toBe(tags.length);
      expect(tags.length, `socket ${n}: lost`).toBe(expectedCount(own));
      // Log order: positions strictly increasing, each sender's messages in the order sent.
      expect(
        seqs.every((q, i) => i === 0 || q > seqs[i - 1]!),
        `socket ${n}: out of log order`,
      ).toBe(true);
      for (let k = 0; k < SENDERS; k++) {
        const mine = tags.filter((t) => Math.floor(t / PER_SENDER) === k);
        expect(mine, `socket ${n}: sender ${k}`).toEqual(k === own ? [] : Array.from({ length: PER_SENDER }, (_, i) => k * PER_SENDER + i));
      }
      // The readers' sockets saw the same log: the same positions in the same order.
      if (own === undefined) expect(seqs).toEqual(order);
    }
  });
});

describe.each(ENGINES)("DS stream fan-out and the roster [$name]", (engine) => {
  it.skipIf(!engine.available)("a member removed while streaming gets nothing sent after its removal; the others get it", { timeout: 60_000 }, async () => {
    const s = await startServer(engine, NO_RATE_LIMITS);
    try {
      const [a, b, c] = [await registerDevice(s, "fr-a", "d"), await registerDevice(s, "fr-b", "d"), await registerDevice(s, "fr-c", "d")];
      const g = (await groupOf(s, a, [b, c]))[0]!.group.groupId;
      const sb = socket(s.url, b, true);
      const sc = socket(s.url, c, true);
      await Promise.all([sb.opened, sc.opened]);
      for (let i = 0; i < 5; i++) expect((await post(s, a, g, i)).status).toBe(202);
      await until(() => sb.entries.length === 5 && sc.entries.length === 5, 10_000);
      expect(sc.entries.map(tagOf)).toEqual([0, 1, 2, 3, 4]);
      // Carol leaves the roster (as a commit removing her would), without her topic being woken.
      const store = s.t.store;
      const clientC = (await store.clients.getByName("fr-c", "d"))!.id;
      await store.transaction(async (tx) => {
        const r = await tx.groups.reserve(g);
        await tx.groups.append({ groupId: g, seq: r!.seq, kind: "handshake", epoch: 1, contentType: 3, senderClientId: clientC, message: new Uint8Array([1]), createdAt: 1 });
        await tx.memberships.leave(g, [clientC], r!.seq);
      });
      for (let i = 5; i < 10; i++) expect((await post(s, a, g, i)).status).toBe(202);
      await until(() => sb.entries.length === 10, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(sb.entries.map(tagOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(sc.entries.map(tagOf)).toEqual([0, 1, 2, 3, 4]);
      sb.close();
      sc.close();
    } finally {
      await s.close();
    }
  });
});
