/**
 * A group's first public state on the DS: from the GroupInfo its creator
 * uploads with the tree (epoch 0 normally), checked as a joiner would check
 * it (PublicGroup.fromGroupInfo), signed by the posting client's own leaf,
 * for the group of the URL, with a well-formed membership policy.
 */
import { ApiError, readGroupPolicy } from "@conclave/api";
import { bytesEqual, isMlsError, PublicGroup } from "@conclave/mls";
import { requireWithin, resolveLimits } from "./limits.js";
import { publicGroupConfigOf, type HandshakeContext } from "./validateHandshake.js";

/** The same context as a handshake's: the poster, the URL's group, the AS check, the clock, the limits. */
export type CreateStateContext = HandshakeContext;

/**
 * Returns the serialized state to store, and the live group. Errors
 * (ApiError): HANDSHAKE_TOO_LARGE, WRONG_GROUP, SENDER_MISMATCH (not signed
 * by the poster's leaf), POLICY_CHANGE_REFUSED (malformed policy), or the MLS
 * code of a GroupInfo or tree that does not check out (400).
 */
export async function createPublicState(groupInfo: Uint8Array, ratchetTree: Uint8Array | undefined, ctx: CreateStateContext): Promise<{ state: Uint8Array; group: PublicGroup }> {
  const limits = resolveLimits(ctx.limits);
  requireWithin("a GroupInfo", groupInfo, limits.maxGroupInfoBytes);
  if (ratchetTree !== undefined) requireWithin("a ratchet tree", ratchetTree, limits.maxGroupInfoBytes);
  let group: PublicGroup;
  try {
    group = await PublicGroup.fromGroupInfo(ctx.provider, groupInfo, {
      ...(ratchetTree === undefined ? {} : { ratchetTree }),
      config: publicGroupConfigOf(ctx),
    });
  } catch (e) {
    if (isMlsError(e)) throw new ApiError(e.code, e.message, { cause: e });
    throw e;
  }
  if (!bytesEqual(group.groupId, ctx.groupId)) throw new ApiError("WRONG_GROUP", "the GroupInfo is for another group than the URL's");
  const signer = group.findLeafBySignatureKey(ctx.client.signatureKey);
  if (signer === undefined) throw new ApiError("SENDER_MISMATCH", `client ${ctx.client.clientId} is not in the tree it uploads`);
  try {
    readGroupPolicy(group.groupContext.extensions);
  } catch {
    throw new ApiError("POLICY_CHANGE_REFUSED", "the group's policy extension is malformed");
  }
  return { state: group.serialize(), group };
}
