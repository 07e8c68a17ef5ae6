/**
 * The storage interface of the Conclave servers. Two engines implement it on
 * Kysely: SQLite (embedded default, one file) and PostgreSQL (several server
 * processes share one database). Services never see SQL: they call these
 * repositories, and wrap every multi-step change in `transaction` so bad input
 * can never leave state half-written.
 *
 * Rules for callers:
 * - Inside `store.transaction(async (tx) => ...)` use only `tx`. Touching `store`
 *   there throws (on SQLite it would deadlock on the single connection, on
 *   PostgreSQL it would escape the transaction).
 * - A transaction callback may await other work (crypto), but keep it short:
 *   SQLite serialises all writers.
 * - `transaction` nests: `tx.transaction(fn)` runs `fn` in the same transaction.
 *
 * Extending for the DS: add a repository interface here, add it to `Repositories`,
 * implement it in kyselyRepositories.ts, add tables in schema.ts and a new migration.
 */
import type { CipherSuiteId } from "@conclave/mls";
import type { AccountSecurityRepository } from "./repositories/accountSecurity.js";
import type { GroupRepository, KeyPackageRepository, MembershipRepository, QueueRepository, RetentionRepository } from "./dsStore.js";

/** The two storage engines. */
export type StorageEngine = "sqlite" | "postgres";

/** Database id of a registered client (device). */
export type ClientId = number & { readonly __brand: "ClientId" };

export interface AccountRecord {
  readonly user: string;
  /** SHA-256 of the account secret (the secret itself is never stored). */
  readonly secretHash: Uint8Array;
  readonly createdAt: number;
}

export interface NewClient {
  readonly user: string;
  readonly device: string;
  readonly cipherSuite: CipherSuiteId;
  readonly signatureKey: Uint8Array;
  readonly createdAt: number;
}

export interface ClientRecord extends NewClient {
  readonly id: ClientId;
  readonly revokedAt: number | null;
}

