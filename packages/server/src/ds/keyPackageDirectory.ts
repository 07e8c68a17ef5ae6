/**
 * The KeyPackage directory (RFC 9750 §5.1; DESIGN: DS). Clients upload
 * KeyPackages signed with their own signature key; other clients claim one per
 * device and cipher suite. A claim consumes the KeyPackage (RFC 9420 §16.8: a
 * KeyPackage is used once) except a last-resort one, kept until replaced.
 *
 * Issue 23: an upload is refused unless the KeyPackage's credential names the
 * uploader (its basic identity, or the identity URI of its certificate), and
 * claims are limited per claimer and per target device: past either limit a
 * claim is answered with the target's last-resort KeyPackage (never consumed)
 * instead of an ordinary one, so nobody can drain a user's supply.
 */
import { ApiError, fromBase64Url, formatClientIdentity, toBase64Url, type ClaimKeyPackagesResponse, type KeyPackageCountsResponse, type KeyPackageInfo } from "@conclave/api";
import {
  bytesEqual,
  CredentialType,
  isLastResortKeyPackage,
  LeafNodeSource,
  keyPackageTbsBytes,
  makeKeyPackageRef,
  MlsError,
  type CipherSuite,
  type Credential,
  type CryptoProvider,
} from "@conclave/mls";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import { certificateIdentities } from "../as/ca.js";
import type { Clock } from "../crypto.js";
import { MemoryBucketStore, type BucketStore, type TokenBucketConfig } from "../http/rateLimit.js";
import type { KeyPackageRecord, NewKeyPackage } from "../storage/dsStore.js";
import type { ClientRecord, Store } from "../storage/store.js";
import { readKeyPackage } from "./mlsHeader.js";

const KEY_PACKAGE_TBS_LABEL = "KeyPackageTBS";

/** Ordinary KeyPackages one client may claim (all targets together), and one device may lose (all claimers together). */
export interface ClaimLimits {
  readonly perClaimer: TokenBucketConfig | false;
  readonly perTarget: TokenBucketConfig | false;
}

export const DEFAULT_CLAIM_LIMITS: ClaimLimits = {
  perClaimer: { capacity: 100, refillPerSecond: 100 / 3600 },
  perTarget: { capacity: 20, refillPerSecond: 20 / 3600 },
};

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** The identity a KeyPackage's credential names, or undefined when it names none we can read. */
function credentialIdentity(c: Credential): string | undefined {
  if (c.credentialType === CredentialType.basic) {
    try {
      return utf8Decoder.decode(c.identity);
    } catch {
      return undefined;
    }
  }
  if (c.credentialType === CredentialType.x509) {
    const leaf = c.certificates[0];
    const ids = leaf === undefined ? undefined : certificateIdentities(leaf);
    return ids?.length === 1 ? ids[0] : undefined;
  }
  return undefined;
}

export function keyPackageInfo(r: Pick<KeyPackageRecord, "ref" | "cipherSuite" | "lastResort" | "createdAt">): KeyPackageInfo {
  return { ref: toBase64Url(r.ref), cipherSuite: r.cipherSuite, lastResort: r.lastResort, createdAt: r.createdAt };
}

export class KeyPackageDirectory {
  private claimBuckets: BucketStore;

  constructor(
    private readonly store: Store,
    private readonly crypto: CryptoProvider,
    private readonly clock: Clock,
    private readonly domain: string,
    private readonly claimLimits: ClaimLimits = DEFAULT_CLAIM_LIMITS,
  ) {
    this.claimBuckets = new MemoryBucketStore(clock);
  }

  /** Keeps the claim buckets in `store` from now on (the server's shared rate-limit store): N processes, one limit. */
  shareLimits(store: BucketStore): void {
    this.claimBuckets = store;
  }

  /** Whether `claimer` may take one more ordinary KeyPackage of device `target`. */
  private async mayConsume(claimer: AuthenticatedClient["id"] | undefined, target: number): Promise<boolean> {
    const { perClaimer, perTarget } = this.claimLimits;
    // The claimer's own budget first: a claimer past its limit does not spend the target's.
    if (claimer !== undefined && perClaimer !== false && !(await this.claimBuckets.take(`kp:claimer:${claimer}`, perClaimer)).ok) return false;
    if (perTarget !== false && !(await this.claimBuckets.take(`kp:target:${target}`, perTarget)).ok) return false;
    return true;
  }

  private suiteOf(id: number): CipherSuite {
    try {
      return this.crypto.suite(id);
    } catch {
      throw new ApiError("UNSUPPORTED_CIPHER_SUITE", `cipher suite ${id} is not supported`);
    }
  }

