/**
 * Federation configuration (issue 22): who this server federates with and how
 * strictly. From the environment in main.ts:
 *   CONCLAVE_PUBLIC_URL                      this server's own base URL (published in the well-known document)
 *   CONCLAVE_FEDERATION_PEERS                "b.example=http://127.0.0.1:7301,c.example=https://c.example"
 *                                            base URLs of peer domains (others: https://<domain>)
 *   CONCLAVE_FEDERATION_PINNED               "b.example=<base64url Ed25519 key>,..." keys pinned by configuration
 *   CONCLAVE_FEDERATION_ALLOW                "b.example,c.example": only these domains (default: any)
 *   CONCLAVE_FEDERATION_DENY                 "evil.example": never these
 *   CONCLAVE_FEDERATION_RATE                 requests per minute accepted from one domain (default 600)
 *   CONCLAVE_FEDERATION_ACCEPT_KEY_CHANGES   "1": re-pin a peer that publishes a new key (default: refuse)
 * Federation is on when CONCLAVE_PUBLIC_URL or CONCLAVE_FEDERATION_PEERS is set.
 */
import { fromBase64Url } from "@conclave/api";

/** How this server federates with other Conclave domains (docs/federation.md). */
export interface FederationOptions {
  /** This server's base URL as peers reach it (no trailing slash), e.g. `https://a.example`. */
  readonly publicUrl: string;
  /** Base URLs of peer domains; a domain not listed is reached at `https://<domain>`. */
  readonly peers?: Readonly<Record<string, string>>;
  /** Keys (raw Ed25519) pinned by configuration: first contact does not decide them. */
  readonly pinned?: Readonly<Record<string, Uint8Array>>;
  /** When given, only these domains may federate with this server. */
  readonly allow?: readonly string[];
  /** These domains may never federate with this server. */
  readonly deny?: readonly string[];
  /** Requests accepted per minute from one domain (default 600). */
  readonly ratePerMinute?: number;
  /** Re-pin a peer whose published key changed (an event is recorded either way); default false. */
  readonly acceptKeyChanges?: boolean;
  /** Accepted clock difference of a signed request, in ms (default 5 minutes). */
  readonly maxSkewMs?: number;
  /** Largest federation request body, in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Outgoing request timeout in ms (default 5000). */
  readonly timeoutMs?: number;
  /** How often the hub looks for traffic owed to follower domains, in ms (default 200). */
  readonly pushIntervalMs?: number;
}

/** Options with every default applied. */
export interface ResolvedFederationOptions {
  readonly publicUrl: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly pinned: ReadonlyMap<string, Uint8Array>;
  readonly allow: ReadonlySet<string> | undefined;
  readonly deny: ReadonlySet<string>;
  readonly ratePerMinute: number;
  readonly acceptKeyChanges: boolean;
  readonly maxSkewMs: number;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  readonly pushIntervalMs: number;
}

const DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A syntactically valid domain name (lower case, LDH labels, ≤ 253 characters). */
export function isDomainName(d: string): boolean {
  return d.length <= 253 && DOMAIN.test(d);
}

function trimUrl(u: string): string {
  const url = new URL(u);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RangeError(`federation: not an http(s) URL: ${u}`);
  return url.toString().replace(/\/+$/, "");
}

function checkDomain(d: string): string {
  if (!isDomainName(d)) throw new RangeError(`federation: not a domain name: ${JSON.stringify(d)}`);
  return d;
}

/**
 * Applies defaults and checks every domain, URL and key.
 * @throws RangeError for a malformed domain, URL, key or rate.
 */
export function resolveFederationOptions(o: FederationOptions): ResolvedFederationOptions {
  const rate = o.ratePerMinute ?? 600;
  if (!Number.isSafeInteger(rate) || rate < 1) throw new RangeError("federation: ratePerMinute must be a positive integer");
  const pinned = new Map<string, Uint8Array>();
  for (const [d, k] of Object.entries(o.pinned ?? {})) {
    if (k.length !== 32) throw new RangeError(`federation: the pinned key of ${d} is not a 32-byte Ed25519 key`);
    pinned.set(checkDomain(d), k);
  }
  return {
    publicUrl: trimUrl(o.publicUrl),
    peers: new Map(Object.entries(o.peers ?? {}).map(([d, u]) => [checkDomain(d), trimUrl(u)])),
    pinned,
    allow: o.allow === undefined ? undefined : new Set(o.allow.map(checkDomain)),
    deny: new Set((o.deny ?? []).map(checkDomain)),
    ratePerMinute: rate,
    acceptKeyChanges: o.acceptKeyChanges ?? false,
    maxSkewMs: o.maxSkewMs ?? 5 * 60_000,
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
    timeoutMs: o.timeoutMs ?? 5000,
    pushIntervalMs: o.pushIntervalMs ?? 200,
  };
}

function pairs(raw: string | undefined): [string, string][] {
  if (raw === undefined || raw.trim() === "") return [];
  return raw.split(",").map((p) => {
    const i = p.indexOf("=");
    if (i <= 0) throw new RangeError(`federation: expected domain=value, got ${JSON.stringify(p)}`);
    return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
  });
}

function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  return raw.split(",").map((d) => d.trim());
}

/**
 * The federation options of the environment (see the module comment), or
 * undefined when federation is off.
 * @throws RangeError for a malformed variable.
 */
export function federationOptionsFromEnv(env: NodeJS.ProcessEnv, fallbackUrl: string): FederationOptions | undefined {
  if (!env.CONCLAVE_PUBLIC_URL && !env.CONCLAVE_FEDERATION_PEERS) return undefined;
  const allow = list(env.CONCLAVE_FEDERATION_ALLOW);
  const deny = list(env.CONCLAVE_FEDERATION_DENY);
  return {
    publicUrl: env.CONCLAVE_PUBLIC_URL || fallbackUrl,
    peers: Object.fromEntries(pairs(env.CONCLAVE_FEDERATION_PEERS)),
    pinned: Object.fromEntries(pairs(env.CONCLAVE_FEDERATION_PINNED).map(([d, k]) => [d, fromBase64Url(k, `CONCLAVE_FEDERATION_PINNED ${d}`)])),
    ...(allow === undefined ? {} : { allow }),
    ...(deny === undefined ? {} : { deny }),
    ...(env.CONCLAVE_FEDERATION_RATE ? { ratePerMinute: Number(env.CONCLAVE_FEDERATION_RATE) } : {}),
    acceptKeyChanges: env.CONCLAVE_FEDERATION_ACCEPT_KEY_CHANGES === "1" || env.CONCLAVE_FEDERATION_ACCEPT_KEY_CHANGES === "true",
  };
}
