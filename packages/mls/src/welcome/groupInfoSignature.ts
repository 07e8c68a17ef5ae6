/**
 * GroupInfo signing and verification (RFC 9420 §12.4.3):
 *   signature = SignWithLabel(signer's signature_priv, "GroupInfoTBS", GroupInfoTBS)
 * and the decoding of a GroupInfo that keeps the signed bytes and the encoded
 * GroupContext as received, so neither is re-encoded after decryption.
 */
import { asDecodeError, Reader, returnScratch } from "../codec/tls.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { extensionsCodec } from "../messages/extension.js";
import { groupContextCodec } from "../messages/groupContext.js";
import { groupInfoTbsBytes, groupInfoTbsWriter, type GroupInfo, type GroupInfoTBS } from "../messages/groupInfo.js";
import type { LeafIndex } from "../tree/treeMath.js";

export const GROUP_INFO_TBS_LABEL = "GroupInfoTBS";

/** A GroupInfo with the byte ranges that matter: GroupInfoTBS (signed) and the GroupContext (used by the key schedule). */
export interface DecodedGroupInfo {
  readonly groupInfo: GroupInfo;
  /** The encoded GroupInfoTBS: every field but the signature. */
  readonly tbs: Uint8Array;
  /** The encoded GroupContext (GroupContext_[n] of §8). */
  readonly groupContext: Uint8Array;
}

/** Decodes an encoded GroupInfo (not wrapped in MLSMessage), keeping the TBS and GroupContext bytes. */
export function decodeGroupInfo(bytes: Uint8Array): DecodedGroupInfo {
  const r = new Reader(bytes);
  try {
    const groupContext = groupContextCodec.decode(r);
    const gcEnd = r.offset;
    const extensions = extensionsCodec.decode(r);
    const confirmationTag = r.opaque();
    const signer = r.u32() as LeafIndex;
    const tbsEnd = r.offset;
    const signature = r.opaque();
    r.expectEnd();
    return {
      groupInfo: { groupContext, extensions, confirmationTag, signer, signature },
      tbs: bytes.slice(0, tbsEnd),
      groupContext: bytes.slice(0, gcEnd),
    };
  } catch (e) {
    throw asDecodeError(e);
  }
}

/** Signs a GroupInfoTBS with the signer's key (§12.4.3). */
export async function signGroupInfo(suite: CipherSuite, signaturePrivateKey: Uint8Array, tbs: GroupInfoTBS): Promise<GroupInfo> {
  // The TBS is signed where it was written (lent scratch, no copy), and handed back once signed.
  const bytes = groupInfoTbsWriter(tbs).lend();
  let signature: Uint8Array;
  try {
    signature = await suite.signWithLabel(signaturePrivateKey, GROUP_INFO_TBS_LABEL, bytes);
  } finally {
    returnScratch(bytes);
  }
  return { groupContext: tbs.groupContext, extensions: tbs.extensions, confirmationTag: tbs.confirmationTag, signer: tbs.signer, signature };
}

/** Whether a GroupInfo's signature verifies under `signaturePublicKey`. Pass a DecodedGroupInfo to reuse the received TBS bytes. */
export function verifyGroupInfoSignature(suite: CipherSuite, signaturePublicKey: Uint8Array, groupInfo: GroupInfo | DecodedGroupInfo): Promise<boolean> {
  const [gi, tbs] = "tbs" in groupInfo ? [groupInfo.groupInfo, groupInfo.tbs] : [groupInfo, groupInfoTbsBytes(groupInfo)];
  return suite.verifyWithLabel(signaturePublicKey, GROUP_INFO_TBS_LABEL, tbs, gi.signature);
}

/** As {@link verifyGroupInfoSignature}, throwing GROUP_INFO_INVALID_SIGNATURE when it does not verify. */
export async function requireGroupInfoSignature(suite: CipherSuite, signaturePublicKey: Uint8Array, groupInfo: GroupInfo | DecodedGroupInfo): Promise<void> {
  if (!(await verifyGroupInfoSignature(suite, signaturePublicKey, groupInfo))) {
    throw new MlsError("GROUP_INFO_INVALID_SIGNATURE", "GroupInfo signature does not verify");
  }
}
