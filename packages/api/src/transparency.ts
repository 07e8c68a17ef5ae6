/**
 * The AS transparency log, client side: the leaf and tree-head formats and the
 * verification of the log's proofs. Pure functions, no I/O: a client passes in
 * the hash and signature functions of a CipherSuite from its crypto provider.
 *
 * The log is an RFC 9162 (Certificate Transparency 2.0) Merkle tree over SHA-256:
 *   MTH({})    = SHA-256()
 *   leaf hash  = SHA-256(0x00 || leaf)          // RFC 9162 §2.1.1
 *   node hash  = SHA-256(0x01 || left || right)
 * Hashing and signing use cipher suite 1 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519):
 * its hash is SHA-256 and the tree heads are signed with its Ed25519
 * SignWithLabel under the label "Conclave tree head".
 *
 * Every credential the AS issues appends one leaf, a TLS-encoded BindingLeaf
 * (RFC 9420 §2.1 presentation language):
 *
 *     struct {
 *         uint8 version = 1;
 *         uint64 timestamp;               // ms since the Unix epoch, when the AS issued it
 *         opaque identity<V>;             // UTF-8 client identity "user@domain#device"
 *         CipherSuite cipher_suite;       // uint16
 *         opaque signature_key<V>;        // the client's signature public key
 *         CredentialType credential_type; // uint16: basic(1), x509(2)
 *         opaque credential_hash<V>;      // SHA-256 of the TLS-encoded Credential (= credentialId)
 *         uint64 not_after;               // ms since the Unix epoch
 *     } BindingLeaf;
 *
 *     struct {
 *         uint64 tree_size;
 *         uint64 timestamp;               // ms since the Unix epoch
 *         opaque root_hash<V>;
 *     } TreeHeadTBS;                      // signed: SignWithLabel(log_key, "Conclave tree head", TreeHeadTBS)
 *
 * A user's client can fetch every leaf naming its user and so notice a binding
 * it did not ask for (RFC 9750 §8.4.3.1: detection of an AS that issues a
 * hidden key); consistency proofs show the log was only ever appended to.
 */
import { Reader, Writer, utf8, decode, type Codec, type CipherSuite, type CipherSuiteId } from "@conclave/mls";
import { MlsError, bytesEqual } from "@conclave/mls";
import { fromBase64Url } from "./base64url.js";

/** The cipher suite whose hash (SHA-256) and signature (Ed25519) the log uses. */
export const TRANSPARENCY_SUITE: CipherSuiteId = 1;
/** The SignWithLabel label of tree-head signatures. */
export const TREE_HEAD_LABEL = "Conclave tree head";
/** The BindingLeaf version this code writes and reads. */
export const BINDING_LEAF_VERSION = 1;
/** Length of the log's hashes (SHA-256), in bytes. */
export const HASH_LENGTH = 32;

/** SHA-256 as a function: pass `provider.suite(TRANSPARENCY_SUITE).hash`. */
export type HashFn = (data: Uint8Array) => Uint8Array;

/** One leaf of the log: a credential the AS issued (the BindingLeaf struct above; times in ms). */
export interface BindingLeaf {
  readonly timestamp: number;
  readonly identity: string;
  readonly cipherSuite: number;
  readonly signatureKey: Uint8Array;
  readonly credentialType: number;
  readonly credentialHash: Uint8Array;
  readonly notAfter: number;
}

function u64FromNumber(w: Writer, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new MlsError("ENCODE_INVALID", `not a uint64 in the safe range: ${n}`);
  w.u64(BigInt(n));
}

function u64ToNumber(r: Reader, what: string): number {
  const v = r.u64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MlsError("DECODE_INVALID", `${what} ${v} exceeds 2^53-1`);
  return Number(v);
}