export interface TokenRecord {
  /** SHA-256 of the bearer token. */
  readonly tokenHash: Uint8Array;
  readonly clientId: ClientId;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** MLS CredentialType values we issue (RFC 9420 §17.5). */
export type IssuedCredentialType = 1 | 2;

export interface NewCredential {
  readonly credentialHash: Uint8Array;
  readonly clientId: ClientId;
  readonly credentialType: IssuedCredentialType;
  /** TLS-encoded Credential */
  readonly credential: Uint8Array;
  /** Hex serial number of the end-entity certificate (X.509 only). */
  readonly x509Serial: string | null;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly logIndex: number;
}

export interface CredentialRecord extends NewCredential {
  readonly id: number;
}

export interface RevocationRecord {
  readonly credentialHash: Uint8Array;
  readonly revokedAt: number;
  readonly reason: string;
  readonly revokedBy: ClientId | null;
}

export interface LogLeafRecord {
  readonly index: number;
  readonly leaf: Uint8Array;
  readonly appendedAt: number;
}

export interface LogNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

export interface TreeHeadRecord {
  readonly treeSize: number;
  readonly timestamp: number;
  readonly rootHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface ServerKeyRecord {
  readonly name: string;
  readonly algorithm: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly certificate: Uint8Array | null;
  readonly createdAt: number;
}

export interface AccountRepository {
  /** False (and nothing written) when the user name is taken. */
  create(account: AccountRecord): Promise<boolean>;
  get(user: string): Promise<AccountRecord | undefined>;
}

export type CreateClientResult = { readonly ok: true; readonly client: ClientRecord } | { readonly ok: false; readonly conflict: "device" | "signature_key" };

export interface ClientRepository {
  /** Inserts unless (user, device) or the signature key already exists. */
  create(client: NewClient): Promise<CreateClientResult>;
  get(id: ClientId): Promise<ClientRecord | undefined>;
  getByName(user: string, device: string): Promise<ClientRecord | undefined>;
  /** The client registered with this signature key (keys are unique across clients). */
  getBySignatureKey(signatureKey: Uint8Array): Promise<ClientRecord | undefined>;
  listByUser(user: string): Promise<ClientRecord[]>;
  /** Marks the client revoked at `at`; false when it was already revoked or does not exist. */
  revoke(id: ClientId, at: number): Promise<boolean>;
}

export interface AuthRepository {
  putChallenge(nonce: Uint8Array, createdAt: number, expiresAt: number): Promise<void>;
  /** Deletes the challenge; true only if it existed and had not expired at `now` (single use). */
  takeChallenge(nonce: Uint8Array, now: number): Promise<boolean>;
  putToken(token: TokenRecord): Promise<void>;
  getToken(tokenHash: Uint8Array): Promise<TokenRecord | undefined>;
  deleteToken(tokenHash: Uint8Array): Promise<void>;
  deleteClientTokens(clientId: ClientId): Promise<number>;
  /** Removes expired challenges and tokens; returns how many rows went. */
  purgeExpired(now: number): Promise<number>;
}

export interface CredentialRepository {
  insert(credential: NewCredential): Promise<CredentialRecord>;
  /** All issuances of these credential bytes, newest first (a basic credential is re-issued after expiry). */
  listByHash(credentialHash: Uint8Array): Promise<CredentialRecord[]>;
  getBySerial(serial: string): Promise<CredentialRecord | undefined>;
  listByClient(clientId: ClientId): Promise<CredentialRecord[]>;
  listByUser(user: string): Promise<CredentialRecord[]>;
  /** False when that credential was already revoked (the first revocation stands). */
  revoke(revocation: RevocationRecord): Promise<boolean>;
  getRevocation(credentialHash: Uint8Array): Promise<RevocationRecord | undefined>;
}

export interface TransparencyRepository {
  /**
   * The current tree size, locking the log against concurrent appends until
   * the transaction ends. Call only inside a transaction.
   */
  lockForAppend(): Promise<number>;
  /** The current tree size (no lock). */
  size(): Promise<number>;
  setSize(size: number): Promise<void>;
  putLeaf(leaf: LogLeafRecord): Promise<void>;
  getLeaves(start: number, end: number): Promise<LogLeafRecord[]>;
  putNodes(nodes: readonly LogNode[]): Promise<void>;
  /** The stored complete-subtree hashes among `keys` (missing ones are absent). */
  getNodes(keys: readonly { level: number; index: number }[]): Promise<LogNode[]>;
  putTreeHead(head: TreeHeadRecord): Promise<void>;
  /** The head for `treeSize`, or the latest one when omitted. */
  getTreeHead(treeSize?: number): Promise<TreeHeadRecord | undefined>;
}

export interface ServerKeyRepository {
  get(name: string): Promise<ServerKeyRecord | undefined>;
  /** Inserts unless a key of that name exists; returns whichever is stored (first writer wins). */
  putIfAbsent(key: ServerKeyRecord): Promise<ServerKeyRecord>;
  /** Replaces the stored private key of `name` if it still is `expected` (compare-and-set); returns whether it did. */
  replacePrivateKey(name: string, expected: Uint8Array, next: Uint8Array): Promise<boolean>;
}

export interface Repositories {
  readonly accounts: AccountRepository;
  readonly clients: ClientRepository;
  readonly accountSecurity: AccountSecurityRepository;
  readonly auth: AuthRepository;
  readonly credentials: CredentialRepository;
  readonly transparency: TransparencyRepository;
  readonly keys: ServerKeyRepository;
  readonly keyPackages: KeyPackageRepository;
  readonly groups: GroupRepository;
  readonly memberships: MembershipRepository;
  readonly queues: QueueRepository;
  readonly retention: RetentionRepository;
}

export interface StoreTx extends Repositories {
  /** Runs `fn` inside this same transaction. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
}

/**
 * An open store (from {@link createSqliteStore}, {@link createPostgresStore} or
 * openStore): pass it to createConclaveServer, which then leaves closing it to
 * you. Its repositories are the server's own business.
 */
export interface Store extends Repositories {
  readonly engine: StorageEngine;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** A trivial round trip, for health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
