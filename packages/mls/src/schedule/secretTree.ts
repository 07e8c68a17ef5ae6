/**
 * The secret tree and its per-sender hash ratchets (RFC 9420 §9), with the
 * deletion schedule of §9.2.
 *
 * - Node secrets are derived lazily, only along the path to a leaf that is
 *   used. A parent's secret is zeroized as soon as both children exist; a
 *   leaf's secret as soon as its two ratchet roots exist.
 * - Each leaf has a handshake and an application ratchet. Stepping a ratchet
 *   overwrites the previous ratchet secret. Keys skipped over by a receiver
 *   are kept (for out-of-order delivery) only within `outOfOrderWindow`
 *   generations of the newest one, and a key is deleted once consumed.
 * - A receiver may be asked to jump at most `maxForwardDistance` generations
 *   ahead, so a forged generation cannot make it hash for minutes.
 *
 * The reuse_guard XOR (§6.3.1) is applied by framing, not here.
 *
 * Hot path: every ratchet step is three HKDF-Expand calls. The KDFLabel
 * structs (§8) for those calls are built once per suite (treeKdf.ts) and only the 4-byte
 * generation is patched per call; the next ratchet secret is written over
 * the old one and a key used at once is carved from a shared buffer, so a
 * step allocates no ArrayBuffer.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { ByteSlab } from "../codec/byteSlab.js";
import { Reader, Writer, asDecodeError } from "../codec/tls.js";
import { zeroize } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import { left, right, root, type LeafIndex, type NodeIndex } from "../tree/treeMath.js";
import { MAX_GENERATION, treeKdfFor, type RatchetKey, type TreeKdf } from "./treeKdf.js";

export type { RatchetKey } from "./treeKdf.js";

export type RatchetType = "handshake" | "application";

/** Receiver policy (DESIGN: policy is configuration). */
export interface SecretTreeOptions {
  /** The most generations a receiver ratchet may skip in one step. Default 1000. */
  readonly maxForwardDistance?: number;
  /** How many generations behind the newest one an unused key is kept for late messages. Default 32; 0 keeps none. */
  readonly outOfOrderWindow?: number;
}

export const DEFAULT_MAX_FORWARD_DISTANCE = 1000;
export const DEFAULT_OUT_OF_ORDER_WINDOW = 32;

interface HashRatchet {
  /** ratchet_secret_[next]; undefined once generation 2^32 - 1 has been used. */
  secret: Uint8Array | undefined;
  /** The generation `secret` belongs to: every generation below it has been derived. */
  next: number;
  /** Derived but unconsumed keys, all below `next`. */
  readonly kept: Map<number, RatchetKey>;
  /**
   * Kept keys handed out for a decryption still under way (`consume = false`):
   * never evicted, so messages decrypted concurrently cannot push each other's
   * keys out of the window before they are consumed.
   */
  readonly inUse: Map<number, number>;
}

interface LeafRatchets {
  readonly handshake: HashRatchet;
  readonly application: HashRatchet;
}

function newRatchet(secret: Uint8Array | undefined): HashRatchet {
  return { secret, next: 0, kept: new Map(), inUse: new Map() };
}

/** Counts a decryption under way with the kept key of `generation` (a replay and the real message may overlap). */
function holdKey(r: HashRatchet, generation: number): void {
  r.inUse.set(generation, (r.inUse.get(generation) ?? 0) + 1);
}

/** Ends one such decryption; true when it was counted. */
function unholdKey(r: HashRatchet, generation: number): boolean {
  const n = r.inUse.get(generation);
  if (n === undefined) return false;
  if (n <= 1) r.inUse.delete(generation);
  else r.inUse.set(generation, n - 1);
  return true;
}

/**
 * Where a ratchet step puts its key and nonce: nowhere (a generation skipped
 * beyond the out-of-order window); carved from a shared buffer, for a key
 * used at once (sent with, or opening the message that named it); or a
 * buffer of its own, for a key kept for a late message.
 */
type KeyHome = "none" | "transient" | "own";

/** Keys used at once (codec/byteSlab.ts): 2 KiB slabs hold ~50 of them. */
const transientKeys = new ByteSlab(2048, 128);

