/** The DS routes (RFC 9750 §5), defined through the route registry so they appear in the OpenAPI document. */
import {
  ApiError,
  DS_ROUTES,
  type AckRequest,
  type AckResponse,
  type AcceptedResponse,
  type ClaimKeyPackagesRequest,
  type ClaimKeyPackagesResponse,
  type CommitBundleRequest,
  type CreateGroupRequest,
  type GroupInfoResponse,
  type GroupResponse,
  type GroupTreeResponse,
  type ExternalSenderResponse,
  type HandshakesResponse,
  type KeyPackageCountsResponse,
  type ListKeyPackagesResponse,
  type LeaveGroupResponse,
  type QueueResponse,
  type ReportCommitRequest,
  type ReportCommitResponse,
  type UploadKeyPackagesRequest,
  type UploadKeyPackagesResponse,
} from "@conclave/api";
import { clientOf, intParam, type ConclaveContext } from "../http/context.js";
import type { GroupDelivery } from "./groupDelivery.js";
import type { KeyPackageDirectory } from "./keyPackageDirectory.js";
import type { TreeViewRequest } from "./publicState/index.js";
import type { QueueDelivery } from "./queueDelivery.js";
import * as S from "./schemas.js";

export interface DsServices {
  readonly keyPackages: KeyPackageDirectory;
  readonly groups: GroupDelivery;
  readonly queues: QueueDelivery;
}