  /** Checks one uploaded MLSMessage(KeyPackage) (RFC 9420 §10.1) and returns what to store. */
  async check(client: AuthenticatedClient, bytes: Uint8Array, now: number): Promise<NewKeyPackage> {
    const kp = readKeyPackage(bytes);
    const suite = this.suiteOf(kp.cipherSuite);
    if (!bytesEqual(kp.leafNode.signatureKey, client.signatureKey)) {
      throw new ApiError("KEY_PACKAGE_KEY_MISMATCH", "the KeyPackage's leaf signature key is not your registered signature key");
    }
    if (credentialIdentity(kp.leafNode.credential) !== client.identity) {
      throw new ApiError("KEY_PACKAGE_IDENTITY_MISMATCH", `the KeyPackage's credential does not name you (${client.identity})`);
    }
    // RFC 9420 §10.1: a KeyPackage's leaf has source key_package; one already expired is useless to any adder.
    const leaf = kp.leafNode;
    if (leaf.leafNodeSource !== LeafNodeSource.keyPackage) throw new ApiError("LEAF_NODE_INVALID_SOURCE", "a KeyPackage's leaf_node_source must be key_package");
    if (leaf.lifetime.notAfter < BigInt(Math.floor(now / 1000))) throw new ApiError("LEAF_NODE_INVALID_LIFETIME", "the KeyPackage has expired");
    let ok: boolean;
    try {
      ok = await suite.verifyWithLabel(kp.leafNode.signatureKey, KEY_PACKAGE_TBS_LABEL, keyPackageTbsBytes(kp), kp.signature);
    } catch (e) {
      if (e instanceof MlsError) ok = false;
      else throw e;
    }
    if (!ok) throw new ApiError("KEY_PACKAGE_INVALID_SIGNATURE", "KeyPackage signature does not verify");
    // MLSMessage header: version (2) + wire_format (2); the ref hashes the KeyPackage itself (§5.2).
    const ref = makeKeyPackageRef(suite, bytes.subarray(4));
    return { ref, clientId: client.id, cipherSuite: kp.cipherSuite, lastResort: isLastResortKeyPackage(kp), keyPackage: bytes, createdAt: now };
  }

  /** Verifies the whole batch first, then stores it in one transaction (all or nothing). */
  async upload(client: AuthenticatedClient, encoded: readonly string[]): Promise<KeyPackageInfo[]> {
    const now = this.clock();
    const checked: NewKeyPackage[] = [];
    for (let i = 0; i < encoded.length; i++) checked.push(await this.check(client, fromBase64Url(encoded[i]!, `keyPackages[${i}]`), now));
    const lastResortSuites = checked.filter((k) => k.lastResort).map((k) => k.cipherSuite);
    if (new Set(lastResortSuites).size !== lastResortSuites.length) throw new ApiError("BAD_REQUEST", "at most one last-resort KeyPackage per cipher suite in a batch");
    await this.store.transaction((tx) => tx.keyPackages.insertBatch(checked));
    return checked.map(keyPackageInfo);
  }

  async counts(client: AuthenticatedClient): Promise<KeyPackageCountsResponse> {
    return { counts: await this.store.keyPackages.counts(client.id) };
  }

  async list(client: AuthenticatedClient): Promise<KeyPackageInfo[]> {
    return (await this.store.keyPackages.list(client.id)).map(keyPackageInfo);
  }

  async delete(client: AuthenticatedClient, refText: string): Promise<void> {
    const ref = fromBase64Url(refText, "ref");
    if (!(await this.store.keyPackages.delete(client.id, ref))) throw new ApiError("KEY_PACKAGE_NOT_FOUND", "no unclaimed KeyPackage of yours with that ref");
  }

  /**
   * One KeyPackage per (non-revoked) device of `user` and per requested suite.
   * Past the claimer's or the target's limit, the last-resort one is served.
   */
  async claim(user: string, cipherSuites: readonly number[], claimer?: AuthenticatedClient): Promise<ClaimKeyPackagesResponse> {
    const now = this.clock();
    const devices = (await this.store.clients.listByUser(user)).filter((c) => c.revokedAt === null);
    if (devices.length === 0) throw new ApiError("ACCOUNT_NOT_FOUND", `no registered devices for user ${user}`);
    const suites = [...new Set(cipherSuites)];
    // Decided before the transaction: a shared bucket store is a network round trip.
    const ordinary = new Map<string, boolean>();
    for (const d of devices) for (const cs of suites) ordinary.set(`${d.id}/${cs}`, await this.mayConsume(claimer?.id, d.id));
    return this.store.transaction(async (tx) => {
      const out: ClaimKeyPackagesResponse = { keyPackages: [], missing: [] };
      for (const d of devices) {
        for (const cs of suites) {
          const kp = ordinary.get(`${d.id}/${cs}`) === true ? await tx.keyPackages.claim(d.id, cs, now) : await lastResortOf(tx, d.id, cs);
          if (kp === undefined) {
            out.missing.push({ device: d.device, cipherSuite: cs });
            continue;
          }
          out.keyPackages.push({
            identity: formatClientIdentity({ user: d.user, domain: this.domain, device: d.device }),
            device: d.device,
            cipherSuite: cs,
            ref: toBase64Url(kp.ref),
            keyPackage: toBase64Url(kp.keyPackage),
            lastResort: kp.lastResort,
          });
        }
      }
      return out;
    });
  }
}

/** The device's last-resort KeyPackage of `cipherSuite`, without consuming anything. */
async function lastResortOf(tx: Pick<Store, "keyPackages">, clientId: ClientRecord["id"], cipherSuite: number): Promise<KeyPackageRecord | undefined> {
  return (await tx.keyPackages.list(clientId)).filter((k) => k.lastResort && k.cipherSuite === cipherSuite).pop();
}
