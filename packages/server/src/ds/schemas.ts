/** JSON Schemas of the DS routes (validation, serialisation and OpenAPI from the same objects). */
import { b64u, cipherSuite, object, queryInteger, userName, type JsonSchema } from "../http/schemas.js";

const mlsMessage = (description: string): JsonSchema => b64u(1_500_000, description);
const epoch: JsonSchema = { type: "integer", minimum: 0, description: "MLS epoch" };
const seq: JsonSchema = { type: "integer", minimum: 0, description: "position in a group's log or in the client's direct queue" };
const groupId = b64u(344, "MLS group_id");
const keyPackageRef = b64u(128, "KeyPackageRef (RFC 9420 §5.2)");

export const keyPackageInfo = object({ ref: keyPackageRef, cipherSuite, lastResort: { type: "boolean" }, createdAt: { type: "integer", minimum: 0 } });
export const uploadKeyPackagesRequest = object({ keyPackages: { type: "array", minItems: 1, maxItems: 100, items: mlsMessage("MLSMessage(KeyPackage)") } });
export const keyPackagesResponse = object({ keyPackages: { type: "array", items: keyPackageInfo } });
export const keyPackageCountsResponse = object({
  counts: { type: "array", items: object({ cipherSuite, count: { type: "integer", minimum: 0 }, lastResort: { type: "boolean" } }) },
});
export const keyPackageParams = object({ ref: keyPackageRef });
export const claimRequest = object({ cipherSuites: { type: "array", minItems: 1, maxItems: 8, items: cipherSuite } });
export const claimParams = object({ user: userName });
export const claimResponse = object({
  keyPackages: {
    type: "array",
    items: object({
      identity: { type: "string" },
      device: { type: "string" },
      cipherSuite,
      ref: keyPackageRef,
      keyPackage: mlsMessage("MLSMessage(KeyPackage)"),
      lastResort: { type: "boolean" },
    }),
  },
  missing: { type: "array", items: object({ device: { type: "string" }, cipherSuite }) },
});

export const createGroupRequest = object({ groupId, groupInfo: mlsMessage("MLSMessage(GroupInfo) of epoch 0"), ratchetTree: mlsMessage("the one-leaf ratchet tree") }, [
  "groupId",
  "groupInfo",
]);
export const groupParams = object({ groupId });
export const groupResponse = object({ groupId, epoch, members: { type: "array", items: { type: "string" } }, handshakes: { type: "string", enum: ["public", "private"] } });
export const commitBundleRequest = object(
  {
    commit: mlsMessage("MLSMessage carrying the Commit"),
    welcome: mlsMessage("MLSMessage(Welcome)"),
    groupInfo: mlsMessage("MLSMessage(GroupInfo) of the new epoch, signed by the committer (required unless the group is opaque)"),
  },
  ["commit"],
);
export const leaveGroupResponse = object({ groupId, leftAt: seq });
export const reportCommitRequest = object({ seq, disclosure: b64u(4096, "Group.disclosePrivateMessage of the reported commit") });
export const reportCommitResponse = object({ seq, dropped: { type: "boolean", const: true }, epoch });
export const acceptedResponse = object({ epoch, delivered: { type: "integer", minimum: 0 } });
export const handshakesQuery = object({ sinceEpoch: queryInteger("first epoch"), afterSeq: queryInteger("continue after this log position"), limit: queryInteger("page size") }, []);
export const handshakesResponse = object({
  currentEpoch: epoch,
  messages: { type: "array", items: object({ seq, epoch, contentType: { type: "integer" }, sender: { type: "string" }, message: mlsMessage("MLSMessage") }) },
  more: { type: "boolean" },
});
export const groupInfoResponse = object({ groupId, epoch, groupInfo: mlsMessage("MLSMessage(GroupInfo)"), ratchetTree: b64u(16_000_000, "ratchet tree") });
export const groupTreeQuery = object(
  {
    view: { type: "string", enum: ["full", "partial"] },
    leaf: queryInteger("leaf index (partial view; default: yours)"),
    epoch: queryInteger("an earlier epoch whose Welcome carried no tree"),
  },
  [],
);
export const groupTreeResponse = object({
  groupId,
  epoch,
  treeHash: b64u(128, "tree hash"),
  kind: { type: "string", enum: ["full", "partial"] },
  tree: b64u(16_000_000, "tree or partial view"),
});

export const externalSenderQuery = object({ cipherSuite: queryInteger("cipher suite (default: yours)") }, []);
export const externalSenderResponse = object({
  cipherSuite,
  signatureKey: b64u(200, "the DS's signature public key"),
  extension: b64u(2000, "extension_data of external_senders holding the DS's entry"),
});
export const queueQuery = object({ limit: queryInteger("page size") }, []);
export const queueEntry = object({
  source: { type: "string", enum: ["group", "direct"] },
  seq,
  kind: { type: "string", enum: ["handshake", "application", "welcome"] },
  groupId,
  epoch,
  message: mlsMessage("MLSMessage"),
  createdAt: { type: "integer", minimum: 0 },
});
export const queueCursor = object({
  direct: seq,
  groups: { type: "array", maxItems: 1000, items: object({ groupId, seq }) },
});
export const queueGap = object({ groupId, from: seq, to: seq });
export const queueResponse = object({ messages: { type: "array", items: queueEntry }, cursor: queueCursor, more: { type: "boolean" }, gaps: { type: "array", items: queueGap } });
/** POST /v1/queue/ack: a cursor as a queue page or a stream `position` frame gave it. */
export const ackRequest = { ...queueCursor, description: "AckRequest: a QueueCursor from a queue page or a stream position frame" };
export const ackResponse = object({ acknowledged: { type: "integer", minimum: 0 } });