export function deliveryServiceRoutes(ctx: ConclaveContext, ds: DsServices): void {
  const { routes, limits } = ctx;
  const big = Math.ceil(limits.mlsBodyBytes * 1.4) + 1024; // base64url of MLS bytes inside JSON

  routes.define<UploadKeyPackagesRequest>(
    {
      method: "POST",
      url: DS_ROUTES.uploadKeyPackages.path,
      operationId: "uploadKeyPackages",
      summary: "Upload a batch of your KeyPackages (all verified, stored atomically)",
      tags: ["ds"],
      auth: true,
      body: S.uploadKeyPackagesRequest,
      bodyLimit: big,
      responses: { 201: S.keyPackagesResponse },
    },
    async (req, reply): Promise<UploadKeyPackagesResponse> => {
      const keyPackages = await ds.keyPackages.upload(clientOf(req), req.body.keyPackages);
      void reply.code(201);
      return { keyPackages };
    },
  );
  routes.define(
    {
      method: "GET",
      url: DS_ROUTES.listKeyPackages.path,
      operationId: "listKeyPackages",
      summary: "Your unclaimed KeyPackages",
      tags: ["ds"],
      auth: true,
      responses: { 200: S.keyPackagesResponse },
    },
    async (req): Promise<ListKeyPackagesResponse> => ({ keyPackages: await ds.keyPackages.list(clientOf(req)) }),
  );
  routes.define(
    {
      method: "GET",
      url: DS_ROUTES.countKeyPackages.path,
      operationId: "countKeyPackages",
      summary: "How many unclaimed KeyPackages you have per cipher suite",
      tags: ["ds"],
      auth: true,
      responses: { 200: S.keyPackageCountsResponse },
    },
    async (req): Promise<KeyPackageCountsResponse> => ds.keyPackages.counts(clientOf(req)),
  );
  routes.define<unknown, unknown, { ref: string }>(
    {
      method: "DELETE",
      url: DS_ROUTES.deleteKeyPackage.path,
      operationId: "deleteKeyPackage",
      summary: "Delete one of your unclaimed KeyPackages",
      tags: ["ds"],
      auth: true,
      params: S.keyPackageParams,
      responses: { 204: null },
    },
    async (req, reply) => {
      await ds.keyPackages.delete(clientOf(req), req.params.ref);
      return reply.code(204).send();
    },
  );
  routes.define<ClaimKeyPackagesRequest, unknown, { user: string }>(
    {
      method: "POST",
      url: DS_ROUTES.claimKeyPackages.path,
      operationId: "claimKeyPackages",
      summary: "Claim one KeyPackage per device of a user and per cipher suite (consumed, except last-resort ones)",
      tags: ["ds"],
      auth: true,
      params: S.claimParams,
      body: S.claimRequest,
      responses: { 200: S.claimResponse },
    },
    async (req): Promise<ClaimKeyPackagesResponse> => {
      clientOf(req);
      return ds.keyPackages.claim(req.params.user, req.body.cipherSuites, clientOf(req));
    },
  );

  routes.define<CreateGroupRequest>(
    {
      method: "POST",
      url: DS_ROUTES.createGroup.path,
      operationId: "createGroup",
      summary: "Create a group from its epoch-0 GroupInfo, with you as its only member",
      tags: ["ds"],
      auth: true,
      body: S.createGroupRequest,
      bodyLimit: big,
      responses: { 201: S.groupResponse },
    },
    async (req, reply): Promise<GroupResponse> => {
      const g = await ds.groups.create(clientOf(req), req.body);
      void reply.code(201);
      return g;
    },
  );
  routes.define<unknown, unknown, { groupId: string }>(
    {
      method: "GET",
      url: DS_ROUTES.getGroup.path,
      operationId: "getGroup",
      summary: "A group's epoch and roster (members only)",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      responses: { 200: S.groupResponse },
    },
    async (req): Promise<GroupResponse> => ds.groups.get(clientOf(req), req.params.groupId),
  );
  routes.define<Uint8Array, unknown, { groupId: string }>(
    {
      method: "POST",
      url: DS_ROUTES.postMessage.path,
      operationId: "postMessage",
      summary: "An application message (PrivateMessage) or a proposal (PublicMessage, validated); 409 with currentEpoch when stale",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      bodyContentType: "message/mls",
      responses: { 202: S.acceptedResponse },
    },
    async (req, reply): Promise<AcceptedResponse> => {
      if (!(req.body instanceof Uint8Array)) throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "this route takes a message/mls body");
      const r = await ds.groups.postMessage(clientOf(req), req.params.groupId, req.body);
      void reply.code(202);
      return r;
    },
  );
  routes.define<CommitBundleRequest, unknown, { groupId: string }>(
    {
      method: "POST",
      url: DS_ROUTES.postCommit.path,
      operationId: "postCommit",
      summary: "A commit bundle (PublicMessage commit + GroupInfo + Welcome), validated against the group's state and accepted atomically for the current epoch only",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      body: S.commitBundleRequest,
      bodyLimit: big,
      responses: { 202: S.acceptedResponse },
    },
    async (req, reply): Promise<AcceptedResponse> => {
      const r = await ds.groups.postCommitBundle(clientOf(req), req.params.groupId, req.body);
      void reply.code(202);
      return r;
    },
  );
  routes.define<unknown, unknown, { groupId: string }>(
    {
      method: "POST",
      url: DS_ROUTES.leaveGroup.path,
      operationId: "leaveGroup",
      summary: "Opaque groups: take yourself off the DS roster after the commit that removed you (the DS cannot see it)",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      responses: { 200: S.leaveGroupResponse },
    },
    async (req): Promise<LeaveGroupResponse> => ds.groups.leave(clientOf(req), req.params.groupId),
  );
  routes.define<ReportCommitRequest, unknown, { groupId: string }>(
    {
      method: "POST",
      url: DS_ROUTES.reportCommit.path,
      operationId: "reportCommit",
      summary: "Opaque groups (RFC 9750 §5.3): report a commit you cannot apply, with the disclosure of that one message; proven, it is dropped",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      body: S.reportCommitRequest,
      responses: { 200: S.reportCommitResponse },
    },
    async (req): Promise<ReportCommitResponse> => ds.groups.report(clientOf(req), req.params.groupId, req.body),
  );
  routes.define<unknown, { sinceEpoch?: string; afterSeq?: string; limit?: string }, { groupId: string }>(
    {
      method: "GET",
      url: DS_ROUTES.handshakes.path,
      operationId: "handshakes",
      summary: "Accepted handshake messages since an epoch (catch up after losing a race); pages capped in count and bytes",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      querystring: S.handshakesQuery,
      responses: { 200: S.handshakesResponse },
    },
    async (req): Promise<HandshakesResponse> =>
      ds.groups.handshakes(clientOf(req), req.params.groupId, intParam(req.query.sinceEpoch, 0), intParam(req.query.afterSeq, 0), intParam(req.query.limit, 1000)),
  );
  routes.define<unknown, unknown, { groupId: string }>(
    {
      method: "GET",
      url: DS_ROUTES.groupInfo.path,
      operationId: "groupInfo",
      summary: "The latest GroupInfo and ratchet tree (members; outsiders only for a group open to external joins)",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      responses: { 200: S.groupInfoResponse },
    },
    async (req): Promise<GroupInfoResponse> => ds.groups.groupInfo(clientOf(req), req.params.groupId),
  );
  routes.define<unknown, { view?: "full" | "partial"; leaf?: string; epoch?: string }, { groupId: string }>(
    {
      method: "GET",
      url: DS_ROUTES.groupTree.path,
      operationId: "groupTree",
      summary: "The group's ratchet tree, or one leaf's partial view (direct path, resolved copath, leaves)",
      tags: ["ds"],
      auth: true,
      params: S.groupParams,
      querystring: S.groupTreeQuery,
      responses: { 200: S.groupTreeResponse },
    },
    async (req): Promise<GroupTreeResponse> => {
      const view: TreeViewRequest = req.query.view === "partial" ? { kind: "partial", ...(req.query.leaf === undefined ? {} : { leaf: intParam(req.query.leaf, 0) }) } : { kind: "full" };
      return ds.groups.tree(clientOf(req), req.params.groupId, view, req.query.epoch === undefined ? undefined : intParam(req.query.epoch, 0));
    },
  );

  routes.define<unknown, { cipherSuite?: string }>(
    {
      method: "GET",
      url: DS_ROUTES.externalSender.path,
      operationId: "externalSender",
      summary: "The DS's external_senders entry for a cipher suite: list it in a group to let the DS propose removals of revoked clients",
      tags: ["ds"],
      auth: true,
      querystring: S.externalSenderQuery,
      responses: { 200: S.externalSenderResponse },
    },
    async (req): Promise<ExternalSenderResponse> => {
      clientOf(req);
      return ds.groups.externalSender(intParam(req.query.cipherSuite, clientOf(req).cipherSuite));
    },
  );
  routes.define<unknown, { limit?: string }>(
    {
      method: "GET",
      url: DS_ROUTES.fetchQueue.path,
      operationId: "fetchQueue",
      summary: "What you have not acknowledged: Welcomes, then your groups' messages (pages capped in count and bytes)",
      tags: ["ds"],
      auth: true,
      querystring: S.queueQuery,
      responses: { 200: S.queueResponse },
    },
    async (req): Promise<QueueResponse> => {
      const page = await ds.queues.fetch(clientOf(req).id, intParam(req.query.limit, 100));
      return { messages: page.entries, cursor: page.cursor, more: page.more, gaps: page.gaps };
    },
  );
  routes.define<AckRequest>(
    {
      method: "POST",
      url: DS_ROUTES.ackQueue.path,
      operationId: "ackQueue",
      summary: "Acknowledge up to a cursor from a page: Welcomes are deleted, group cursors move forward",
      tags: ["ds"],
      auth: true,
      body: S.ackRequest,
      responses: { 200: S.ackResponse },
    },
    async (req): Promise<AckResponse> => ({ acknowledged: await ds.queues.ack(clientOf(req).id, req.body) }),
  );
}
