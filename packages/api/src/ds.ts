/**
 * The JSON contract of the Delivery Service routes (RFC 9750 §5): KeyPackage
 * directory, groups with strong commit ordering, client queues and the
 * WebSocket stream. Byte strings are unpadded base64url; MLS messages inside
 * JSON are whole MLSMessage encodings. Epochs are JSON numbers (< 2^53).
 */
import type { B64u } from "./routes.js";
import type { ErrorCode } from "./errors.js";
import type { DeviceChange } from "./accounts.js";

/**
 * The Delivery Service routes, method and path each (`:name` marks a path parameter).
 * Their 4xx answers carry an {@link ErrorCode}; the OpenAPI document (GET /v1/openapi.json) lists them per operation.
 */
export const DS_ROUTES = {
  uploadKeyPackages: { method: "POST", path: "/v1/key-packages" },
  listKeyPackages: { method: "GET", path: "/v1/key-packages" },
  countKeyPackages: { method: "GET", path: "/v1/key-packages/count" },
  deleteKeyPackage: { method: "DELETE", path: "/v1/key-packages/:ref" },
  claimKeyPackages: { method: "POST", path: "/v1/users/:user/key-packages/claim" },
  createGroup: { method: "POST", path: "/v1/groups" },
  getGroup: { method: "GET", path: "/v1/groups/:groupId" },
  postMessage: { method: "POST", path: "/v1/groups/:groupId/messages" },
  postCommit: { method: "POST", path: "/v1/groups/:groupId/commits" },
  handshakes: { method: "GET", path: "/v1/groups/:groupId/handshakes" },
  reportCommit: { method: "POST", path: "/v1/groups/:groupId/reports" },
  leaveGroup: { method: "POST", path: "/v1/groups/:groupId/leave" },
  groupInfo: { method: "GET", path: "/v1/groups/:groupId/group-info" },
  groupTree: { method: "GET", path: "/v1/groups/:groupId/tree" },
  externalSender: { method: "GET", path: "/v1/ds/external-sender" },
  fetchQueue: { method: "GET", path: "/v1/queue" },
  ackQueue: { method: "POST", path: "/v1/queue/ack" },
} as const;

/** The WebSocket push stream (not an OpenAPI operation: see StreamServerFrame). */
export const DS_STREAM_PATH = "/v1/stream";

// POST /v1/key-packages (bearer)
/** POST /v1/key-packages (bearer): KeyPackages of the calling client to publish. */
export interface UploadKeyPackagesRequest {
  /** MLSMessage(KeyPackage) each, signed with the uploading client's signature key. */
  keyPackages: B64u[];
}
/** A KeyPackage the DS holds for the calling client. */
export interface KeyPackageInfo {
  /** KeyPackageRef (RFC 9420 §5.2). */
  ref: B64u;
  cipherSuite: number;
  lastResort: boolean;
  createdAt: number;
}
/** 201 answer to POST /v1/key-packages: the KeyPackages stored. */
export interface UploadKeyPackagesResponse {
  keyPackages: KeyPackageInfo[];
}
// GET /v1/key-packages (bearer)
/** GET /v1/key-packages (bearer): the calling client's unclaimed KeyPackages. */
export interface ListKeyPackagesResponse {
  keyPackages: KeyPackageInfo[];
}
// GET /v1/key-packages/count (bearer)
/** GET /v1/key-packages/count (bearer): how many KeyPackages the calling client has left, per cipher suite. */
export interface KeyPackageCountsResponse {
  /** Per suite: unclaimed ordinary KeyPackages, and whether a last-resort one is there. */
  counts: { cipherSuite: number; count: number; lastResort: boolean }[];
}
// POST /v1/users/:user/key-packages/claim (bearer)
/** POST /v1/users/:user/key-packages/claim (bearer): one KeyPackage per device of :user, in the first of these suites it has. */
export interface ClaimKeyPackagesRequest {
  cipherSuites: number[];
}
/** A claimed KeyPackage (removed from the directory unless it is the device's last-resort one). */
export interface ClaimedKeyPackage {
  identity: string;
  device: string;
  cipherSuite: number;
  ref: B64u;
  keyPackage: B64u;
  lastResort: boolean;
}
/** Answer to a claim: a KeyPackage per device that had one. */
export interface ClaimKeyPackagesResponse {
  keyPackages: ClaimedKeyPackage[];
  /** Device and suite pairs for which nothing was left. */
  missing: { device: string; cipherSuite: number }[];
}

