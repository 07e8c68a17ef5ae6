/**
 * The database schema as Kysely sees it: one interface per table, columns in
 * snake_case exactly as migrations.ts creates them. Both engines use these
 * types; the engines normalise what their drivers return (Buffer -> Uint8Array,
 * int8 text -> number) so rows look the same from SQLite and PostgreSQL.
 *
 * Times are bigint columns holding milliseconds since the Unix epoch.
 *
 * To add tables (the DS's key_packages, groups, group_members, messages,
 * client queues): add their interfaces here and to `Database`, add a new
 * migration in migrations.ts (never edit an applied one), and a repository.
 */
import type { Generated } from "kysely";

export interface AccountsTable {
  user_name: string;
  secret_hash: Uint8Array;
  created_at: number;
}

export interface ClientsTable {
  id: Generated<number>;
  user_name: string;
  device_id: string;
  cipher_suite: number;
  signature_key: Uint8Array;
  created_at: number;
  revoked_at: number | null;
}

export interface AuthChallengesTable {
  nonce: Uint8Array;
  created_at: number;
  expires_at: number;
}

export interface AuthTokensTable {
  token_hash: Uint8Array;
  client_id: number;
  created_at: number;
  expires_at: number;
}

export interface CredentialsTable {
  id: Generated<number>;
  credential_hash: Uint8Array;
  client_id: number;
  /** MLS CredentialType: 1 basic, 2 x509 */
  credential_type: number;
  /** The TLS-encoded Credential. */
  credential: Uint8Array;
  x509_serial: string | null;
  not_before: number;
  not_after: number;
  issued_at: number;
  log_index: number;
}

export interface RevocationsTable {
  credential_hash: Uint8Array;
  revoked_at: number;
  reason: string;
  revoked_by: number | null;
}

/** One row (id = 1): the transparency log's size; locked while appending. */
export interface LogStateTable {
  id: number;
  tree_size: number;
}

export interface LogLeavesTable {
  leaf_index: number;
  leaf: Uint8Array;
  appended_at: number;
}

/** Complete (perfect) subtree hashes: level 0 are the leaf hashes. */
export interface LogNodesTable {
  level: number;
  node_index: number;
  hash: Uint8Array;
}

export interface LogTreeHeadsTable {
  tree_size: number;
  timestamp: number;
  root_hash: Uint8Array;
  signature: Uint8Array;
}

/** Long-lived keys of the server itself (AS CA, transparency log key). */
export interface ServerKeysTable {
  name: string;
  algorithm: string;
  private_key: Uint8Array;
  public_key: Uint8Array;
  certificate: Uint8Array | null;
  created_at: number;
}

/** RFC 9750 §5.1: uploaded KeyPackages; a claimed one keeps its row (claimed_at) so Welcomes can name it. */
export interface KeyPackagesTable {
  id: Generated<number>;
  ref: Uint8Array;
  client_id: number;
  cipher_suite: number;
  /** 1 for a last-resort KeyPackage (never consumed), else 0. */
  last_resort: number;
  /** The MLSMessage(KeyPackage) as uploaded. */
  key_package: Uint8Array;
  created_at: number;
  claimed_at: number | null;
}

/**
 * A DS group: its current epoch, the latest GroupInfo for external joins, and
 * its log's positions: `next_seq` is taken (and the row locked) by every
 * message the group accepts, so positions are gap-free and become visible in
 * order; `first_seq` is the oldest position retention kept.
 */
export interface GroupsTable {
  group_id: Uint8Array;
  epoch: number;
  created_by: number;
  created_at: number;
  group_info: Uint8Array | null;
  ratchet_tree: Uint8Array | null;
  /** The DS's validated public state (ds/publicState), sealed when the server has a KEK; null before migration 0005. */
  public_state: Uint8Array | null;
  /** The cipher suite of an opaque group (encrypted handshakes, migration 0007); null for a validated group. */
  opaque_suite: number | null;
  next_seq: number;
  first_seq: number;
  /** Clients on the roster now. */
  member_count: number;
}

/** The ratchet tree of an epoch whose Welcome carried none (sealed like the public state), for its joiners. */
export interface GroupWelcomeTreesTable {
  group_id: Uint8Array;
  epoch: number;
  tree: Uint8Array;
  created_at: number;
}

/**
 * One stay of a client in a group (DESIGN: DS delivery): it reads the log's
 * positions in (joined_seq, left_seq], and has acknowledged up to acked_seq.
 * A removed client's row stays until it has read its removal (left_seq).
 */
export interface GroupMembershipTable {
  group_id: Uint8Array;
  client_id: number;
  joined_epoch: number;
  joined_seq: number;
  left_seq: number | null;
  acked_seq: number;
}

/** Every accepted group message (handshake or application), stored once. */
export interface GroupLogTable {
  group_id: Uint8Array;
  seq: number;
  /** "handshake" | "application" */
  kind: string;
  epoch: number;
  content_type: number;
  sender_client_id: number;
  message: Uint8Array;
  created_at: number;
  /** When a member proved this commit of an opaque group invalid (migration 0007): no reader gets it any more. */
  dropped_at: number | null;
  /** The GroupInfo an opaque group's commit came with (migration 0007). */
  group_info: Uint8Array | null;
}

/** Entries for one client alone (Welcomes); rows go when the client acknowledges them. */
export interface ClientQueueTable {
  id: Generated<number>;
  client_id: number;
  /** "handshake" | "application" | "welcome" */
  kind: string;
  group_id: Uint8Array;
  epoch: number;
  message: Uint8Array;
  created_at: number;
}

export interface Database {
  accounts: AccountsTable;
  clients: ClientsTable;
  auth_challenges: AuthChallengesTable;
  auth_tokens: AuthTokensTable;
  credentials: CredentialsTable;
  revocations: RevocationsTable;
  log_state: LogStateTable;
  log_leaves: LogLeavesTable;
  log_nodes: LogNodesTable;
  log_tree_heads: LogTreeHeadsTable;
  server_keys: ServerKeysTable;
  key_packages: KeyPackagesTable;
  groups: GroupsTable;
  group_welcome_trees: GroupWelcomeTreesTable;
  group_membership: GroupMembershipTable;
  group_log: GroupLogTable;
  client_queue: ClientQueueTable;
}
