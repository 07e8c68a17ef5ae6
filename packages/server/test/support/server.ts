/**
 * Test harness: a real Conclave server listening on 127.0.0.1 (random port)
 * over a fresh store of the given engine, a controllable clock, and a small
 * client that registers devices with real MLS signature keys and talks to
 * the server with fetch.
 */
import type { FastifyInstance } from "fastify";
import {
  AuthPurpose,
  signAuthChallenge,
  toBase64Url,
  type ChallengeResponse,
  type CreateAccountResponse,
  type ErrorBody,
  type TokenResponse,
} from "@conclave/api";
import type { CipherSuiteId, KeyPair } from "@conclave/mls";
import { createConclaveServer, type ConclaveServerOptions } from "../../src/index.js";
import { defaultCryptoProvider } from "../../src/crypto.js";
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
): Promise<RunningServer> {
  const t = await engine.open();
  const clock = new TestClock();
  const app = await createConclaveServer({ store: t.store, clock: clock.fn, domain: "example.com", ...options });
  prepare?.(app);
  await app.listen({ host: "127.0.0.1", port: 0 });
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
  token: string;
}

export async function createAccount(s: RunningServer, user: string): Promise<string> {
  const r = await s.request<CreateAccountResponse>("POST", "/v1/accounts", { json: { user } });
  if (r.status !== 201) throw new Error(`createAccount ${user}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.accountSecret;
}

export async function challenge(s: RunningServer): Promise<ChallengeResponse> {
  const r = await s.request<ChallengeResponse>("POST", "/v1/auth/challenges");
  if (r.status !== 201) throw new Error(`challenge: ${r.status}`);
  return r.body;
}

export async function signChallenge(
  nonceB64: string,
  purpose: (typeof AuthPurpose)[keyof typeof AuthPurpose],
  d: { user: string; device: string; cipherSuite: CipherSuiteId; keys: KeyPair },
  domain = "example.com",
): Promise<string> {
  const nonce = new Uint8Array(Buffer.from(nonceB64, "base64url"));
  const sig = await signAuthChallenge(crypto.suite(d.cipherSuite), d.keys.privateKey, nonce, {
    domain,
    purpose,
    user: d.user,
    device: d.device,
    cipherSuite: d.cipherSuite,
    signatureKey: d.keys.publicKey,
  });
  return toBase64Url(sig);
}

/** Registers a new device (creating the account first unless a secret is given). */
export async function registerDevice(s: RunningServer, user: string, device: string, cipherSuite: CipherSuiteId = 1, accountSecret?: string): Promise<Device> {
  const secret = accountSecret ?? (await createAccount(s, user));
  const keys = await crypto.suite(cipherSuite).signatureGenerateKeyPair();
  const d = { user, device, cipherSuite, keys };
  const c = await challenge(s);
  const r = await s.request<TokenResponse>("POST", "/v1/clients", {
    json: {
      user,
      device,
      cipherSuite,
      signatureKey: toBase64Url(keys.publicKey),
      accountSecret: secret,
      nonce: c.nonce,
      signature: await signChallenge(c.nonce, AuthPurpose.register, d),
    },
  });
  if (r.status !== 201) throw new Error(`register ${user}#${device}: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...d, token: r.body.token };
}
