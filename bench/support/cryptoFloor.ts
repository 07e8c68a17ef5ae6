/**
 * The crypto floor of each benchmarked operation: the least time the crypto
 * RFC 9420 requires of it takes, every primitive priced in the same run with
 * Conclave's node provider (bench/support/primitiveCosts.ts), single thread.
 * Everything else (encoding, tree bookkeeping, allocation, GC) counts as zero.
 *
 * Counted: the public-key operations (HPKE, DeriveKeyPair, signatures priced
 * over the bytes they sign), every KDF step, MAC and hash the RFC's
 * computations make (each named below with its section), and the AEAD of
 * PrivateMessages and of the Welcome's GroupInfo. The bench's handshakes are
 * PrivateMessages (Conclave's default, RFC 9420 §6.3); no PSKs, no proposals
 * beyond the Adds, suite 1 (SHA-256, Ed25519).
 */
import type { Figures, Metric, PathCost } from "./scenario.js";
import { at, type PrimitiveCosts } from "./primitiveCosts.js";

/**
 * Sizes in the bench's groups (suite 1, basic credentials "member-<i>"), in bytes. Only the
 * messages' own sizes vary much; these small structures are priced per byte like the rest, so
 * an error of a few bytes moves the floor by well under 0.1%.
 */
/** A LeafNode (§7.2) as it sits in the tree (keys, credential, capabilities, source, signature), a KeyPackage (§10), an Ed25519 signature with its length. */
const LEAF_NODE = 170;
const KEY_PACKAGE = 276;
const SIGNATURE = 65;
const SIZE = {
  /** GroupContext (§8.1): version, suite, group id (32 + 1), epoch, tree hash, transcript hash, no extensions. */
  groupContext: 2 + 2 + 33 + 8 + 33 + 33 + 1,
  /** LeafNodeTBS: the LeafNode without its signature; a commit's leaf adds group id and leaf index. */
  leafNodeTbs: LEAF_NODE - SIGNATURE,
  commitLeafNodeTbs: LEAF_NODE - SIGNATURE + 33 + 4,
  /** KeyPackage (§10) and KeyPackageTBS (without its signature). */
  keyPackage: KEY_PACKAGE,
  keyPackageTbs: KEY_PACKAGE - SIGNATURE,
  /** ParentHashInput (§7.9): encryption key, parent hash, original sibling tree hash. */
  parentHashInput: 33 + 33 + 33,
  /** TreeHashInput (§7.8) of a leaf, of a parent with a key, of a blank parent. */
  leafHashInput: 1 + 4 + 1 + LEAF_NODE,
  parentHashTreeInput: 1 + 1 + (33 + 33 + 1) + 33 + 33,
  blankParentHashInput: 1 + 1 + 33 + 33,
  /** The interim transcript hash input (§8.2): confirmed transcript hash and confirmation tag. */
  interimInput: 32 + 33,
  /** EncryptedGroupSecrets (§12.4.3.1): KeyPackageRef, KEM output, sealed GroupSecrets (joiner secret, no path secret, no PSKs). */
  encryptedGroupSecrets: 33 + 33 + (33 + 1 + 1 + 16 + 1),
  /** SenderData (§6.3.2): leaf index, generation, reuse guard. */
  senderData: 12,
  /** A 1 KiB application message's PrivateMessageContent (§6.3.1): the data and its signature. */
  messageContent: 1024 + 2 + SIGNATURE,
  /** What a 1 KiB application message signs: SignContent (§5.1.2) of its FramedContentTBS (§6.1), with the GroupContext. */
  messageTbs: 25 + 2 + 1078 + 112,
};

/**
 * The key schedule of a new epoch (§8): Extract and ExpandWithLabel to the joiner secret, Extract
 * with the (zero) PSK secret and ExpandWithLabel to the epoch secret, then the nine secrets of
 * Table 4 (sender data, encryption, exporter, external, confirmation, membership, resumption,
 * authentication, init).
 */
const KEY_SCHEDULE_KDF = 2 + 2 + 9;
/**
 * The first handshake message of an epoch (§9): one secret-tree step per level down to the
 * sender's leaf, its handshake ratchet secret, the key and nonce of generation 0 (the next
 * ratchet secret can wait for a second handshake message); the sender-data key and nonce (§6.3.2).
 */
const handshakeKdf = (depth: number) => depth + 1 + 2 + 2;
/** An application message in a running ratchet (§9.1): key, nonce, next ratchet secret; the sender-data key and nonce. */
const APPLICATION_KDF = 3 + 2;

/** The primitives a floor counts (bench/support/primitiveCosts.ts prices each). */
export type Primitive = "derive" | "seal" | "open" | "sign" | "verify" | "KDF" | "MAC" | "hash" | "AEAD";

export interface Floor {
  /** Milliseconds (messages per second for the rates). */
  value: number;
  what: string;
  /** How many of each primitive the operation needs. */
  counts?: ReadonlyMap<Primitive, number>;
}