// POST /v1/groups (bearer)
/** POST /v1/groups (bearer): registers a new group at epoch 0 with its creator as the only member. */
export interface CreateGroupRequest {
  groupId: B64u;
  /** MLSMessage(GroupInfo) of epoch 0, signed by the creator: the DS's first public state of the group. */
  groupInfo: B64u;
  /** The one-leaf ratchet tree, when the GroupInfo does not carry it in its ratchet_tree extension. */
  ratchetTree?: B64u;
}
/** A group as the DS knows it: epoch and roster (POST /v1/groups, GET /v1/groups/:groupId). */
export interface GroupResponse {
  groupId: B64u;
  epoch: number;
  /** Client identities of the DS roster. */
  members: string[];
  /** "private": an opaque group (RFC 9750 §5.3), whose handshakes the DS cannot read. */
  handshakes: "public" | "private";
}

// POST /v1/groups/:groupId/commits (bearer)
/** POST /v1/groups/:groupId/commits (bearer, a member): a commit with its Welcome and the new epoch's GroupInfo. */
export interface CommitBundleRequest {
  /** MLSMessage(PublicMessage) carrying the Commit: the DS validates it against its public state of the group. */
  commit: B64u;
  /** MLSMessage(Welcome) naming exactly the KeyPackages the commit adds; it goes to their clients only. */
  welcome?: B64u;
  /**
   * MLSMessage(GroupInfo) of the new epoch, signed by the committer; its tree hash must match the DS's tree after the commit.
   * Required for validated groups; optional in opaque ones, where it anchors the epoch's GroupContext for reports.
   */
  groupInfo?: B64u;
}

// POST /v1/groups/:groupId/leave (bearer, a member of an opaque group)
/**
 * The DS cannot see an opaque group's removals: a member removed by a commit (or
 * leaving by SelfRemove) takes itself off the DS roster once it has seen the commit.
 */
export interface LeaveGroupResponse {
  groupId: B64u;
  /** The last log position the client still reads. */
  leftAt: number;
}

// POST /v1/groups/:groupId/reports (bearer, a member of an opaque group)
/** A commit of an opaque group that the reporting member cannot apply, with the proof (RFC 9750 §5.3). */
export interface ReportCommitRequest {
  /** The commit's position in the group's log. */
  seq: number;
  /** Group.disclosePrivateMessage of that commit: the keys of that one message and the epoch's GroupContext. */
  disclosure: B64u;
}
/** The report was proven: the commit is dropped from the log (no reader receives it any more). */
export interface ReportCommitResponse {
  seq: number;
  dropped: true;
  /** The group's epoch after the drop (it steps back when the dropped commit was the only one of its epoch). */
  epoch: number;
}
/** 201 answer to an accepted message or commit (the DS ordered it, RFC 9750 §5.2). */
export interface AcceptedResponse {
  /** The group's epoch after this message. */
  epoch: number;
  /** Deliveries: the members (other than the sender) and new members the message was made available to. */
  delivered: number;
}

// GET /v1/groups/:groupId/handshakes?sinceEpoch=N&afterSeq=S&limit=L (bearer, members)
/** One handshake message (proposal or commit) of a group's log. */
export interface HandshakeJson {
  /** Position in the group's log. */
  seq: number;
  epoch: number;
  contentType: number;
  sender: string;
  message: B64u;
}
/** GET /v1/groups/:groupId/handshakes (bearer, members): a page of the group's handshake log. */
export interface HandshakesResponse {
  currentEpoch: number;
  messages: HandshakeJson[];
  /** The page was cut (by count or bytes): ask again with afterSeq = the last seq. */
  more: boolean;
}

// GET /v1/groups/:groupId/group-info (bearer)
/** GET /v1/groups/:groupId/group-info (bearer): the latest GroupInfo, for external joins (RFC 9420 §12.4.3.2). */
export interface GroupInfoResponse {
  groupId: B64u;
  epoch: number;
  groupInfo: B64u;
  /** The ratchet tree of that epoch, from the DS's validated state (RFC 9420 §12.4.3.3 encoding). */
  ratchetTree: B64u;
}

