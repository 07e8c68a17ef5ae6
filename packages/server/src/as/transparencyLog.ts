/**
 * The AS transparency log (RFC 9750 §8.4.3.1: "Provide a key transparency
 * mechanism for the AS"): an append-only RFC 9162 Merkle tree of BindingLeaf
 * records with a signed tree head for every size. The formats and the
 * client-side verification live in @conclave/api (transparency.ts).
 *
 * Appends happen inside the caller's transaction (the credential row and its
 * leaf commit together or not at all) and are serialised by the log's lock.
 */
import { ApiError, emptyRoot, hashLeaf, type TreeHead } from "@conclave/api";
import { sha256 } from "../crypto.js";
import type { LogLeafRecord, Repositories, StoreTx, TreeHeadRecord } from "../storage/store.js";
import { consistencyPath, inclusionPath, newNodesForAppend, subtreeHash, withStoredNodes, completedLeftSiblings } from "./merkle.js";

/** Signs a tree head: SignWithLabel(log_key, "Conclave tree head", TreeHeadTBS). */
export type TreeHeadSigner = (head: TreeHead) => Promise<Uint8Array>;

type LogReader = Pick<Repositories, "transparency">;

export class TransparencyLog {
  constructor(private readonly sign: TreeHeadSigner) {}

  /** Makes sure the empty tree has a signed head (first start). */
  async initialise(tx: StoreTx, now: number): Promise<void> {
    const size = await tx.transparency.lockForAppend();
    if (size === 0 && (await tx.transparency.getTreeHead(0)) === undefined) {
      await this.putHead(tx, { treeSize: 0, timestamp: now, rootHash: emptyRoot(sha256) });
    }
  }

  /** Appends one leaf; returns its index and the new signed head. */
  async append(tx: StoreTx, leaf: Uint8Array, now: number): Promise<{ index: number; head: TreeHeadRecord }> {
    const index = await tx.transparency.lockForAppend();
    const leafHash = hashLeaf(sha256, leaf);
    const siblings = completedLeftSiblings(index);
    const stored = siblings.length > 0 ? await tx.transparency.getNodes(siblings) : [];
    const byKey = new Map(stored.map((n) => [`${n.level}:${n.index}`, n.hash]));
    const created = newNodesForAppend(sha256, index, leafHash, (level, i) => {
      const h = byKey.get(`${level}:${i}`);
      if (h === undefined) throw new Error(`transparency log: node ${level}:${i} missing from storage`);
      return h;
    });
    const size = index + 1;
    const rootHash = await withStoredNodes(
      sha256,
      (keys) => tx.transparency.getNodes(keys),
      (h, node) => subtreeHash(h, node, 0, size),
      created,
    );
    await tx.transparency.putLeaf({ index, leaf, appendedAt: now });
    await tx.transparency.putNodes(created);
    await tx.transparency.setSize(size);
    const head = await this.putHead(tx, { treeSize: size, timestamp: now, rootHash });
    return { index, head };
  }

  private async putHead(tx: StoreTx, head: TreeHead): Promise<TreeHeadRecord> {
    const record = { ...head, signature: await this.sign(head) };
    await tx.transparency.putTreeHead(record);
    return record;
  }

  /** The signed head for `treeSize` (latest when omitted). */
  async treeHead(r: LogReader, treeSize?: number): Promise<TreeHeadRecord> {
    const head = await r.transparency.getTreeHead(treeSize);
    if (head === undefined) throw new ApiError("TREE_SIZE_INVALID", `no tree head of size ${treeSize ?? "latest"}`);
    return head;
  }

  async size(r: LogReader): Promise<number> {
    return r.transparency.size();
  }

  /** The audit path of the leaf at `leafIndex` in the tree of size `treeSize`, and the leaf hash. */
  async inclusionProof(r: LogReader, leafIndex: number, treeSize: number): Promise<{ leafHash: Uint8Array; proof: Uint8Array[] }> {
    const size = await r.transparency.size();
    if (!(treeSize >= 1 && treeSize <= size)) throw new ApiError("TREE_SIZE_INVALID", `tree size ${treeSize} not in 1..${size}`);
    if (!(leafIndex >= 0 && leafIndex < treeSize)) throw new ApiError("TREE_SIZE_INVALID", `leaf index ${leafIndex} not in 0..${treeSize - 1}`);
    return withStoredNodes(
      sha256,
      (keys) => r.transparency.getNodes(keys),
      (h, node) => ({
        leafHash: node(0, leafIndex),
        proof: inclusionPath(h, node, leafIndex, 0, treeSize),
      }),
    );
  }

  /** The proof that the tree of size `second` extends the one of size `first`. */
  async consistencyProof(r: LogReader, first: number, second: number): Promise<Uint8Array[]> {
    const size = await r.transparency.size();
    if (!(second <= size)) throw new ApiError("TREE_SIZE_INVALID", `tree size ${second} exceeds the log size ${size}`);
    if (!(first >= 0 && first <= second)) throw new ApiError("TREE_SIZE_INVALID", `first size ${first} not in 0..${second}`);
    if (first === 0 || first === second) return [];
    return withStoredNodes(
      sha256,
      (keys) => r.transparency.getNodes(keys),
      (h, node) => consistencyPath(h, node, first, second),
    );
  }

  async leaves(r: LogReader, start: number, end: number): Promise<LogLeafRecord[]> {
    return r.transparency.getLeaves(start, end);
  }
}