/** Tallies of each primitive an operation needs, priced and described. */
class Tally {
  ms = 0;
  readonly counts = new Map<Primitive, number>();
  add(name: Primitive, times: number, each: number): this {
    this.ms += times * each;
    this.counts.set(name, (this.counts.get(name) ?? 0) + times);
    return this;
  }
  floor(): Floor {
    const what = [...this.counts].filter(([, k]) => k > 0).map(([name, k]) => `${k} ${name}`);
    return { value: this.ms, what: what.join("+"), counts: this.counts };
  }
}

const depthOf = (n: number) => Math.ceil(Math.log2(n));

/**
 * What both sides of a path commit hash and MAC alike: the parent hashes along the path (§7.9,
 * computed by the committer, verified by the receiver), the tree hash of the leaf and its direct
 * path (§7.8), the confirmed transcript hash over the commit and the interim one (§8.2), the
 * confirmation tag (§6.1).
 */
function pathCommitHashes(t: Tally, p: PrimitiveCosts, c: PathCost, depth: number, bytes: number): Tally {
  return t
    .add("hash", c.pathNodes, at(p.hash, SIZE.parentHashInput))
    .add("hash", 1, at(p.hash, SIZE.leafHashInput))
    .add("hash", depth, at(p.hash, SIZE.parentHashTreeInput))
    .add("hash", 1, at(p.hash, bytes))
    .add("hash", 1, at(p.hash, SIZE.interimInput))
    .add("MAC", 1, at(p.mac, 32));
}

/** Leaf 0's commit with an UpdatePath and no proposals (§12.4.2), as a PrivateMessage of `bytes`. */
export function pathCommit(p: PrimitiveCosts, n: number, c: PathCost, bytes: number): Floor {
  const depth = depthOf(n);
  const t = new Tally()
    .add("derive", c.pathNodes + 1, p.deriveKeyPair) // §7.4: the leaf's and each path node's key pair
    .add("seal", c.encryptions, p.hpkeSeal) // §7.6: a path secret to each copath resolution node
    .add("sign", 1, at(p.sign, SIZE.commitLeafNodeTbs)) // §7.5: the new LeafNode
    .add("sign", 1, at(p.sign, bytes + SIZE.groupContext)) // §6.1: the FramedContent
    // §7.4: a path secret and a node secret per path node, the leaf's node secret, the commit secret;
    // then the key schedule and the PrivateMessage's keys.
    .add("KDF", 2 * c.pathNodes + 2 + KEY_SCHEDULE_KDF + handshakeKdf(depth), p.kdf);
  return pathCommitHashes(t, p, c, depth, bytes)
    .add("AEAD", 1, at(p.aeadSeal, bytes)) // §6.3: the PrivateMessage and its sender data
    .add("AEAD", 1, at(p.aeadSeal, SIZE.senderData))
    .floor();
}

/** Leaf 1 processing that commit: it decrypts the path secret of its common ancestor with leaf 0 and derives the rest (§12.4.2). */
export function processCommit(p: PrimitiveCosts, n: number, c: PathCost, bytes: number): Floor {
  const depth = depthOf(n);
  const t = new Tally()
    .add("open", 1, p.hpkeOpen)
    .add("derive", c.pathNodes, p.deriveKeyPair) // §7.6: each path node's key pair, checked against the UpdatePath
    .add("verify", 1, at(p.verify, SIZE.commitLeafNodeTbs))
    .add("verify", 1, at(p.verify, bytes + SIZE.groupContext))
    // Node secrets, the path secrets above the first, the commit secret; key schedule; message keys.
    .add("KDF", 2 * c.pathNodes + KEY_SCHEDULE_KDF + handshakeKdf(depth), p.kdf);
  return pathCommitHashes(t, p, c, depth, bytes).add("AEAD", 1, at(p.aeadOpen, bytes)).add("AEAD", 1, at(p.aeadOpen, SIZE.senderData)).floor();
}

/** The encrypted GroupInfo's size in a Welcome of `welcomeBytes` to n-1 new members (the rest is their EncryptedGroupSecrets). */
const groupInfoBytes = (n: number, welcomeBytes: number) => Math.max(0, welcomeBytes - (n - 1) * SIZE.encryptedGroupSecrets);

