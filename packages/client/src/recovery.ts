/**
 * Recovery after local state loss (RFC 9750 §6.6): rejoin a group by external
 * commit from the GroupInfo the DS keeps, removing the leaf our lost state
 * occupied (resync, RFC 9420 §12.4.3.2). Messages of the epochs we lost stay
 * unreadable.
 */
import { ApiError, fromBase64Url, toBase64Url, type AcceptedResponse, type GroupInfoResponse } from "@conclave/api";
import { decode, Group, mlsMessageCodec, PublicRatchetTree, WireFormat } from "@conclave/mls";
import type { ClientContext } from "./context.js";
import { GROUP_CONFIG, LEAF_CAPABILITIES } from "./groupBook.js";
import { retryOnEpochMismatch, type GroupCommits } from "./groupCommits.js";

/** Rejoins `groupId`, stores the new group state and returns it. */
export async function rejoinByExternalCommit(ctx: ClientContext, commits: GroupCommits, groupId: string): Promise<Group> {
  const signing = ctx.session.signing();
  const group = await retryOnEpochMismatch(
    `rejoining ${groupId}`,
    async () => {
      const info = await ctx.session.call<GroupInfoResponse>("groupInfo", { params: { groupId } });
      const giBytes = fromBase64Url(info.groupInfo);
      const m = decode(mlsMessageCodec, giBytes);
      if (m.wireFormat !== WireFormat.groupInfo) throw new ApiError("UNEXPECTED_WIRE_FORMAT", "the DS returned no GroupInfo");
      // The DS's tree; joinExternal checks it against the GroupInfo's tree hash.
      const given = fromBase64Url(info.ratchetTree);
      // Our old leaf is the one with our signature key: the identity survived, only the group state was lost.
      const old = PublicRatchetTree.decode(ctx.provider.suite(m.groupInfo.groupContext.cipherSuite), given).findLeafBySignatureKey(signing.signaturePublicKey);
      const { group, commit, groupInfo } = await Group.joinExternal(giBytes, {
        provider: ctx.provider,
        identity: signing,
        capabilities: LEAF_CAPABILITIES,
        ratchetTree: given,
        ...(old === undefined ? {} : { removeLeaf: old }),
        config: GROUP_CONFIG,
      });
      await ctx.session.call<AcceptedResponse>("postCommit", {
        params: { groupId },
        json: { commit: toBase64Url(commit), groupInfo: toBase64Url(groupInfo) },
      });
      return group;
    },
    // Another commit came first: the GroupInfo is stale, the next attempt fetches the new one.
    async () => void commits.conflicts++,
  );
  await ctx.groups.set(groupId, group);
  return group;
}
