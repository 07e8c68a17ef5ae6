/**
 * Clients only ever talk to their home server (issue 22): a request of a
 * local user for a group another domain is the hub of is forwarded there over
 * signed S2S (`POST /federation/v1/groups/act`), where the hub runs it as that
 * user's stand-in (remoteMembers.ts) through its own DS, with every check a
 * local client gets (membership, the sender's leaf, epoch ordering: a stale
 * commit gets 409 EPOCH_MISMATCH with the hub's epoch, relayed as is). A hub
 * that does not answer is FEDERATION_PEER_UNAVAILABLE (503, temporary).
 */
import {
  ApiError,
  fromBase64Url,
  toBase64Url,
  type AcceptedResponse,
  type CommitBundleRequest,
  type CreateGroupRequest,
  type ExternalSenderResponse,
  type GroupInfoResponse,
  type GroupResponse,
  type GroupTreeResponse,
  type HandshakesResponse,
  type LeaveGroupResponse,
  type ReportCommitRequest,
  type ReportCommitResponse,
} from "@conclave/api";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import { groupIdParam, type GroupDelivery, type GroupOps } from "../ds/groupDelivery.js";
import type { TreeViewRequest } from "../ds/publicState/index.js";
import type { ClientRecord, Store } from "../storage/store.js";
import type { RemoteMembers } from "./remoteMembers.js";
import type { FederationService } from "./service.js";

/** What a follower asks its hub to do for one of its users. */
export type GroupAct =
  | { readonly op: "get" }
  | { readonly op: "message"; readonly message: string }
  | { readonly op: "commit"; readonly bundle: CommitBundleRequest }
  | { readonly op: "handshakes"; readonly sinceEpoch: number; readonly afterSeq: number; readonly limit: number }
  | { readonly op: "groupInfo" }
  | { readonly op: "tree"; readonly view: TreeViewRequest; readonly epoch?: number }
  | { readonly op: "leave" }
  | { readonly op: "report"; readonly report: ReportCommitRequest };

export type GroupActRequest = GroupAct & { readonly groupId: string; readonly identity: string; readonly signatureKey: string };

export class FederatedGroups implements GroupOps {
  constructor(
    private readonly local: GroupDelivery,
    private readonly fed: FederationService,
    private readonly store: Store,
  ) {}

  /** The hub to forward to, or undefined when the group is this server's (or unknown: the local answer says so). */
  private async hubOf(groupIdText: string): Promise<string | undefined> {
    const groupId = groupIdParam(groupIdText);
    if ((await this.store.groups.get(groupId)) !== undefined) return undefined;
    const hub = await this.fed.store.hubOf(groupId);
    return hub === this.fed.domain ? undefined : hub;
  }

  private forward<T>(hub: string, client: AuthenticatedClient, groupId: string, act: GroupAct): Promise<T> {
    const req: GroupActRequest = { ...act, groupId, identity: client.identity, signatureKey: toBase64Url(client.signatureKey) };
    return this.fed.client.request<T>(hub, "POST", "/federation/v1/groups/act", req);
  }

  /** Runs `local` when the group is this server's, else forwards `act()` to its hub (built only then: a message's base64). */
  private async route<T>(client: AuthenticatedClient, groupId: string, local: () => Promise<T>, act: () => GroupAct): Promise<T> {
    const hub = await this.hubOf(groupId);
    return hub === undefined ? local() : this.forward(hub, client, groupId, act());
  }

  create(client: AuthenticatedClient, req: CreateGroupRequest): Promise<GroupResponse> {
    return this.local.create(client, req);
  }

