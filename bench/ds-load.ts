/**
 * Delivery Service load: accepted + delivered application messages per second
 * and latency percentiles, for groups of 2, 100 and 1000 members, on the
 * embedded SQLite engine (a file in a temp directory, WAL), over real HTTP.
 *
 *   npx tsx bench/ds-load.ts                     sizes 2,100,1000; 5 s each; 8 concurrent senders
 *   npx tsx bench/ds-load.ts --seconds 3 --sizes 2,100 --concurrency 4
 *
 * Per group size: members are registered and added through one commit bundle
 * (KeyPackages uploaded and claimed; not timed). Then for --seconds, senders
 * post 256-byte PrivateMessage application messages (message/mls) from random
 * members. A message counts when the DS answered 202: by then it is durably
 * written to the queue of each of the other N-1 members in one transaction.
 *   accepted/s   202 answers per second
 *   delivered/s  queue entries written per second (accepted × (N-1))
 *   p50/p99      POST latency (accept + fan-out, ms)
 *   push p99     send -> arrival on one recipient's /v1/stream WebSocket (ms)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { AUTH_HASH_SUITE, AuthPurpose, answerChallenge, fromBase64Url, signAuthChallenge, toBase64Url, x25519GenerateKeyPair, type ClaimKeyPackagesResponse, type ChallengeResponse, type CreateAccountResponse, type TokenResponse } from "@conclave/api";
import { ContentType, CredentialType, encode, mlsMessageCodec, utf8, WireFormat, type KeyPair } from "@conclave/mls";
import { nodeCryptoProvider } from "@conclave/mls/node";
import { createKeyPackage, lifetimeFrom } from "../packages/mls/src/group/keyPackage.js";
import { createConclaveServer } from "../packages/server/src/index.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const SECONDS = Number(arg("seconds", "5"));
const SIZES = arg("sizes", "2,100,1000").split(",").map(Number);
const CONCURRENCY = Number(arg("concurrency", "8"));
const suite = nodeCryptoProvider.suite(1);

interface Member {
  user: string;
  keys: KeyPair;
  token: string;
}

let base = "";
async function call<T>(method: string, path: string, opts: { token?: string; json?: unknown; mls?: Uint8Array } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.mls !== undefined) {
    headers["content-type"] = "message/mls";
    body = Buffer.from(opts.mls);
  }
  const r = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  return { status: r.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}

async function register(user: string): Promise<Member> {
  // The bench server takes user names first come, first served; the first device registers with the recovery code.
  const acct = await call<CreateAccountResponse>("POST", "/v1/accounts", { json: { user, proof: { kind: "none" } } });
  const keys = await suite.signatureGenerateKeyPair();
  const authKey = await x25519GenerateKeyPair();
  const ch = await call<ChallengeResponse>("POST", "/v1/auth/challenges");
  const nonce = fromBase64Url(ch.body.nonce);
  const sig = await signAuthChallenge(suite, keys.privateKey, nonce, { domain: "bench", purpose: AuthPurpose.register, user, device: "d", cipherSuite: 1, signatureKey: keys.publicKey, authKey: authKey.publicKey });
  const proof = await answerChallenge(
    nodeCryptoProvider.suite(AUTH_HASH_SUITE),
    { domain: ch.body.domain, nonce, serverKey: fromBase64Url(ch.body.serverKey), serverEphemeral: fromBase64Url(ch.body.serverEphemeral) },
    { purpose: AuthPurpose.register, user, device: "d", authKey },
  );
  const r = await call<TokenResponse>("POST", "/v1/clients", {
    json: {
      user,
      device: "d",
      cipherSuite: 1,
      signatureKey: toBase64Url(keys.publicKey),
      authKey: toBase64Url(authKey.publicKey),
      nonce: ch.body.nonce,
      clientEphemeral: toBase64Url(proof.clientEphemeral),
      mac: toBase64Url(proof.mac),
      signature: toBase64Url(sig),
      authorization: { kind: "recovery", recoveryCode: acct.body.recoveryCode },
    },
  });
  if (r.status !== 201) throw new Error(`register ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  return { user, keys, token: r.body.token };
}

async function inBatches<T, R>(items: readonly T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

function filler(n: number): Uint8Array {
  return new Uint8Array(n).fill(0x5a);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function groupOf(size: number, members: Member[]): Promise<Uint8Array> {
  const g = utf8(`bench-${size}-${Date.now()}`);
  const creator = members[0]!;
  await call("POST", "/v1/groups", { token: creator.token, json: { groupId: toBase64Url(g) } });
  const others = members.slice(1, size);
  await inBatches(others, 16, async (m) => {
    const kp = await createKeyPackage({
      suite,
      identity: { credential: { credentialType: CredentialType.basic, identity: utf8(`${m.user}@bench#d`) }, signaturePrivateKey: m.keys.privateKey, signaturePublicKey: m.keys.publicKey },
      lifetime: lifetimeFrom(BigInt(Math.floor(Date.now() / 1000)), 86400n),
    });
    const up = await call("POST", "/v1/key-packages", { token: m.token, json: { keyPackages: [toBase64Url(kp.message)] } });
    if (up.status !== 201) throw new Error(`upload: ${up.status}`);
  });
  const refs = await inBatches(others, 16, async (m) => {
    const c = await call<ClaimKeyPackagesResponse>("POST", `/v1/users/${m.user}/key-packages/claim`, { token: creator.token, json: { cipherSuites: [1] } });
    return Buffer.from(c.body.keyPackages[0]!.ref, "base64url");
  });
  const commit = encode(mlsMessageCodec, {
    wireFormat: WireFormat.privateMessage,
    privateMessage: { groupId: g, epoch: 0n, contentType: ContentType.commit, authenticatedData: new Uint8Array(0), encryptedSenderData: filler(28), ciphertext: filler(200) },
  });
  const welcome = encode(mlsMessageCodec, {
    wireFormat: WireFormat.welcome,
    welcome: { cipherSuite: 1, secrets: refs.map((r) => ({ newMember: new Uint8Array(r), encryptedGroupSecrets: { kemOutput: filler(32), ciphertext: filler(48) } })), encryptedGroupInfo: filler(200) },
  });
  const r = await call("POST", `/v1/groups/${toBase64Url(g)}/commits`, { token: creator.token, json: { commit: toBase64Url(commit), ...(refs.length > 0 ? { welcome: toBase64Url(welcome) } : {}) } });
  if (r.status !== 202) throw new Error(`commit: ${r.status} ${JSON.stringify(r.body)}`);
  return g;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-ds-load-"));
  const app = await createConclaveServer({
    store: { engine: "sqlite", path: join(dir, "ds.sqlite") },
    domain: "bench",
    limits: { rateLimitPerIp: false, rateLimitPerClient: false },
    // One creator claims every member's KeyPackage; cheap recovery hashes for thousands of accounts.
    accounts: { nameProof: { kind: "open" }, creationPerIp: false, creationPerPrefix: false, recoveryCodeCost: 10 },
    ds: { keyPackageClaims: { perClaimer: false, perTarget: false } },
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("no address");
  base = `http://127.0.0.1:${addr.port}`;
  try {
    const maxSize = Math.max(...SIZES);
    const t0 = performance.now();
    const members = await inBatches(Array.from({ length: maxSize }, (_, i) => `m${i}`), 16, register);
    console.log(`DS load on SQLite (${join(dir, "ds.sqlite")}): ${maxSize} clients registered in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${SECONDS} s per size, ${CONCURRENCY} concurrent senders, 256-byte messages\n`);
    console.log("members  accepted/s  delivered/s   p50 ms   p99 ms  push p99 ms  errors");
    for (const size of SIZES) {
      const g = await groupOf(size, members);
      const gPath = `/v1/groups/${toBase64Url(g)}/messages`;
      // One recipient streams: the end-to-end push latency.
      const watcher = members[size - 1]!;
      const sentAt = new Map<number, number>();
      const push: number[] = [];
      const ws = new WebSocket(`${base.replace("http", "ws")}/v1/stream`, { headers: { authorization: `Bearer ${watcher.token}` } });
      await new Promise((r) => ws.once("open", r));
      ws.on("message", (data) => {
        const f = JSON.parse(data.toString()) as { type: string; entry?: { kind: string; message: string; id: number } };
        if (f.type !== "message" || f.entry?.kind !== "application") return;
        const m = Buffer.from(f.entry.message, "base64url");
        const seq = m.readUInt32BE(m.length - 4);
        const t = sentAt.get(seq);
        if (t !== undefined) push.push(performance.now() - t);
      });
      const lat: number[] = [];
      let errors = 0;
      let seq = 0;
      const end = performance.now() + SECONDS * 1000;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const s = ++seq;
            const sender = members[Math.floor(Math.random() * (size - 1))]!; // never the watcher
            const ct = filler(256);
            new DataView(ct.buffer).setUint32(252, s);
            const msg = encode(mlsMessageCodec, {
              wireFormat: WireFormat.privateMessage,
              privateMessage: { groupId: g, epoch: 1n, contentType: ContentType.application, authenticatedData: new Uint8Array(0), encryptedSenderData: filler(28), ciphertext: ct },
            });
            const t = performance.now();
            sentAt.set(s, t);
            const r = await call("POST", gPath, { token: sender.token, mls: msg });
            if (r.status === 202) lat.push(performance.now() - t);
            else errors++;
          }
        }),
      );
      const elapsed = (performance.now() - start) / 1000;
      await new Promise((r) => setTimeout(r, 300));
      ws.close();
      lat.sort((a, b) => a - b);
      push.sort((a, b) => a - b);
      const acc = lat.length / elapsed;
      console.log(
        `${String(size).padStart(7)}  ${acc.toFixed(0).padStart(10)}  ${(acc * (size - 1)).toFixed(0).padStart(11)}  ${percentile(lat, 50).toFixed(1).padStart(7)}  ${percentile(lat, 99).toFixed(1).padStart(7)}  ${percentile(push, 99).toFixed(1).padStart(11)}  ${String(errors).padStart(6)}`,
      );
      // Drain the queues so sizes do not weigh on each other.
      await inBatches(members.slice(0, size), 32, (m) => call("POST", "/v1/queue/ack", { token: m.token, json: { upTo: Number.MAX_SAFE_INTEGER } }));
    }
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
