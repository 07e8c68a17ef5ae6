/**
 * Real Conclave servers of different domains on loopback, each configured with
 * the others' URLs (ports reserved first), for the federation tests (issue 22).
 * A server can be stopped and started again on its own database.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createConclaveServer, type StoreConfig } from "@conclave/server";

const CHILD = fileURLToPath(new URL("./support/federatedServer.ts", import.meta.url));

/** Starts the server of `spec` in its own process; resolves once it listens. */
function startChild(spec: unknown): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("LISTENING")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`federated server exited early: ${code}`)));
  });
}

export const PG_URL = process.env.CONCLAVE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

export interface DomainServer {
  readonly domain: string;
  readonly url: string;
  start(): Promise<void>;
  /** A clean shutdown. */
  stop(): Promise<void>;
  /** SIGKILL for a server in its own process (`children`); a clean shutdown otherwise. */
  kill(): Promise<void>;
}

export interface Federation {
  readonly servers: DomainServer[];
  close(): Promise<void>;
}

/**
 * Starts one server per domain; `postgres` names the domains whose server runs on PostgreSQL,
 * `children` those that run in their own process (so a test can SIGKILL them).
 */
export async function startFederation(domains: readonly string[], postgres: readonly string[] = [], children: readonly string[] = []): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-fed-"));
  const ports = await Promise.all(domains.map(() => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const schemas: string[] = [];
  const servers = domains.map((domain, i): DomainServer => {
    let app: Awaited<ReturnType<typeof createConclaveServer>> | undefined;
    let child: ChildProcess | undefined;
    let schema: string | undefined;
    const store = (): StoreConfig => {
      if (!postgres.includes(domain)) return { engine: "sqlite", path: join(dir, `${domain}.sqlite`) };
      schema ??= `conclave_fed_${process.pid}_${randomBytes(5).toString("hex")}`;
      if (!schemas.includes(schema)) schemas.push(schema);
      return { engine: "postgres", connectionString: PG_URL, schema };
    };
    const peers = Object.fromEntries(domains.map((d, j) => [d, urls[j]!] as const).filter(([d]) => d !== domain));
    return {
      domain,
      url: urls[i]!,
      async start() {
        if (children.includes(domain)) {
          child = await startChild({ domain, port: ports[i]!, url: urls[i]!, store: store(), peers });
          return;
        }
        app = await createConclaveServer({
          store: store(),
          domain,
          limits: { rateLimitPerIp: false, rateLimitPerClient: false },
          accounts: { nameProof: { kind: "open" }, creationPerIp: false, creationPerPrefix: false, recoveryCodeCost: 8 },
          ds: { retention: false },
          federation: { publicUrl: urls[i]!, peers, pushIntervalMs: 50, timeoutMs: 2000 },
        });
        await app.listen({ host: "127.0.0.1", port: ports[i]! });
      },
      async stop() {
        await app?.close();
        app = undefined;
        await this.kill();
      },
      async kill() {
        const c = child;
        child = undefined;
        if (c !== undefined && c.exitCode === null && c.signalCode === null) {
          await new Promise<void>((resolve) => {
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          });
        }
        await app?.close();
        app = undefined;
      },
    };
  });
  for (const s of servers) await s.start();
  return {
    servers,
    async close() {
      for (const s of servers) await s.stop();
      rmSync(dir, { recursive: true, force: true });
      if (schemas.length === 0) return;
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        for (const s of schemas) await c.query(`drop schema if exists "${s}" cascade`);
      } finally {
        await c.end();
      }
    },
  };
}
