/**
 * Auditing the account's devices against the whole AS transparency log
 * (issue 23: every device change is in the log and reported to the account's
 * other devices). Client.deviceChanges() checks that each change the AS
 * *reports* is in the log; this audit catches the other lie, a change the AS
 * *logged but left out* of the account's device-change list.
 *
 * It reads every leaf the log gained since the last audit, recomputes the
 * Merkle root from them (RFC 9162 §2.1.1) and compares it with a signed tree
 * head proven consistent with the last one the client accepted: the leaves
 * read are the log's, not a page made up for this client. Each device leaf
 * naming this user (DEVICE_ADDED_LEAF_TYPE / DEVICE_REVOKED_LEAF_TYPE) must be
 * in the device-change list. Only O(log n) hashes are kept between audits
 * (the frontier of perfect subtrees), so each audit reads only new leaves.
 */
import {
  decodeBindingLeaf,
  DEVICE_ADDED_LEAF_TYPE,
  DEVICE_REVOKED_LEAF_TYPE,
  emptyRoot,
  fromBase64Url,
  hashChildren,
  hashLeaf,
  toBase64Url,
  TRANSPARENCY_SUITE,
  type DeviceChangesResponse,
  type HashFn,
  type LeavesResponse,
} from "@conclave/api";
import { bytesEqual } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import type { CredentialValidation } from "./credentialValidation.js";
import { getJson, putJson } from "./store.js";

/** The perfect subtrees covering leaves [0, size), largest first. */
interface Frontier {
  size: number;
  nodes: { size: number; hash: string }[];
}

/** What Client.auditDevices() found in the AS transparency log. */
export interface DeviceAuditResult {
  /** False when the AS served leaves that do not make up its signed tree: nothing else here can be trusted. */
  readonly consistent: boolean;
  /** How many leaves the log holds, all audited. */
  readonly treeSize: number;
  /** Device changes of this account that the log holds but the AS did not list: each is an alarm. */
  readonly unlisted: readonly { readonly logIndex: number; readonly identity: string; readonly change: "added" | "revoked"; readonly signatureKey: string }[];
}

const FRONTIER_KEY = "device-audit-frontier";
const PAGE = 1000;

export function appendLeaf(hash: HashFn, f: Frontier, leafHash: Uint8Array): void {
  let node = { size: 1, hash: leafHash };
  // Like a binary counter: two subtrees of one size make one of twice the size.
  while (f.nodes.length > 0 && f.nodes[f.nodes.length - 1]!.size === node.size) {
    const left = f.nodes.pop()!;
    node = { size: node.size * 2, hash: hashChildren(hash, fromBase64Url(left.hash), node.hash) };
  }
  f.nodes.push({ size: node.size, hash: toBase64Url(node.hash) });
  f.size += 1;
}

/** RFC 9162 §2.1.1: MTH of the covered leaves, folding the subtrees from the right. */
export function frontierRoot(hash: HashFn, f: Frontier): Uint8Array {
  if (f.nodes.length === 0) return emptyRoot(hash);
  let acc = fromBase64Url(f.nodes[f.nodes.length - 1]!.hash);
  for (let i = f.nodes.length - 2; i >= 0; i--) acc = hashChildren(hash, fromBase64Url(f.nodes[i]!.hash), acc);
  return acc;
}

export async function auditDevices(ctx: ClientContext, credentials: CredentialValidation): Promise<DeviceAuditResult> {
  const id = ctx.session.need();
  const hash: HashFn = (d) => ctx.provider.suite(TRANSPARENCY_SUITE).hash(d);
  const head = await credentials.latestHead();
  if (head === undefined) return { consistent: false, treeSize: 0, unlisted: [] };
  const saved = (await getJson<Frontier>(ctx.store, FRONTIER_KEY)) ?? { size: 0, nodes: [] };
  const f: Frontier = { size: saved.size, nodes: [...saved.nodes] };
  const prefix = `${id.user}@${id.domain}#`;
  const found: { logIndex: number; identity: string; change: "added" | "revoked"; signatureKey: string }[] = [];
  while (f.size < head.treeSize) {
    const end = Math.min(head.treeSize, f.size + PAGE);
    const page = await ctx.session.transport.request<LeavesResponse>("leaves", { query: { start: f.size, end } });
    // A server may page shorter than asked, never empty or past the end.
    if (page.leaves.length === 0 || page.leaves.length > end - f.size) return { consistent: false, treeSize: head.treeSize, unlisted: [] };
    for (const l of page.leaves) {
      if (l.index !== f.size) return { consistent: false, treeSize: head.treeSize, unlisted: [] };
      const bytes = fromBase64Url(l.leaf);
      appendLeaf(hash, f, hashLeaf(hash, bytes));
      let leaf;
      try {
        leaf = decodeBindingLeaf(bytes);
      } catch {
        continue; // not ours to read; it still counts in the root
      }
      if (!leaf.identity.startsWith(prefix)) continue;
      if (leaf.credentialType !== DEVICE_ADDED_LEAF_TYPE && leaf.credentialType !== DEVICE_REVOKED_LEAF_TYPE) continue;
      found.push({ logIndex: l.index, identity: leaf.identity, change: leaf.credentialType === DEVICE_ADDED_LEAF_TYPE ? "added" : "revoked", signatureKey: toBase64Url(leaf.signatureKey) });
    }
  }
  if (!bytesEqual(frontierRoot(hash, f), head.rootHash)) return { consistent: false, treeSize: head.treeSize, unlisted: [] };
  const listed = new Set<number>();
  for (let after = 0; ;) {
    const r = await ctx.session.call<DeviceChangesResponse>("deviceChanges", { params: { user: id.user }, query: { after: String(after) } });
    if (r.changes.length === 0) break;
    for (const c of r.changes) listed.add(c.logIndex);
    after = r.changes[r.changes.length - 1]!.seq;
  }
  const unlisted = found.filter((x) => !listed.has(x.logIndex));
  await putJson(ctx.store, FRONTIER_KEY, f);
  return { consistent: true, treeSize: head.treeSize, unlisted };
}
