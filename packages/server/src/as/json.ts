/** Storage records to the JSON shapes of @conclave/api. */
import { toBase64Url, type SignedTreeHeadJson } from "@conclave/api";
import type { TreeHeadRecord } from "../storage/store.js";

export function treeHeadJson(h: TreeHeadRecord): SignedTreeHeadJson {
  return { treeSize: h.treeSize, timestamp: h.timestamp, rootHash: toBase64Url(h.rootHash), signature: toBase64Url(h.signature) };
}
