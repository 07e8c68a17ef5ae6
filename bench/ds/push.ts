/**
 * Socket push, in a process of its own: `receivers` members hold /v1/stream
 * WebSockets open while one more member posts messages over HTTP (closed loop,
 * `concurrency` in flight) for `seconds`. Every receiver should get every
 * message pushed; latency is post start -> arrival on each socket (one clock:
 * sender and receivers live in this process). Reads a PushSpec on stdin,
 * prints a PushResult.
 */
import WebSocket from "ws";
import type { StreamServerFrame } from "@conclave/api";
import { readInput } from "./processes.js";

export interface PushSpec {
  readonly url: string;
  readonly path: string;
  readonly groupId: string;
  readonly senderToken: string;
  readonly receiverTokens: readonly string[];
  /** Message bodies by seq are built here from this template (base64): its last 4 bytes are replaced by the seq. */
  readonly template: string;
  readonly concurrency: number;
  readonly seconds: number;
}

export interface PushResult {
  readonly receivers: number;
  readonly sent: number;
  readonly sentPerSecond: number;
  /** Frames of bench messages received, over all sockets. */
  readonly pushed: number;
  readonly pushedPerSecond: number;
  /** Deliveries that had not arrived 10 s after the last post. */
  readonly missing: number;
  readonly p50: number;
  readonly p99: number;
}

const spec = await readInput<PushSpec>();
const template = Buffer.from(spec.template, "base64");
const sentAt: number[] = [];
const latencies: number[] = [];
let pushed = 0;
let lastArrival = 0;

function seqOf(entryMessage: string): number {
  const m = Buffer.from(entryMessage, "base64url");
  return m.readUInt32BE(m.length - 4);
}

const sockets = await Promise.all(
  spec.receiverTokens.map(
    (token) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${spec.url.replace("http", "ws")}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
        ws.on("message", (data) => {
          const f = JSON.parse(String(data)) as StreamServerFrame;
          if (f.type !== "message" || f.entry.kind !== "application" || f.entry.groupId !== spec.groupId) return;
          const t = sentAt[seqOf(f.entry.message)];
          if (t === undefined) return;
          const now = performance.now();
          latencies.push(now - t);
          pushed++;
          lastArrival = now;
        });
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      }),
  ),
);
await new Promise((r) => setTimeout(r, 500)); // backlogs (each receiver's Welcome) flushed

let seq = 0;
const start = performance.now();
const end = start + spec.seconds * 1000;
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    while (performance.now() < end) {
      const s = seq++;
      const body = Buffer.from(template);
      body.writeUInt32BE(s, body.length - 4);
      sentAt[s] = performance.now();
      const r = await fetch(spec.url + spec.path, { method: "POST", headers: { authorization: `Bearer ${spec.senderToken}`, "content-type": "message/mls" }, body });
      await r.arrayBuffer();
      if (r.status !== 202) throw new Error(`post: ${r.status}`);
    }
  }),
);
const sendSeconds = (performance.now() - start) / 1000;
const expected = seq * sockets.length;
const waitUntil = performance.now() + 10_000;
while (pushed < expected && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
for (const ws of sockets) ws.terminate();

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
const result: PushResult = {
  receivers: sockets.length,
  sent: seq,
  sentPerSecond: seq / sendSeconds,
  pushed,
  pushedPerSecond: pushed / ((lastArrival - start) / 1000),
  missing: expected - pushed,
  p50: pct(50),
  p99: pct(99),
};
process.stdout.write(JSON.stringify(result));
process.exit(0);
