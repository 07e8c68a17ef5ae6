/**
 * A federating Conclave server in its own OS process, for the federation
 * fault tests (a SIGKILL mid-traffic, then a restart on the same database):
 *
 *   node --import tsx federatedServer.ts '<json ServerSpec>'
 *
 * prints "LISTENING" once it accepts requests.
 */
import { createConclaveServer, type StoreConfig } from "@conclave/server";

interface ServerSpec {
  readonly domain: string;
  readonly port: number;
  readonly url: string;
  readonly store: StoreConfig;
  readonly peers: Record<string, string>;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as ServerSpec;
const app = await createConclaveServer({
  store: spec.store,
  domain: spec.domain,
  limits: { rateLimitPerIp: false, rateLimitPerClient: false },
  accounts: { nameProof: { kind: "open" }, creationPerIp: false, creationPerPrefix: false, recoveryCodeCost: 8 },
  ds: { retention: false },
  federation: { publicUrl: spec.url, peers: spec.peers, pushIntervalMs: 50, timeoutMs: 2000 },
});
await app.listen({ host: "127.0.0.1", port: spec.port });
console.log("LISTENING");
