/**
 * Test harness: a real Conclave server listening on 127.0.0.1 (random port)
 * over a fresh store of the given engine, a controllable clock, and a small
 * client that registers devices with real MLS signature keys and talks to
 * the server with fetch.
 */
import type { FastifyInstance } from "fastify";
import {
  AUTH_HASH_SUITE,
  AuthPurpose,
  answerChallenge,
  fromBase64Url,
  signAuthChallenge,
  toBase64Url,
  x25519GenerateKeyPair,
  type ChallengeResponse,
  type CreateAccountResponse,
  type CreateInviteResponse,
  type DeviceAuthorization,
  type ErrorBody,
  type TokenResponse,
  type X25519KeyPair,
} from "@conclave/api";
import type { CipherSuiteId, KeyPair } from "@conclave/mls";
import { createConclaveServer, type ConclaveServerOptions } from "../../src/index.js";
import { defaultCryptoProvider } from "../../src/crypto.js";
import { CHILD_ADMIN_TOKEN } from "./child.js";
import type { TestEngine, TestStore } from "./engines.js";

export const crypto = defaultCryptoProvider;

export class TestClock {
  constructor(public now = Date.UTC(2030, 0, 1)) {}
  readonly fn = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly clock: TestClock;
  readonly t: TestStore;
  request<T = unknown>(method: string, path: string, opts?: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; token?: string }): Promise<Reply<T>>;
  close(): Promise<void>;
}

/** Starts a server; `prepare` may add routes (e.g. test-only ones) before it listens. */
export async function startServer(
  engine: TestEngine,
  options: Partial<Omit<ConclaveServerOptions, "store" | "clock">> = {},
  prepare?: (app: FastifyInstance) => void,
  port = 0,
): Promise<RunningServer> {
  const t = await engine.open();
  const clock = new TestClock();
  const accounts = { ...TEST_ACCOUNTS, ...options.accounts } as const;
  const app = await createConclaveServer({ store: t.store, clock: clock.fn, domain: "example.com", ...options, accounts });
  prepare?.(app);
  await app.listen({ host: "127.0.0.1", port });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    app,
    clock,
    t,
    async request<T>(method: string, path: string, opts: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; token?: string } = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      let body = opts.body;
      if (opts.json !== undefined) {
        headers["content-type"] ??= "application/json";
        body = JSON.stringify(opts.json);
      }
      if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get("content-type") ?? "").startsWith("application/json") && text !== "") parsed = JSON.parse(text);
      return { status: res.status, headers: res.headers, body: parsed as T };
    },
    async close() {
      await app.close();
      await t.dispose();
    },
  };
}

export function errorCode(reply: Reply): string | undefined {
  return (reply.body as ErrorBody | undefined)?.error?.code;
}

/** One device: a signature key pair of its suite, registered under a user. */
export interface Device {
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly keys: KeyPair;
  readonly authKey: X25519KeyPair;
  token: string;
}

/** Tests register many accounts from 127.0.0.1: cheap recovery hashes, no creation limits unless a test sets them. */
export const TEST_ACCOUNTS = { recoveryCodeCost: 8, creationPerIp: false, creationPerPrefix: false, recoveryAttempts: false, sweepIntervalMs: 0 } as const;