/** Keeps `k` for a late message in a buffer of its own, and wipes the transient copy (so no kept key holds a slab alive). */
function keepOwnCopy(r: HashRatchet, k: RatchetKey): void {
  const buf = new Uint8Array(new ArrayBuffer(k.key.length + k.nonce.length));
  buf.set(k.key);
  buf.set(k.nonce, k.key.length);
  r.kept.set(k.generation, { generation: k.generation, key: buf.subarray(0, k.key.length), nonce: buf.subarray(k.key.length) });
  zeroizeKey(k);
}

function zeroizeKey(k: RatchetKey): void {
  zeroize(k.key);
  zeroize(k.nonce);
}

const STATE_VERSION = 1;

export class SecretTree {
  readonly leafCount: number;
  readonly maxForwardDistance: number;
  readonly outOfOrderWindow: number;
  private readonly kdf: TreeKdf;
  private readonly rootNode: NodeIndex;
  /** Node secrets not yet consumed, by node index. */
  private readonly nodes = new Map<number, Uint8Array>();
  /** Ratchets of the leaves whose secret has been expanded, by leaf index. */
  private readonly ratchets = new Map<number, LeafRatchets>();

  /**
   * A secret tree over `leafCount` leaves with `encryptionSecret` at the root (§9).
   * The secret is copied: the caller still owns (and should zeroize) its array.
   */
  constructor(cs: CipherSuite, encryptionSecret: Uint8Array, leafCount: number, options: SecretTreeOptions = {}) {
    if (encryptionSecret.length !== cs.params.nh) {
      throw new MlsError("INVALID_ARGUMENT", `encryption_secret must be ${cs.params.nh} bytes, got ${encryptionSecret.length}`);
    }
    this.kdf = treeKdfFor(cs);
    this.leafCount = leafCount;
    this.rootNode = root(leafCount);
    this.maxForwardDistance = checkPolicy(options.maxForwardDistance ?? DEFAULT_MAX_FORWARD_DISTANCE, "maxForwardDistance");
    this.outOfOrderWindow = checkPolicy(options.outOfOrderWindow ?? DEFAULT_OUT_OF_ORDER_WINDOW, "outOfOrderWindow");
    this.nodes.set(this.rootNode, encryptionSecret.slice());
  }

  /**
   * Sender side: the next unused key of `leaf`'s ratchet. The ratchet moves
   * past it, so the tree keeps no copy (the caller zeroizes it after sealing).
   */
  nextKey(leaf: LeafIndex, type: RatchetType): RatchetKey {
    const r = this.ratchet(leaf, type);
    if (r.secret === undefined) throw noSecretLeft(leaf, type);
    return this.step(r, "transient")!;
  }

  /**
   * Receiver side: the key and nonce of `generation` in `leaf`'s ratchet.
   *
   * With `consume` (the default) the key is deleted from the tree before it is
   * returned. A caller that wants to delete it only after a successful
   * decryption (§9.2 counts only successful decryptions as consumption) passes
   * `consume = false` and then calls {@link consumeKey}.
   *
   * Throws SECRET_TREE_GENERATION_CONSUMED for a generation already used or
   * dropped from the out-of-order window, SECRET_TREE_TOO_FAR_AHEAD for one
   * more than maxForwardDistance past the ratchet, SECRET_TREE_INVALID_LEAF
   * for a leaf outside the tree.
   */
  keyForGeneration(leaf: LeafIndex, type: RatchetType, generation: number, consume = true): RatchetKey {
    const r = this.receiving(leaf, type, generation);
    if (generation < r.next) {
      const k = this.kept(r, leaf, type, generation);
      if (consume) r.kept.delete(generation);
      else holdKey(r, generation);
      return k;
    }
    const k = this.advanceTo(r, leaf, type, generation);
    if (!consume) {
      r.kept.set(generation, k);
      holdKey(r, generation);
    }
    return k;
  }