/** One commit adding n-1 members, no path, the tree in the Welcome (§12.4.3). */
export function add(p: PrimitiveCosts, n: number, commitBytes: number, welcomeBytes: number): Floor {
  const info = groupInfoBytes(n, welcomeBytes);
  return (
    new Tally()
      .add("seal", n - 1, p.hpkeSeal) // §12.4.3.1: GroupSecrets to each new member
      .add("verify", n - 1, at(p.verify, SIZE.keyPackageTbs)) // §10.1: each KeyPackage
      .add("verify", n - 1, at(p.verify, SIZE.leafNodeTbs)) // and its LeafNode
      .add("hash", n - 1, at(p.hash, SIZE.keyPackage)) // §5.2: each KeyPackageRef, for the Welcome
      .add("hash", n - 1, at(p.hash, SIZE.leafHashInput)) // §7.8: the tree hash of each new leaf and of every parent
      .add("hash", n - 1, at(p.hash, SIZE.blankParentHashInput))
      .add("hash", 1, at(p.hash, commitBytes)) // §8.2: transcript hashes
      .add("hash", 1, at(p.hash, SIZE.interimInput))
      .add("sign", 1, at(p.sign, commitBytes + SIZE.groupContext)) // §6.1: the FramedContent
      .add("sign", 1, at(p.sign, info)) // §12.4.3: the GroupInfo, with the tree in it
      // Key schedule; the welcome secret, key and nonce (§8, §12.4.3.1); the keys of the PrivateMessage, sent from a one-member group.
      .add("KDF", KEY_SCHEDULE_KDF + 3 + handshakeKdf(0), p.kdf)
      .add("MAC", 1, at(p.mac, 32)) // the confirmation tag
      .add("MAC", 1, at(p.mac, info)) // RFC 9180 §5.1: info_hash of the encrypted GroupInfo, the HPKE context of every seal, once
      .add("AEAD", 1, at(p.aeadSeal, info)) // §12.4.3.1: the GroupInfo
      .add("AEAD", 1, at(p.aeadSeal, commitBytes))
      .add("AEAD", 1, at(p.aeadSeal, SIZE.senderData))
      .floor()
  );
}

/** A new member joining from that Welcome (§12.4.3.1) and validating the tree (§12.4.3.3). */
export function join(p: PrimitiveCosts, n: number, welcomeBytes: number): Floor {
  const info = groupInfoBytes(n, welcomeBytes);
  return (
    new Tally()
      .add("open", 1, p.hpkeOpen)
      .add("verify", n, at(p.verify, SIZE.leafNodeTbs)) // §7.3: every leaf's signature
      .add("verify", 1, at(p.verify, info)) // the GroupInfo
      .add("hash", n, at(p.hash, SIZE.leafHashInput)) // §7.8: the tree hash checked against the GroupContext
      .add("hash", n - 1, at(p.hash, SIZE.blankParentHashInput))
      .add("hash", 1, at(p.hash, SIZE.interimInput))
      // From the joiner secret: the member and epoch secrets, the nine epoch secrets; the welcome secret, key and nonce.
      .add("KDF", 2 + 9 + 3, p.kdf)
      // RFC 9180 §5.1: info_hash of the HPKE context, beyond the short info the open is priced with.
      .add("MAC", 1, p.mac.perByte * info)
      .add("MAC", 1, at(p.mac, 32)) // the confirmation tag, verified
      .add("AEAD", 1, at(p.aeadOpen, info))
      .floor()
  );
}

/** Bytes of a 1 KiB application message's FramedContentTBS, which its sender signs. */
export const MESSAGE_TBS_BYTES = SIZE.messageTbs;

/** One 1 KiB application message, encrypted by one member and decrypted by another (§6.3), in ms. */
export function messagePair(p: PrimitiveCosts): Floor {
  return new Tally()
    .add("AEAD", 1, at(p.aeadSeal, SIZE.messageContent))
    .add("AEAD", 1, at(p.aeadOpen, SIZE.messageContent))
    .add("AEAD", 1, at(p.aeadSeal, SIZE.senderData))
    .add("AEAD", 1, at(p.aeadOpen, SIZE.senderData))
    .add("sign", 1, at(p.sign, SIZE.messageTbs))
    .add("verify", 1, at(p.verify, SIZE.messageTbs))
    .add("KDF", 2 * APPLICATION_KDF, p.kdf) // on each side: key, nonce, next secret; sender-data key and nonce
    .floor();
}

/** The floor of one operation (ms; messages per second for the rates), or undefined where the run lacks a size it needs. */
export function floorOf(key: Metric, n: number, p: PrimitiveCosts, f: Figures, cores: number): Floor | undefined {
  const path = (c: PathCost | undefined, side: typeof pathCommit) => (c?.commitBytes === undefined ? undefined : side(p, n, c, c.commitBytes));
  switch (key) {
    case "add":
      return f.addCommitBytes === undefined ? undefined : add(p, n, f.addCommitBytes, f.welcomeBytes);
    case "join":
      return join(p, n, f.welcomeBytes);
    case "commitBlank":
      return path(f.blankCost, pathCommit);
    case "commitFull":
      return path(f.fullCost, pathCommit);
    case "processBlank":
      return path(f.blankCost, processCommit);
    case "processFull":
      return path(f.fullCost, processCommit);
    case "messagesPerSecond": {
      const m = messagePair(p);
      return { value: 1000 / m.value, what: m.what };
    }
    case "messagesInFlightPerSecond": {
      // The cores' worth in units of the core the primitives were priced on (allCores.ts); else each a whole one.
      const worth = p.allCores === undefined ? cores : p.allCores.verifiesPerMs * at(p.verify, p.allCores.bytes);
      const what = p.allCores === undefined ? `the same on ${cores} cores` : `the same on ${cores} cores (${worth.toFixed(2)} cores' worth)`;
      return { value: (1000 * worth) / messagePair(p).value, what };
    }
  }
}