  get(client: AuthenticatedClient, groupId: string): Promise<GroupResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.get(client, groupId),
      () => ({ op: "get" }),
    );
  }

  postMessage(client: AuthenticatedClient, groupId: string, bytes: Uint8Array): Promise<AcceptedResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.postMessage(client, groupId, bytes),
      () => ({ op: "message", message: toBase64Url(bytes) }),
    );
  }

  postCommitBundle(client: AuthenticatedClient, groupId: string, req: CommitBundleRequest): Promise<AcceptedResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.postCommitBundle(client, groupId, req),
      () => ({ op: "commit", bundle: req }),
    );
  }

  handshakes(client: AuthenticatedClient, groupId: string, sinceEpoch: number, afterSeq: number, limit: number): Promise<HandshakesResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.handshakes(client, groupId, sinceEpoch, afterSeq, limit),
      () => ({ op: "handshakes", sinceEpoch, afterSeq, limit }),
    );
  }

  groupInfo(client: AuthenticatedClient, groupId: string): Promise<GroupInfoResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.groupInfo(client, groupId),
      () => ({ op: "groupInfo" }),
    );
  }

  tree(client: AuthenticatedClient, groupId: string, view: TreeViewRequest, epoch?: number): Promise<GroupTreeResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.tree(client, groupId, view, epoch),
      () => ({ op: "tree", view, ...(epoch === undefined ? {} : { epoch }) }),
    );
  }

  leave(client: AuthenticatedClient, groupId: string): Promise<LeaveGroupResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.leave(client, groupId),
      () => ({ op: "leave" }),
    );
  }

  report(client: AuthenticatedClient, groupId: string, report: ReportCommitRequest): Promise<ReportCommitResponse> {
    return this.route(
      client,
      groupId,
      () => this.local.report(client, groupId, report),
      () => ({ op: "report", report }),
    );
  }

  externalSender(suite: number): Promise<ExternalSenderResponse> {
    return this.local.externalSender(suite);
  }

  revokeClient(revoked: ClientRecord): Promise<number> {
    return this.local.revokeClient(revoked);
  }
}

const int = (v: unknown, what: string): number => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new ApiError("BAD_REQUEST", `${what}: expected a non-negative integer`);
  return v as number;
};

/** The hub side of `POST /federation/v1/groups/act`: runs the act as the follower user's stand-in. */
export async function runGroupAct(local: GroupDelivery, members: RemoteMembers, peer: string, body: unknown): Promise<unknown> {
  const b = body as Partial<GroupActRequest> & Record<string, unknown>;
  if (typeof b?.groupId !== "string" || typeof b.identity !== "string" || typeof b.signatureKey !== "string" || typeof b.op !== "string") {
    throw new ApiError("BAD_REQUEST", "malformed group act");
  }
  const actor = await members.actor(peer, b.identity, fromBase64Url(b.signatureKey, "signatureKey"));
  const g = b.groupId;
  switch (b.op) {
    case "get":
      return local.get(actor, g);
    case "message":
      return local.postMessage(actor, g, fromBase64Url(String(b.message), "message"));
    case "commit": {
      const x = (b.bundle ?? {}) as Partial<CommitBundleRequest>;
      // groupInfo is optional on the wire (opaque groups); a validated group still requires it.
      if (typeof x.commit !== "string" || (x.groupInfo !== undefined && typeof x.groupInfo !== "string") || (x.welcome !== undefined && typeof x.welcome !== "string"))
        throw new ApiError("BAD_REQUEST", "malformed bundle");
      return local.postCommitBundle(actor, g, {
        commit: x.commit,
        ...(x.groupInfo === undefined ? {} : { groupInfo: x.groupInfo }),
        ...(x.welcome === undefined ? {} : { welcome: x.welcome }),
      });
    }
    case "handshakes":
      return local.handshakes(actor, g, int(b.sinceEpoch, "sinceEpoch"), int(b.afterSeq, "afterSeq"), int(b.limit, "limit"));
    case "groupInfo":
      return local.groupInfo(actor, g);
    case "tree": {
      const v = b.view as { kind?: unknown; leaf?: unknown } | undefined;
      const view: TreeViewRequest = v?.kind === "partial" ? { kind: "partial", ...(v.leaf === undefined ? {} : { leaf: int(v.leaf, "leaf") }) } : { kind: "full" };
      return local.tree(actor, g, view, b.epoch === undefined ? undefined : int(b.epoch, "epoch"));
    }
    case "leave":
      return local.leave(actor, g);
    case "report": {
      const r = (b.report ?? {}) as Partial<ReportCommitRequest>;
      if (typeof r.disclosure !== "string") throw new ApiError("BAD_REQUEST", "malformed report");
      return local.report(actor, g, { seq: int(r.seq, "seq"), disclosure: r.disclosure });
    }
    default:
      throw new ApiError("BAD_REQUEST", "unknown group act");
  }
}
