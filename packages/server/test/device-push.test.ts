/**
 * Device changes pushed to the account's other devices on /v1/stream (issue
 * 23): a device added by approval or recovery code, or revoked, reaches every
 * open stream of the account as a "device" frame (the same entry the
 * device-change list holds), within one process and across processes on
 * PostgreSQL; a revoked device's stream is closed; other accounts hear nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { signDeviceApproval, toBase64Url, type DeviceChange, type DeviceChangesResponse, type StreamServerFrame, type TokenResponse } from "@conclave/api";
import { createConclaveServer } from "../src/index.js";
import { createPostgresStore, type Store } from "../src/storage/index.js";
import { CHILD_ADMIN_TOKEN } from "./support/child.js";
import { dropSchema, ENGINES, freshSchemaName, PG_URL, POSTGRES } from "./support/engines.js";
import { createAccount, crypto, registerDevice, registration, startServer, TEST_ACCOUNTS, type Device, type RunningServer } from "./support/server.js";

/** A stream that records frames and how it was closed. */
class Stream {
  readonly frames: StreamServerFrame[] = [];
  closed: number | undefined;
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.frames.push(JSON.parse(data.toString()) as StreamServerFrame));
    ws.on("close", (code) => {
      this.closed = code;
    });
  }
  static open(url: string, token: string): Promise<Stream> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/stream`, { headers: { authorization: `Bearer ${token}` } });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new Stream(ws)));
      ws.once("error", reject);
    });
  }
  devices(): DeviceChange[] {
    return this.frames.flatMap((f) => (f.type === "device" ? [f.change] : []));
  }
  async until(pred: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out; frames ${JSON.stringify(this.frames)}, closed ${this.closed}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Approves `next`'s keys from `by` (POST device-approvals) and registers `next` with the approval. */
async function link(s: RunningServer, by: Device, device: string): Promise<Device> {
  const next = await registration(s, by.user, device, { kind: "approval" });
  const signature = await signDeviceApproval(crypto.suite(by.cipherSuite), by.keys.privateKey, {
    domain: "example.com",
    user: by.user,
    device,
    cipherSuite: next.d.cipherSuite,
    signatureKey: next.d.keys.publicKey,
    authKey: next.d.authKey.publicKey,
    approver: by.device,
  });
  const approved = await s.request("POST", `/v1/users/${by.user}/device-approvals`, {
    token: by.token,
    json: { device, cipherSuite: next.d.cipherSuite, signatureKey: toBase64Url(next.d.keys.publicKey), authKey: toBase64Url(next.d.authKey.publicKey), signature: toBase64Url(signature) },
  });
  expect(approved.status).toBe(201);
  const r = await s.request<TokenResponse>("POST", "/v1/clients", { json: next.body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { ...next.d, token: r.body.token };
}

const listed = async (s: RunningServer, d: Device) => (await s.request<DeviceChangesResponse>("GET", `/v1/users/${d.user}/device-changes`, { token: d.token })).body.changes;

describe.each(ENGINES)("device changes pushed on the stream [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, { limits: { rateLimitPerIp: false, rateLimitPerClient: false } });
  });
  afterAll(async () => {
    await s?.close();
  });

  describe.skipIf(!engine.available)("", () => {
    it("pushes an approved device and a revocation to the account's streams, closes the revoked device's, and tells no other account", async () => {
      const code = await createAccount(s, "pia");
      const phone = await registerDevice(s, "pia", "phone", 1, code);
      const eve = await registerDevice(s, "eve", "pc");
      const phoneStream = await Stream.open(s.url, phone.token);
      const eveStream = await Stream.open(s.url, eve.token);

      const laptop = await link(s, phone, "laptop");
      await phoneStream.until(() => phoneStream.devices().length === 1);
      const [added] = phoneStream.devices();
      expect([added!.kind, added!.device, added!.by, added!.signatureKey]).toEqual(["added", "laptop", "device:phone", toBase64Url(laptop.keys.publicKey)]);
      // The pushed entry is the listed one (seq, log index and all): offline devices read the same.
      expect((await listed(s, phone)).at(-1)).toEqual(added);

      const laptopStream = await Stream.open(s.url, laptop.token);
      const tablet = await registerDevice(s, "pia", "tablet", 1, code); // with the recovery code
      await phoneStream.until(() => phoneStream.devices().length === 2);
      await laptopStream.until(() => laptopStream.devices().length === 1);
      expect(laptopStream.devices()[0]).toMatchObject({ kind: "added", device: "tablet", by: "recovery" });

      // The phone revokes the laptop: the others hear it, the laptop's open stream is closed.
      const tabletStream = await Stream.open(s.url, tablet.token);
      expect((await s.request("POST", "/v1/users/pia/clients/laptop/revoke", { token: phone.token })).status).toBe(200);
      await laptopStream.until(() => laptopStream.closed !== undefined);
      expect(laptopStream.closed).toBe(4403);
      await phoneStream.until(() => phoneStream.devices().length === 3);
      await tabletStream.until(() => tabletStream.devices().length === 1);
      expect(tabletStream.devices()[0]).toMatchObject({ kind: "revoked", device: "laptop", by: "device:phone" });
      expect(phoneStream.closed).toBeUndefined();

      // A revocation with the recovery code too.
      expect((await s.request("POST", "/v1/users/pia/clients/tablet/recovery-revoke", { json: { recoveryCode: code } })).status).toBe(200);
      await phoneStream.until(() => phoneStream.devices().length === 4);
      expect(phoneStream.devices()[3]).toMatchObject({ kind: "revoked", device: "tablet", by: "recovery" });
      await tabletStream.until(() => tabletStream.closed === 4403);

      expect(eveStream.devices()).toEqual([]);
      for (const st of [phoneStream, eveStream]) st.ws.close();
    });
  });
});

describe.skipIf(!POSTGRES.available)("device changes pushed across processes through PostgreSQL LISTEN/NOTIFY", () => {
  const schema = freshSchemaName();
  const apps: FastifyInstance[] = [];
  const stores: Store[] = [];
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const store = await createPostgresStore({ connectionString: PG_URL, schema, maxConnections: 4 });
      const app = await createConclaveServer({
        store,
        domain: "example.com",
        limits: { rateLimitPerIp: false, rateLimitPerClient: false },
        ds: { postgresNotify: { connectionString: PG_URL, channel: schema } },
        accounts: { ...TEST_ACCOUNTS, adminToken: CHILD_ADMIN_TOKEN },
      });
      await app.listen({ host: "127.0.0.1", port: 0 });
      const addr = app.server.address();
      if (addr === null || typeof addr === "string") throw new Error("no address");
      const url = `http://127.0.0.1:${addr.port}`;
      stores.push(store);
      apps.push(app);
      // What the helpers need of a RunningServer: its url and requests (invites through the admin route).
      servers.push({
        url,
        async request(method: string, path: string, opts: { json?: unknown; token?: string } = {}) {
          const headers: Record<string, string> = {};
          if (opts.json !== undefined) headers["content-type"] = "application/json";
          if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
          const res = await fetch(url + path, { method, headers, ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}) });
          const text = await res.text();
          return { status: res.status, headers: res.headers, body: text === "" ? text : JSON.parse(text) };
        },
      } as unknown as RunningServer);
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const st of stores) await st.close();
    await dropSchema(schema);
  });

  it("a device approved through one process reaches the account's stream on the other", async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    const phone = await registerDevice(a, "xp-pia", "phone");
    const stream = await Stream.open(b.url, phone.token);
    await link(a, phone, "laptop");
    await stream.until(() => stream.devices().length === 1);
    expect(stream.devices()[0]).toMatchObject({ kind: "added", device: "laptop", by: "device:phone" });
    stream.ws.close();
  });
});