// GET /v1/ds/external-sender?cipherSuite= (bearer)
/** The DS as an external sender (RFC 9420 §12.1.8.1): it proposes the removal of revoked clients in groups that list it. */
export interface ExternalSenderResponse {
  cipherSuite: number;
  signatureKey: B64u;
  /** extension_data of an external_senders extension (RFC 9420 §12.1.8.1) holding the DS's entry alone. */
  extension: B64u;
}

// GET /v1/groups/:groupId/tree?leaf= (bearer; members, or anyone in an open group)
/** GET /v1/groups/:groupId/tree (bearer): the group's ratchet tree, or one leaf's partial view of it. */
export interface GroupTreeResponse {
  groupId: B64u;
  epoch: number;
  /** The tree hash to check the view against (the GroupContext's tree_hash of a GroupInfo you verified). */
  treeHash: B64u;
  /** "full": the whole ratchet tree (RFC 9420 §12.4.3.3); "partial": a PartialTreeView of one leaf (draft-ietf-mls-partial). */
  kind: "full" | "partial";
  tree: B64u;
}

// GET /v1/queue?limit= (bearer); also the frames of /v1/stream
/** What a queue entry holds: a proposal or commit, an application message, or a Welcome. */
export type QueueKindJson = "handshake" | "application" | "welcome";
/**
 * Where an entry lives (DESIGN: DS delivery). "group": stored once in the group's
 * log at position `seq` (gap-free, in the order the DS accepted the messages);
 * every member reads it through its own cursor. "direct": addressed to this client
 * alone (a Welcome), position `seq` in the client's direct queue.
 */
export type QueueSourceJson = "group" | "direct";
/** One message waiting for a client (GET /v1/queue, /v1/stream frames). */
export interface QueueEntryJson {
  source: QueueSourceJson;
  seq: number;
  kind: QueueKindJson;
  groupId: B64u;
  epoch: number;
  message: B64u;
  createdAt: number;
}
/**
 * A read position: the last direct entry and, per group, the last log position
 * covered. Handing it back (POST /v1/queue/ack) acknowledges everything up to it;
 * positions only move forward, so an old or repeated acknowledgement is harmless.
 */
export interface QueueCursor {
  direct: number;
  groups: { groupId: B64u; seq: number }[];
}
/** Messages of a group that retention deleted before this client read them. */
export interface QueueGap {
  groupId: B64u;
  /** The first and last lost positions. */
  from: number;
  to: number;
}
/** GET /v1/queue (bearer): a page of the calling client's unread messages. */
export interface QueueResponse {
  messages: QueueEntryJson[];
  /** Acknowledge this after processing the page (it also covers your own messages, which are not sent back). */
  cursor: QueueCursor;
  /** More entries are waiting: fetch again after acknowledging. */
  more: boolean;
  gaps: QueueGap[];
}
// POST /v1/queue/ack (bearer)
/** POST /v1/queue/ack (bearer): acknowledges everything up to this cursor. */
export type AckRequest = QueueCursor;
/** Answer to POST /v1/queue/ack. */
export interface AckResponse {
  /** Entries (direct) and positions (group) newly acknowledged. */
  acknowledged: number;
}

/**
 * /v1/stream (WebSocket; `Authorization: Bearer` header or `?token=`): the server
 * sends every unacknowledged entry, then each new one as it arrives, as
 * `{ "type": "message", "entry": QueueEntryJson }`, and after each batch a
 * `{ "type": "position", "cursor": QueueCursor }` the client may acknowledge with
 * `{ "type": "ack", "cursor": QueueCursor }`.
 */
export type StreamServerFrame =
  | { type: "message"; entry: QueueEntryJson }
  | { type: "position"; cursor: QueueCursor; gaps: QueueGap[] }
  | { type: "acked"; acknowledged: number }
  /** A device added to or revoked from the client's account (issue 23); the same entry as GET /v1/users/:user/device-changes. */
  | { type: "device"; change: DeviceChange }
  /** A client frame the DS refused (BAD_REQUEST: not a known frame; RATE_LIMITED: too many); the connection stays open. */
  | { type: "error"; error: { code: ErrorCode; message: string } };
/** What a client may send on /v1/stream: an acknowledgement (answered with an `acked` frame). */
export type StreamClientFrame = { type: "ack"; cursor: QueueCursor };
