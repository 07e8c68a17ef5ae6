/**
 * The operations the MLS benchmark times, as one interface both
 * implementations (Conclave and ts-mls) are wrapped in, so the scenario code
 * runs the same steps on each. Every message crosses the interface as bytes
 * (encoded MLSMessage), so encoding and decoding are part of what is timed.
 */

/** A group member's state, as the adapter keeps it (mutable holder for immutable libraries). */
export interface MlsImpl<G, K> {
  readonly name: string;
  /** A fresh client with a KeyPackage (not timed). `i` names the client. */
  keyPackage(i: number): Promise<K>;
  /** A one-member group. */
  create(): Promise<G>;
  /** One commit adding every KeyPackage (no path unless the library requires one), merged. */
  add(g: G, kps: readonly K[]): Promise<{ welcome: Uint8Array; ratchetTree: Uint8Array }>;
  /** Joins from the Welcome with the ratchet tree supplied out of band; the tree is fully validated. */
  join(welcome: Uint8Array, kp: K, ratchetTree: Uint8Array): Promise<G>;
  /** A commit with an UpdatePath (empty, or removing `remove`), created and merged; returns the commit message. */
  commit(g: G, remove?: readonly number[]): Promise<Uint8Array>;
  /** Processes another member's commit and merges it. */
  process(g: G, commit: Uint8Array): Promise<void>;
  encrypt(g: G, data: Uint8Array): Promise<Uint8Array>;
  decrypt(g: G, message: Uint8Array): Promise<Uint8Array>;
  /**
   * Several messages at once, for a library whose calls may overlap (the
   * scenario otherwise runs `encrypt`/`decrypt` one after another). Results in
   * input order.
   */
  encryptMany?(g: G, data: readonly Uint8Array[]): Promise<Uint8Array[]>;
  decryptMany?(g: G, messages: readonly Uint8Array[]): Promise<Uint8Array[]>;
  /** The member's persisted state in bytes. */
  stateSize(g: G): number;
}
