/**
 * The derivations of the secret tree (RFC 9420 §9): a node's two children, a
 * leaf's two ratchet roots, and one generation of a hash ratchet (§9.1), with
 * the KDFLabels each needs built once per suite.
 */
import { utf8, zeroize } from "../codec/bytes.js";
import { kdfLabel, type CipherSuite } from "../crypto/cipherSuite.js";

/** One key/nonce pair of a sender ratchet (§9.1). */
export interface RatchetKey {
  readonly generation: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
}

/** The last generation of a ratchet: uint32 (§9.1). */
export const MAX_GENERATION = 0xffffffff;

/** Precomputed KDFLabels for one suite: DeriveTreeSecret's "key"/"nonce"/"secret" and the tree/leaf expansions. */
export class TreeKdf {
  private readonly keyInfo: Uint8Array;
  private readonly nonceInfo: Uint8Array;
  private readonly secretInfo: Uint8Array;
  private readonly keyView: DataView;
  private readonly nonceView: DataView;
  private readonly secretView: DataView;
  readonly leftInfo: Uint8Array;
  readonly rightInfo: Uint8Array;
  readonly handshakeInfo: Uint8Array;
  readonly applicationInfo: Uint8Array;
  readonly nh: number;
  readonly nk: number;
  readonly nn: number;
  /** The next ratchet secret on its way (generation() runs synchronously, so one per suite will do). */
  private readonly nextScratch: Uint8Array;

  constructor(readonly cs: CipherSuite) {
    const { nh, nk, nn } = cs.params;
    this.nh = nh;
    this.nk = nk;
    this.nn = nn;
    this.nextScratch = new Uint8Array(new ArrayBuffer(nh));
    // §9.1: DeriveTreeSecret(Secret, Label, Generation, Length) = ExpandWithLabel(Secret, Label, uint32 Generation, Length)
    // The generation is written into the last 4 bytes (the context) of these KDFLabels before each use.
    this.keyInfo = kdfLabel("key", new Uint8Array(4), nk);
    this.nonceInfo = kdfLabel("nonce", new Uint8Array(4), nn);
    this.secretInfo = kdfLabel("secret", new Uint8Array(4), nh);
    this.keyView = new DataView(this.keyInfo.buffer, this.keyInfo.byteOffset, this.keyInfo.byteLength);
    this.nonceView = new DataView(this.nonceInfo.buffer, this.nonceInfo.byteOffset, this.nonceInfo.byteLength);
    this.secretView = new DataView(this.secretInfo.buffer, this.secretInfo.byteOffset, this.secretInfo.byteLength);
    // §9: children of a tree node, and the two ratchet roots of a leaf.
    this.leftInfo = kdfLabel("tree", utf8("left"), nh);
    this.rightInfo = kdfLabel("tree", utf8("right"), nh);
    this.handshakeInfo = kdfLabel("handshake", new Uint8Array(0), nh);
    this.applicationInfo = kdfLabel("application", new Uint8Array(0), nh);
  }

  /** The two expansions of one secret (a tree node's children, a leaf's two ratchets), prepared once. */
  expandPair(secret: Uint8Array, first: Uint8Array, second: Uint8Array): [Uint8Array, Uint8Array] {
    const e = this.cs.kdfExpander(secret);
    const out: [Uint8Array, Uint8Array] = [e.expand(first, this.nh), e.expand(second, this.nh)];
    e.destroy();
    return out;
  }

  /**
   * One generation of a hash ratchet (§9.1) from its secret, prepared once:
   * the key and nonce into `keyOut` (nk + nn bytes) when given, and the next
   * ratchet secret (none after the last generation) over `secret` itself, so
   * the old one is gone and the ratchet needs no new array per step.
   */
  generation(secret: Uint8Array, generation: number, keyOut: Uint8Array | undefined): RatchetKey | undefined {
    const e = this.cs.kdfExpander(secret);
    const { nk, nn, nh } = this;
    let key: RatchetKey | undefined;
    try {
      if (keyOut !== undefined) {
        this.keyView.setUint32(this.keyInfo.length - 4, generation);
        this.nonceView.setUint32(this.nonceInfo.length - 4, generation);
        key = { generation, key: e.expand(this.keyInfo, nk, keyOut.subarray(0, nk)), nonce: e.expand(this.nonceInfo, nn, keyOut.subarray(nk, nk + nn)) };
      }
      if (generation !== MAX_GENERATION) {
        this.secretView.setUint32(this.secretInfo.length - 4, generation);
        // Into scratch first: the expander reads `secret`, its HMAC key, until it is done.
        secret.set(e.expand(this.secretInfo, nh, this.nextScratch));
      }
    } finally {
      e.destroy();
      this.nextScratch.fill(0);
    }
    if (generation === MAX_GENERATION) zeroize(secret);
    return key;
  }
}

/**
 * One TreeKdf per suite: its KDFLabels depend on the suite only, and a secret
 * tree is made for every epoch on each side. Sharing the generation labels is
 * safe: each is written and used within one synchronous generation() call.
 */
const treeKdfs = new WeakMap<CipherSuite, TreeKdf>();
export function treeKdfFor(cs: CipherSuite): TreeKdf {
  let kdf = treeKdfs.get(cs);
  if (kdf === undefined) {
    kdf = new TreeKdf(cs);
    treeKdfs.set(cs, kdf);
  }
  return kdf;
}