/** A fresh invite token, made in process as an admin would (or on the admin route of a server in another process). */
export async function invite(s: RunningServer): Promise<string> {
  if ((s as Partial<RunningServer>).app === undefined) {
    const r = await s.request<CreateInviteResponse>("POST", "/v1/admin/invites", { token: CHILD_ADMIN_TOKEN });
    if (r.status !== 201) throw new Error(`invite: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }
  return (await s.app.conclave.as.createInvite()).token;
}

/** Claims `user` with a fresh invite; returns the recovery code. */
export async function createAccount(s: RunningServer, user: string): Promise<string> {
  const r = await s.request<CreateAccountResponse>("POST", "/v1/accounts", { json: { user, proof: { kind: "invite", token: await invite(s) } } });
  if (r.status !== 201) throw new Error(`createAccount ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.recoveryCode;
}

export async function challenge(s: RunningServer): Promise<ChallengeResponse> {
  const r = await s.request<ChallengeResponse>("POST", "/v1/auth/challenges");
  if (r.status !== 201) throw new Error(`challenge: ${r.status}`);
  return r.body;
}

/** The registration signature over nonce || AuthContext. */
export async function signChallenge(
  nonceB64: string,
  purpose: (typeof AuthPurpose)[keyof typeof AuthPurpose],
  d: { user: string; device: string; cipherSuite: CipherSuiteId; keys: KeyPair; authKey: X25519KeyPair },
  domain = "example.com",
): Promise<string> {
  const sig = await signAuthChallenge(crypto.suite(d.cipherSuite), d.keys.privateKey, fromBase64Url(nonceB64), {
    domain,
    purpose,
    user: d.user,
    device: d.device,
    cipherSuite: d.cipherSuite,
    signatureKey: d.keys.publicKey,
    authKey: d.authKey.publicKey,
  });
  return toBase64Url(sig);
}

/** The handshake answer to `c` (auth.ts): { nonce, clientEphemeral, mac }. */
export async function answer(
  c: ChallengeResponse,
  purpose: (typeof AuthPurpose)[keyof typeof AuthPurpose],
  d: { user: string; device: string; authKey: X25519KeyPair },
  domain = c.domain,
): Promise<{ nonce: string; clientEphemeral: string; mac: string }> {
  const r = await answerChallenge(
    crypto.suite(AUTH_HASH_SUITE),
    { domain, nonce: fromBase64Url(c.nonce), serverKey: fromBase64Url(c.serverKey), serverEphemeral: fromBase64Url(c.serverEphemeral) },
    { purpose, user: d.user, device: d.device, authKey: d.authKey },
  );
  return { nonce: c.nonce, clientEphemeral: toBase64Url(r.clientEphemeral), mac: toBase64Url(r.mac) };
}

/** A registration body for fresh keys (or `keys`), with the handshake and signature over a fresh challenge. */
export async function registration(
  s: RunningServer,
  user: string,
  device: string,
  authorization: DeviceAuthorization,
  cipherSuite: CipherSuiteId = 1,
  keys?: { keys: KeyPair; authKey: X25519KeyPair },
) {
  const d = { user, device, cipherSuite, keys: keys?.keys ?? (await crypto.suite(cipherSuite).signatureGenerateKeyPair()), authKey: keys?.authKey ?? (await x25519GenerateKeyPair()) };
  const c = await challenge(s);
  const body = {
    user,
    device,
    cipherSuite,
    signatureKey: toBase64Url(d.keys.publicKey),
    authKey: toBase64Url(d.authKey.publicKey),
    ...(await answer(c, AuthPurpose.register, d)),
    signature: await signChallenge(c.nonce, AuthPurpose.register, d, c.domain),
    authorization,
  };
  return { d, body };
}

/** Registers a new device: creates the account first unless its recovery code is given. */
export async function registerDevice(s: RunningServer, user: string, device: string, cipherSuite: CipherSuiteId = 1, recoveryCode?: string): Promise<Device> {
  const code = recoveryCode ?? (await createAccount(s, user));
  const { d, body } = await registration(s, user, device, { kind: "recovery", recoveryCode: code }, cipherSuite);
  const r = await s.request<TokenResponse>("POST", "/v1/clients", { json: body });
  if (r.status !== 201) throw new Error(`register ${user}#${device}: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...d, token: r.body.token };
}

/** Logs a registered device in with the handshake; returns the reply. */
export async function login(s: RunningServer, d: Device, c?: ChallengeResponse) {
  const ch = c ?? (await challenge(s));
  return s.request<TokenResponse>("POST", "/v1/auth/tokens", { json: { user: d.user, device: d.device, ...(await answer(ch, AuthPurpose.login, d)) } });
}
