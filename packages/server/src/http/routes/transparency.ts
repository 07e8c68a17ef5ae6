/** The transparency log, read-only and public: tree heads, leaves, proofs. */
import { ApiError, decodeBindingLeaf, ROUTES, toBase64Url, type ConsistencyProofResponse, type InclusionProofResponse, type LeavesResponse, type SignedTreeHeadJson } from "@conclave/api";
import { treeHeadJson } from "../../as/json.js";
import { intParam, type ConclaveContext } from "../context.js";
import * as S from "../schemas.js";

export function transparencyRoutes(ctx: ConclaveContext): void {
  const { routes, as, store, limits } = ctx;
  const tags = ["transparency"];

  routes.define<unknown, { treeSize?: string }>(
    {
      method: "GET",
      url: ROUTES.treeHead.path,
      operationId: "treeHead",
      summary: "The latest signed tree head, or the one of a given size",
      tags,
      auth: false,
      querystring: S.treeHeadQuery,
      responses: { 200: S.signedTreeHead },
    },
    async (req): Promise<SignedTreeHeadJson> => {
      const size = req.query.treeSize === undefined ? undefined : intParam(req.query.treeSize);
      return treeHeadJson(await as.log.treeHead(store, size));
    },
  );

  routes.define<unknown, { start: string; end: string }>(
    {
      method: "GET",
      url: ROUTES.leaves.path,
      operationId: "leaves",
      summary: `Leaves [start, end) (at most ${limits.maxLeavesPerPage} per call)`,
      tags,
      auth: false,
      querystring: S.leavesQuery,
      responses: { 200: S.leavesResponse },
    },
    async (req): Promise<LeavesResponse> => {
      const start = intParam(req.query.start);
      const treeSize = await as.log.size(store);
      if (start > treeSize) throw new ApiError("TREE_SIZE_INVALID", `start ${start} beyond the log size ${treeSize}`);
      const end = Math.min(intParam(req.query.end), treeSize, start + limits.maxLeavesPerPage);
      const leaves = end > start ? await as.log.leaves(store, start, end) : [];
      return {
        treeSize,
        leaves: leaves.map((l) => {
          const b = decodeBindingLeaf(l.leaf);
          return {
            index: l.index,
            leaf: toBase64Url(l.leaf),
            binding: { ...b, signatureKey: toBase64Url(b.signatureKey), credentialHash: toBase64Url(b.credentialHash) },
          };
        }),
      };
    },
  );

  routes.define<unknown, { leafIndex: string; treeSize: string }>(
    {
      method: "GET",
      url: ROUTES.inclusionProof.path,
      operationId: "inclusionProof",
      summary: "Audit path of a leaf in the tree of a given size (RFC 9162 §2.1.3)",
      tags,
      auth: false,
      querystring: S.inclusionQuery,
      responses: { 200: S.inclusionResponse },
    },
    async (req): Promise<InclusionProofResponse> => {
      const leafIndex = intParam(req.query.leafIndex);
      const treeSize = intParam(req.query.treeSize);
      const { leafHash, proof } = await as.log.inclusionProof(store, leafIndex, treeSize);
      return { leafIndex, treeSize, leafHash: toBase64Url(leafHash), proof: proof.map(toBase64Url) };
    },
  );

  routes.define<unknown, { first: string; second: string }>(
    {
      method: "GET",
      url: ROUTES.consistencyProof.path,
      operationId: "consistencyProof",
      summary: "Proof that the tree of size second extends the one of size first (RFC 9162 §2.1.4)",
      tags,
      auth: false,
      querystring: S.consistencyQuery,
      responses: { 200: S.consistencyResponse },
    },
    async (req): Promise<ConsistencyProofResponse> => {
      const first = intParam(req.query.first);
      const second = intParam(req.query.second);
      const proof = await as.log.consistencyProof(store, first, second);
      return { first, second, proof: proof.map(toBase64Url) };
    },
  );
}