  /**
   * Receiver side, for a decryption made synchronously: runs `open` with the
   * key and nonce of `generation` (as {@link keyForGeneration} finds them,
   * with its errors). If `open` returns, the key is consumed: deleted and
   * zeroized (§9.2). If it throws, the key stays for the real message. A key
   * derived now is never stored on the way, as keyForGeneration with
   * `consume = false` stores and then deletes it.
   */
  openWith<T>(leaf: LeafIndex, type: RatchetType, generation: number, open: (k: RatchetKey) => T): T {
    const r = this.receiving(leaf, type, generation);
    if (generation < r.next) {
      const k = this.kept(r, leaf, type, generation);
      const out = open(k);
      r.kept.delete(generation);
      zeroizeKey(k);
      return out;
    }
    const k = this.advanceTo(r, leaf, type, generation);
    let out: T;
    try {
      out = open(k);
    } catch (e) {
      // Newest of the kept keys, so their order (oldest first) holds.
      keepOwnCopy(r, k);
      throw e;
    }
    zeroizeKey(k);
    return out;
  }

  /** The ratchet a receiver takes `generation` from (INVALID_ARGUMENT for a generation out of range). */
  private receiving(leaf: LeafIndex, type: RatchetType, generation: number): HashRatchet {
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
      throw new MlsError("INVALID_ARGUMENT", `invalid generation ${generation}`);
    }
    return this.ratchet(leaf, type);
  }

  /** The kept key of a generation behind the ratchet, or SECRET_TREE_GENERATION_CONSUMED. */
  private kept(r: HashRatchet, leaf: LeafIndex, type: RatchetType, generation: number): RatchetKey {
    const k = r.kept.get(generation);
    if (k === undefined) {
      throw new MlsError("SECRET_TREE_GENERATION_CONSUMED", `${type} key ${generation} of leaf ${leaf} was already used or is outside the out-of-order window`);
    }
    return k;
  }

  /**
   * Moves the ratchet to `generation` (at or past it), keeping the keys
   * skipped within the out-of-order window, and returns that generation's key
   * (transient, not stored).
   */
  private advanceTo(r: HashRatchet, leaf: LeafIndex, type: RatchetType, generation: number): RatchetKey {
    if (r.secret === undefined) throw noSecretLeft(leaf, type);
    if (generation - r.next > this.maxForwardDistance) {
      throw new MlsError("SECRET_TREE_TOO_FAR_AHEAD", `${type} generation ${generation} of leaf ${leaf} is ${generation - r.next} ahead (max ${this.maxForwardDistance})`);
    }
    // Keys we step over are only worth deriving if they will stay in the window.
    const keepFrom = generation - this.outOfOrderWindow;
    while (r.next < generation) {
      const skipped = this.step(r, r.next >= keepFrom ? "own" : "none");
      if (skipped !== undefined) r.kept.set(skipped.generation, skipped);
    }
    const k = this.step(r, "transient")!;
    this.evict(r);
    return k;
  }

  /** Deletes (and zeroizes) a key fetched with `consume = false`. Returns whether it was still held. */
  consumeKey(leaf: LeafIndex, type: RatchetType, generation: number): boolean {
    const r = this.ratchet(leaf, type);
    unholdKey(r, generation);
    const k = r.kept.get(generation);
    if (k === undefined) return false;
    r.kept.delete(generation);
    zeroizeKey(k);
    return true;
  }

  /**
   * Gives back a key fetched with `consume = false` whose decryption failed:
   * it stays for the real message (§9.2 counts only successful decryptions),
   * unless it has meanwhile fallen out of the window.
   */
  releaseKey(leaf: LeafIndex, type: RatchetType, generation: number): void {
    const r = this.ratchet(leaf, type);
    if (!unholdKey(r, generation)) return;
    // Kept for later now: into a buffer of its own, off the transient slab (once no one else holds it).
    const k = r.kept.get(generation);
    if (k !== undefined && !r.inUse.has(generation)) keepOwnCopy(r, k);
    this.evict(r);
  }

  /** Zeroizes every secret the tree still holds (end of the epoch's retention); later calls throw SECRET_TREE_GENERATION_CONSUMED. */
  destroy(): void {
    for (const s of this.nodes.values()) zeroize(s);
    this.nodes.clear();
    for (const lr of this.ratchets.values()) {
      for (const r of [lr.handshake, lr.application]) {
        zeroize(r.secret);
        r.secret = undefined;
        for (const k of r.kept.values()) zeroizeKey(k);
        r.kept.clear();
        r.inUse.clear();
      }
    }
  }

  private ratchet(leaf: LeafIndex, type: RatchetType): HashRatchet {
    let lr = this.ratchets.get(leaf);
    if (lr === undefined) {
      if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) {
        throw new MlsError("SECRET_TREE_INVALID_LEAF", `leaf ${leaf} is outside a tree of ${this.leafCount} leaves`);
      }
      lr = this.expandLeaf(leaf);
      this.ratchets.set(leaf, lr);
    }
    return type === "application" ? lr.application : lr.handshake;
  }

  /** §9: derive down from the lowest held ancestor to the leaf, keeping each off-path child, deleting each parent. */
  private expandLeaf(leaf: number): LeafRatchets {
    const target = leaf * 2;
    const kdf = this.kdf;
    let x: NodeIndex = this.rootNode;
    let secret = this.nodes.get(x);
    while (secret === undefined) {
      // Every node above the holder has been consumed; the holder is the first one found going down.
      if (x === target) throw new MlsError("SECRET_TREE_GENERATION_CONSUMED", `no secret left for leaf ${leaf} (tree destroyed)`);
      x = target < x ? left(x) : right(x);
      secret = this.nodes.get(x);
    }
    this.nodes.delete(x);
    while (x !== target) {
      const l = left(x);
      const r = right(x);
      const [ls, rs] = kdf.expandPair(secret, kdf.leftInfo, kdf.rightInfo);
      zeroize(secret);
      if (target < x) {
        this.nodes.set(r, rs);
        secret = ls;
        x = l;
      } else {
        this.nodes.set(l, ls);
        secret = rs;
        x = r;
      }
    }
    const [handshake, application] = kdf.expandPair(secret, kdf.handshakeInfo, kdf.applicationInfo);
    const lr = { handshake: newRatchet(handshake), application: newRatchet(application) };
    zeroize(secret);
    return lr;
  }

  /**
   * Moves the ratchet past generation `next`, returning its key and nonce
   * where `home` says: ratchet_secret_[j+1] = DeriveTreeSecret(ratchet_secret_[j], "secret", j, Nh),
   * written over the old secret.
   */
  private step(r: HashRatchet, home: KeyHome): RatchetKey | undefined {
    const { nk, nn } = this.kdf;
    const keyOut = home === "none" ? undefined : home === "transient" ? transientKeys.take(nk + nn) : new Uint8Array(new ArrayBuffer(nk + nn));
    const key = this.kdf.generation(r.secret!, r.next, keyOut);
    if (r.next === MAX_GENERATION) r.secret = undefined;
    r.next++;
    return key;
  }

  /** Drops kept keys that fell out of the out-of-order window. */
  private evict(r: HashRatchet): void {
    if (r.kept.size === 0) return;
    const oldest = r.next - 1 - this.outOfOrderWindow;
    // Keys are kept in the order they were derived, oldest first.
    for (const [g, k] of r.kept) {
      if (g >= oldest) break;
      if (!r.inUse.has(g)) {
        zeroizeKey(k);
        r.kept.delete(g);
      }
    }
  }

  // -------------------------------------------------------------------------
  // Persistence: the unconsumed secrets only, so a restored tree deletes what
  // the original deleted. Policy (options) is configuration, not state.

  /** Serializes the tree's remaining secrets (versioned). The bytes are secret. */
  exportState(): Uint8Array {
    const w = new Writer(256);
    w.u8(STATE_VERSION);
    w.u16(this.kdf.cs.id);
    w.u32(this.leafCount);
    w.lengthPrefixed((v) => {
      for (const [node, s] of this.nodes) {
        v.u32(node);
        v.opaque(s);
      }
    });
    w.lengthPrefixed((v) => {
      for (const [leaf, lr] of this.ratchets) {
        v.u32(leaf);
        writeRatchet(v, lr.handshake);
        writeRatchet(v, lr.application);
      }
    });
    return w.finish();
  }

  /** Restores a tree from {@link exportState}. Throws MlsError (DECODE_*) on malformed or mismatched bytes. */
  static importState(cs: CipherSuite, state: Uint8Array, options: SecretTreeOptions = {}): SecretTree {
    const { nh, nk, nn } = cs.params;
    const r = new Reader(state);
    try {
      if (r.u8() !== STATE_VERSION) throw new MlsError("DECODE_UNKNOWN_VALUE", "unknown secret tree state version");
      if (r.u16() !== cs.id) throw new MlsError("DECODE_INVALID", "secret tree state is for another cipher suite");
      const leafCount = r.u32();
      if (leafCount < 1 || leafCount > 2 ** 31) throw new MlsError("DECODE_INVALID", `invalid leaf count ${leafCount}`);
      const tree = new SecretTree(cs, new Uint8Array(nh), leafCount, options);
      tree.nodes.clear();
      const maxNode = 2 * tree.rootNode;
      r.lengthPrefixed((v, end) => {
        while (v.offset < end) {
          const node = v.u32();
          const s = v.opaque();
          if (node > maxNode || s.length !== nh || tree.nodes.has(node)) throw new MlsError("DECODE_INVALID", "invalid secret tree node");
          tree.nodes.set(node, s);
        }
      });
      r.lengthPrefixed((v, end) => {
        while (v.offset < end) {
          const leaf = v.u32();
          if (leaf >= leafCount || tree.ratchets.has(leaf)) throw new MlsError("DECODE_INVALID", "invalid secret tree leaf");
          tree.ratchets.set(leaf, { handshake: readRatchet(v, nh, nk, nn), application: readRatchet(v, nh, nk, nn) });
        }
      });
      r.expectEnd();
      return tree;
    } catch (e) {
      throw asDecodeError(e);
    }
  }
}

