/** The transparency log: size, leaves, perfect-subtree nodes, signed tree heads. */
import { bytes, chunk, int, type Handle } from "../handle.js";
import type { LogLeafRecord, LogNode, TransparencyRepository, TreeHeadRecord } from "../store.js";

export class Transparency implements TransparencyRepository {
  constructor(private readonly h: Handle) {}

  async lockForAppend(): Promise<number> {
    let q = this.h.db().selectFrom("log_state").select("tree_size").where("id", "=", 1);
    // SQLite transactions start with BEGIN IMMEDIATE (sqlite.ts): the write lock is already held.
    if (this.h.engine === "postgres") q = q.forUpdate();
    const r = await q.executeTakeFirstOrThrow();
    return int(r.tree_size);
  }

  async size(): Promise<number> {
    const r = await this.h.db().selectFrom("log_state").select("tree_size").where("id", "=", 1).executeTakeFirstOrThrow();
    return int(r.tree_size);
  }

  async setSize(size: number): Promise<void> {
    await this.h.db().updateTable("log_state").set({ tree_size: size }).where("id", "=", 1).execute();
  }

  async putLeaf(leaf: LogLeafRecord): Promise<void> {
    await this.h.db().insertInto("log_leaves").values({ leaf_index: leaf.index, leaf: leaf.leaf, appended_at: leaf.appendedAt }).execute();
  }

  async getLeaves(start: number, end: number): Promise<LogLeafRecord[]> {
    const rows = await this.h.db().selectFrom("log_leaves").selectAll().where("leaf_index", ">=", start).where("leaf_index", "<", end).orderBy("leaf_index").execute();
    return rows.map((r) => ({ index: int(r.leaf_index), leaf: bytes(r.leaf), appendedAt: int(r.appended_at) }));
  }

  async putNodes(nodes: readonly LogNode[]): Promise<void> {
    for (const part of chunk(nodes, 200)) {
      await this.h
        .db()
        .insertInto("log_nodes")
        .values(part.map((n) => ({ level: n.level, node_index: n.index, hash: n.hash })))
        .onConflict((oc) => oc.columns(["level", "node_index"]).doNothing())
        .execute();
    }
  }

  async getNodes(keys: readonly { level: number; index: number }[]): Promise<LogNode[]> {
    const out: LogNode[] = [];
    for (const part of chunk(keys, 100)) {
      const rows = await this.h
        .db()
        .selectFrom("log_nodes")
        .selectAll()
        .where((eb) => eb.or(part.map((k) => eb.and([eb("level", "=", k.level), eb("node_index", "=", k.index)]))))
        .execute();
      for (const r of rows) out.push({ level: int(r.level), index: int(r.node_index), hash: bytes(r.hash) });
    }
    return out;
  }

  async putTreeHead(head: TreeHeadRecord): Promise<void> {
    await this.h
      .db()
      .insertInto("log_tree_heads")
      .values({ tree_size: head.treeSize, timestamp: head.timestamp, root_hash: head.rootHash, signature: head.signature })
      .onConflict((oc) => oc.column("tree_size").doNothing())
      .execute();
  }

  async getTreeHead(treeSize?: number): Promise<TreeHeadRecord | undefined> {
    let q = this.h.db().selectFrom("log_tree_heads").selectAll();
    q = treeSize === undefined ? q.orderBy("tree_size", "desc").limit(1) : q.where("tree_size", "=", treeSize);
    const r = await q.executeTakeFirst();
    return (
      r && {
        treeSize: int(r.tree_size),
        timestamp: int(r.timestamp),
        rootHash: bytes(r.root_hash),
        signature: bytes(r.signature),
      }
    );
  }
}
