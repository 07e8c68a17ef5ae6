/**
 * Federation test harness: real servers of different domains on loopback,
 * each configured with the others' URLs (ports reserved before any starts).
 */
import { createServer } from "node:net";
import { afterEach } from "vitest";
import { randomBytes } from "node:crypto";
import { encodeFederationSigned, FEDERATION_HEADERS, toBase64Url } from "@conclave/api";
import type { KeyPair } from "@conclave/mls";
import type { FederationOptions } from "../../src/index.js";
import { sha256 } from "../../src/crypto.js";
import { crypto, startServer, type RunningServer } from "../support/server.js";
import type { TestEngine } from "../support/engines.js";

export const ADMIN = "federation-admin-token";

/** The servers a test file starts: each closed (and its store disposed) at the end of its test, or earlier on demand. */
export interface Servers {
  /** Waits for the servers to start and tracks them. */
  up(...starting: Promise<RunningServer>[]): Promise<RunningServer[]>;
  /** Closes one tracked server now. */
  close(s: RunningServer): Promise<void>;
  /** Closes every tracked server now. */
  closeAll(): Promise<void>;
}

/** {@link Servers}, registered to close after each test of the calling file. */
export function serversClosedAfterEach(): Servers {
  const open: RunningServer[] = [];
  const servers: Servers = {
    async up(...starting) {
      const started = await Promise.all(starting);
      open.push(...started);
      return started;
    },
    async close(s) {
      open.splice(open.indexOf(s), 1);
      await s.close();
    },
    async closeAll() {
      for (const s of open.splice(0)) await s.close().catch(() => {});
    },
  };
  afterEach(() => servers.closeAll());
  return servers;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Domain {
  readonly domain: string;
  readonly port: number;
  readonly url: string;
}

export async function domains(names: readonly string[]): Promise<Domain[]> {
  const out: Domain[] = [];
  for (const domain of names) {
    const port = await freePort();
    out.push({ domain, port, url: `http://127.0.0.1:${port}` });
  }
  return out;
}

/** Starts `self` federating with `all` (every other domain's URL configured). */
export async function startDomain(engine: TestEngine, self: Domain, all: readonly Domain[], extra: Partial<FederationOptions> = {}): Promise<RunningServer> {
  const peers = Object.fromEntries(all.filter((d) => d.domain !== self.domain).map((d) => [d.domain, d.url]));
  return startServer(engine, { domain: self.domain, accounts: { adminToken: ADMIN }, federation: { publicUrl: self.url, peers, ...extra } }, undefined, self.port);
}

/** A request signed by hand with `keys` as `origin` (the test plays a peer, honest or not). */
export async function signedHeaders(
  keys: KeyPair,
  f: { origin: string; target: string; method: string; path: string; body?: Uint8Array; timestamp: number; nonce?: string },
): Promise<Record<string, string>> {
  const nonce = f.nonce ?? toBase64Url(randomBytes(18));
  const signed = encodeFederationSigned({ ...f, bodyHash: sha256(f.body ?? new Uint8Array(0)), nonce });
  const sig = await crypto.suite(1).signWithLabel(keys.privateKey, "Conclave federation request", signed);
  return {
    [FEDERATION_HEADERS.origin]: f.origin,
    [FEDERATION_HEADERS.target]: f.target,
    [FEDERATION_HEADERS.timestamp]: String(f.timestamp),
    [FEDERATION_HEADERS.nonce]: nonce,
    [FEDERATION_HEADERS.signature]: toBase64Url(sig),
  };
}