/** A ratchet past generation 2^32 - 1, or a destroyed tree: nothing can be derived any more. */
function noSecretLeft(leaf: number, type: RatchetType): MlsError {
  return new MlsError("SECRET_TREE_GENERATION_CONSUMED", `the ${type} ratchet of leaf ${leaf} has no secret left`);
}

function checkPolicy(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_GENERATION) throw new MlsError("INVALID_ARGUMENT", `invalid ${what}: ${n}`);
  return n;
}

// struct { uint64 next; optional<opaque secret<V>>; struct { uint32 generation; opaque key<V>; opaque nonce<V>; } kept<V>; }
function writeRatchet(w: Writer, r: HashRatchet): void {
  w.u64(BigInt(r.next));
  if (r.secret === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    w.opaque(r.secret);
  }
  w.lengthPrefixed((v) => {
    for (const k of r.kept.values()) {
      v.u32(k.generation);
      v.opaque(k.key);
      v.opaque(k.nonce);
    }
  });
}

function readRatchet(r: Reader, nh: number, nk: number, nn: number): HashRatchet {
  const next = r.u64();
  if (next > BigInt(MAX_GENERATION) + 1n) throw new MlsError("DECODE_INVALID", "ratchet generation out of range");
  const present = r.u8();
  if (present > 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
  const secret = present === 1 ? r.opaque() : undefined;
  if (secret !== undefined && secret.length !== nh) throw new MlsError("DECODE_INVALID", "invalid ratchet secret length");
  if ((secret === undefined) !== (next === BigInt(MAX_GENERATION) + 1n)) throw new MlsError("DECODE_INVALID", "ratchet secret missing");
  const ratchet = newRatchet(secret);
  ratchet.next = Number(next);
  r.lengthPrefixed((v, end) => {
    // Ascending, as exportState writes them: eviction relies on the kept keys' order.
    let previous = -1;
    while (v.offset < end) {
      const generation = v.u32();
      const key = v.opaque();
      const nonce = v.opaque();
      if (generation >= ratchet.next || generation <= previous || key.length !== nk || nonce.length !== nn) {
        throw new MlsError("DECODE_INVALID", "invalid kept ratchet key");
      }
      previous = generation;
      ratchet.kept.set(generation, { generation, key, nonce });
    }
  });
  return ratchet;
}