/** TLS codec of {@link BindingLeaf}; encoding throws MlsError `ENCODE_INVALID`, decoding a `DECODE_*` code. */
export const bindingLeafCodec: Codec<BindingLeaf> = {
  encode(w, leaf) {
    w.u8(BINDING_LEAF_VERSION);
    u64FromNumber(w, leaf.timestamp);
    w.opaque(utf8(leaf.identity));
    w.u16(leaf.cipherSuite);
    w.opaque(leaf.signatureKey);
    w.u16(leaf.credentialType);
    w.opaque(leaf.credentialHash);
    u64FromNumber(w, leaf.notAfter);
  },
  decode(r) {
    const version = r.u8();
    if (version !== BINDING_LEAF_VERSION) throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown binding leaf version ${version}`);
    const timestamp = u64ToNumber(r, "timestamp");
    const identity = new TextDecoder("utf-8", { fatal: true }).decode(r.opaque());
    const cipherSuite = r.u16();
    const signatureKey = r.opaque();
    const credentialType = r.u16();
    const credentialHash = r.opaque();
    const notAfter = u64ToNumber(r, "not_after");
    return { timestamp, identity, cipherSuite, signatureKey, credentialType, credentialHash, notAfter };
  },
};

/** A tree head (TreeHeadTBS): the log's size, time (ms) and root hash. */
export interface TreeHead {
  readonly treeSize: number;
  readonly timestamp: number;
  readonly rootHash: Uint8Array;
}

/** The bytes a tree-head signature covers (TreeHeadTBS). @throws MlsError `ENCODE_INVALID` (a size or time outside uint64's safe range). */
export function encodeTreeHeadTBS(head: TreeHead): Uint8Array {
  const w = new Writer(64);
  u64FromNumber(w, head.treeSize);
  u64FromNumber(w, head.timestamp);
  w.opaque(head.rootHash);
  return w.finish();
}

/**
 * Decodes one BindingLeaf.
 * @throws MlsError `DECODE_TRUNCATED`, `DECODE_TRAILING_BYTES`, `DECODE_UNKNOWN_VALUE` (an unknown version), `DECODE_INVALID` (a time over 2^53-1) or another `DECODE_*` code.
 */
export function decodeBindingLeaf(bytes: Uint8Array): BindingLeaf {
  return decode(bindingLeafCodec, bytes);
}

// ---------------------------------------------------------------------------
// RFC 9162 §2.1.1 hashing

const LEAF_PREFIX = new Uint8Array([0x00]);

/** RFC 9162 §2.1.1 leaf hash: HASH(0x00 || leaf). */
export function hashLeaf(hash: HashFn, leaf: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + leaf.length);
  buf.set(LEAF_PREFIX, 0);
  buf.set(leaf, 1);
  return hash(buf);
}

/** RFC 9162 §2.1.1 node hash: HASH(0x01 || left || right). */
export function hashChildren(hash: HashFn, left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return hash(buf);
}

/** MTH of the empty list: the hash of the empty string. */
export function emptyRoot(hash: HashFn): Uint8Array {
  return hash(new Uint8Array(0));
}

/** The largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) from the leaf hashes, by the RFC 9162 §2.1.1 definition (for small trees and tests). */
export function merkleRoot(hash: HashFn, leafHashes: readonly Uint8Array[]): Uint8Array {
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leafHashes[lo]!;
    const k = splitPoint(hi - lo);
    return hashChildren(hash, mth(lo, lo + k), mth(lo + k, hi));
  };
  return leafHashes.length === 0 ? emptyRoot(hash) : mth(0, leafHashes.length);
}

// ---------------------------------------------------------------------------
// Proof verification. Indices stay below 2^53, so halving uses arithmetic, not
// 32-bit shifts.

const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function allHashes(path: readonly Uint8Array[]): boolean {
  return path.every((p) => p.length === HASH_LENGTH);
}

/** The inputs of {@link verifyInclusion}. */
export interface InclusionCheck {
  readonly leafIndex: number;
  readonly treeSize: number;
  /** hashLeaf(leaf) of the leaf whose inclusion is claimed. */
  readonly leafHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
  /** The root hash of a (verified) tree head of size treeSize. */
  readonly rootHash: Uint8Array;
}

/** RFC 9162 §2.1.3.2: true when `proof` shows the leaf at `leafIndex` is in the tree with `rootHash`. */
export function verifyInclusion(hash: HashFn, c: InclusionCheck): boolean {
  if (!isSize(c.leafIndex) || !isSize(c.treeSize) || c.leafIndex >= c.treeSize) return false;
  if (c.leafHash.length !== HASH_LENGTH || c.rootHash.length !== HASH_LENGTH || !allHashes(c.proof)) return false;
  let fn = c.leafIndex;
  let sn = c.treeSize - 1;
  let r = c.leafHash;
  for (const p of c.proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(hash, p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(hash, r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, c.rootHash);
}

/** The inputs of {@link verifyConsistency}. */
export interface ConsistencyCheck {
  readonly first: number;
  readonly second: number;
  readonly firstRoot: Uint8Array;
  readonly secondRoot: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows the tree of size `second` with
 * `secondRoot` extends the tree of size `first` with `firstRoot` (append-only).
 * Equal sizes need an empty proof and equal roots; every tree extends the
 * empty tree (first = 0) with an empty proof.
 */
export function verifyConsistency(hash: HashFn, c: ConsistencyCheck): boolean {
  if (!isSize(c.first) || !isSize(c.second) || c.first > c.second) return false;
  if (c.firstRoot.length !== HASH_LENGTH || c.secondRoot.length !== HASH_LENGTH || !allHashes(c.proof)) return false;
  if (c.first === c.second) return c.proof.length === 0 && bytesEqual(c.firstRoot, c.secondRoot);
  if (c.first === 0) return c.proof.length === 0;
  if (c.proof.length === 0) return false;
  const path = isPowerOfTwo(c.first) ? [c.firstRoot, ...c.proof] : [...c.proof];
  let fn = c.first - 1;
  let sn = c.second - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const p = path[i]!;
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(hash, p, fr);
      sr = hashChildren(hash, p, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(hash, sr, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, c.firstRoot) && bytesEqual(sr, c.secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

// ---------------------------------------------------------------------------
// Tree heads

/**
 * True when `signature` is the log key's signature over `head` (suite must be TRANSPARENCY_SUITE).
 * @throws MlsError `CRYPTO_INVALID_KEY` (rejects with it) for a malformed log key, `ENCODE_INVALID` for a head out of range.
 */
export function verifyTreeHeadSignature(suite: CipherSuite, logPublicKey: Uint8Array, head: TreeHead, signature: Uint8Array): Promise<boolean> {
  if (suite.id !== TRANSPARENCY_SUITE) return Promise.resolve(false);
  return suite.verifyWithLabel(logPublicKey, TREE_HEAD_LABEL, encodeTreeHeadTBS(head), signature);
}

/** A signed tree head as it travels in JSON (GET /v1/transparency/tree-head). */
export interface SignedTreeHeadJson {
  treeSize: number;
  timestamp: number;
  /** base64url */
  rootHash: string;
  /** base64url */
  signature: string;
}

/** Decodes a JSON tree head and checks its signature; returns the head, or undefined if it is malformed or does not verify (never throws). */
export async function verifySignedTreeHead(suite: CipherSuite, logPublicKey: Uint8Array, sth: SignedTreeHeadJson): Promise<TreeHead | undefined> {
  let head: TreeHead;
  let signature: Uint8Array;
  try {
    head = { treeSize: sth.treeSize, timestamp: sth.timestamp, rootHash: fromBase64Url(sth.rootHash, "rootHash") };
    signature = fromBase64Url(sth.signature, "signature");
    encodeTreeHeadTBS(head); // range checks
  } catch {
    return undefined;
  }
  if (head.rootHash.length !== HASH_LENGTH) return undefined;
  let ok: boolean;
  try {
    ok = await verifyTreeHeadSignature(suite, logPublicKey, head, signature);
  } catch {
    ok = false; // a malformed key is a failed verification here
  }
  return ok ? head : undefined;
}
