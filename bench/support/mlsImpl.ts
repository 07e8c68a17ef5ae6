/**
 * The operations the MLS benchmark times, as one interface every
 * implementation (Conclave, ts-mls 1.6.4 and 2.0, core-crypto) is wrapped in,
 * so the scenario code runs the same steps on each. Every message crosses the
 * interface as bytes (encoded MLSMessage), so encoding and decoding are part
 * of what is timed.
 */

/** Where the ratchet tree travels to new members (RFC 9420 §12.4.3.3). */
export type TreeDelivery = "welcome" | "outOfBand";

/** A group member's state, as the adapter keeps it (mutable holder for immutable libraries). */
export interface MlsImpl<G, K> {
  readonly name: string;
  /** Tree deliveries this implementation can do (core-crypto and ts-mls 2 only put it in the Welcome). */
  readonly treeDeliveries: readonly TreeDelivery[];
  /** Whether calls on one member may overlap (then "in flight" runs them concurrently, else one after another). */
  readonly concurrent: boolean;
  /** A fresh client with a KeyPackage (not timed). `i` names the client and is its leaf once added. */
  keyPackage(i: number): Promise<K>;
  /** A one-member group. */
  create(): Promise<G>;
  /**
   * One commit adding every KeyPackage (no path unless the library requires one), merged; the
   * Welcome carries the tree when `tree` is "welcome", else the tree's bytes are returned; the
   * commit message too, where the adapter has it (its size prices the crypto floor).
   */
  add(g: G, kps: readonly K[], tree: TreeDelivery): Promise<{ welcome: Uint8Array; ratchetTree?: Uint8Array; commit?: Uint8Array }>;
  /** Joins from the Welcome (with the tree out of band when given); the tree is fully validated. */
  join(welcome: Uint8Array, kp: K, ratchetTree: Uint8Array | undefined): Promise<G>;
  /** A commit with an UpdatePath (empty, or removing the members at leaves `remove`), created and merged; returns the commit message. */
  commit(g: G, remove?: readonly number[]): Promise<Uint8Array>;
  /** Processes another member's commit and merges it. */
  process(g: G, commit: Uint8Array): Promise<void>;
  encrypt(g: G, data: Uint8Array): Promise<Uint8Array>;
  decrypt(g: G, message: Uint8Array): Promise<Uint8Array>;
  /** The member's persisted state in bytes, where the library can serialize it. */
  stateSize?(g: G): number;
}
