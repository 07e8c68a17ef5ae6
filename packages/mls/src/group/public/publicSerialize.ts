/**
 * A PublicGroupState as versioned bytes, so a DS can store it and pick it up
 * in another process. Nothing in it is secret; store it integrity-protected
 * (the DS trusts it as its own), and encrypted if the tree's metadata matters.
 *
 * Layout (TLS presentation language, varint vectors):
 *   "MLSP" || uint8 version (1) || uint16 cipher_suite || opaque group_context<V>
 *   || opaque ratchet_tree<V> || opaque interim_transcript_hash<V>
 *   || opaque confirmation_tag<V> || optional<opaque group_info<V>>
 *   || Proposal proposals<V> (each: opaque ref<V>, Sender, Proposal) || optional<ReInit> reinit
 */
import { bytesEqual, utf8 } from "../../codec/bytes.js";
import { asDecodeError, decode, optional, Reader, Writer } from "../../codec/tls.js";
import type { CryptoProvider } from "../../crypto/cipherSuite.js";
import { MlsError } from "../../errors.js";
import { senderCodec } from "../../messages/framing.js";
import { groupContextCodec } from "../../messages/groupContext.js";
import { proposalCodec, reInitCodec } from "../../messages/proposal.js";
import { PublicRatchetTree } from "../../tree/ratchetTree.js";
import { refKey } from "../groupState.js";
import type { ReferencedProposal } from "../processCommit.js";
import type { PublicGroupState } from "./publicGroupState.js";

const MAGIC = utf8("MLSP");
const VERSION = 1;

export function serializePublicGroupState(s: PublicGroupState): Uint8Array {
  const w = new Writer(1024);
  w.raw(MAGIC);
  w.u8(VERSION);
  w.u16(s.suite.id);
  w.opaque(s.groupContextBytes);
  w.opaque(s.tree.encode());
  w.opaque(s.interimTranscriptHash);
  w.opaque(s.confirmationTag);
  if (s.groupInfo === undefined) w.u8(0);
  else {
    w.u8(1);
    w.opaque(s.groupInfo);
  }
  w.lengthPrefixed((v) => {
    for (const p of s.proposals.values()) {
      v.opaque(p.ref);
      senderCodec.encode(v, p.sender);
      proposalCodec.encode(v, p.proposal);
    }
  });
  optional(reInitCodec).encode(w, s.reinit);
  return w.finish();
}

/**
 * Restores a state written by serializePublicGroupState. The tree must hash
 * to the GroupContext's tree hash (which also warms the hash cache the next
 * commit needs). GROUP_STATE_INVALID for anything malformed or inconsistent.
 */
export function deserializePublicGroupState(bytes: Uint8Array, provider: CryptoProvider): PublicGroupState {
  const r = new Reader(bytes);
  try {
    const magic = r.raw(4);
    if (magic.some((b, i) => b !== MAGIC[i])) throw new MlsError("GROUP_STATE_INVALID", "not a serialized public group");
    const version = r.u8();
    if (version !== VERSION) throw new MlsError("GROUP_STATE_INVALID", `unknown public group state version ${version}`);
    const suite = provider.suite(r.u16());
    const groupContextBytes = r.opaque();
    const groupContext = decode(groupContextCodec, groupContextBytes);
    if (groupContext.cipherSuite !== suite.id) throw new MlsError("GROUP_STATE_INVALID", "GroupContext suite differs from the state's");
    const tree = PublicRatchetTree.decode(suite, r.opaque());
    if (!bytesEqual(tree.treeHash(), groupContext.treeHash)) throw new MlsError("GROUP_STATE_INVALID", "the stored tree does not match the stored tree hash");
    const interimTranscriptHash = r.opaque();
    const confirmationTag = r.opaque();
    const present = r.u8();
    if (present > 1) throw new MlsError("GROUP_STATE_INVALID", `optional presence octet ${present}`);
    const groupInfo = present === 1 ? r.opaque() : undefined;
    const proposals = new Map<string, ReferencedProposal>();
    r.lengthPrefixed((v, end) => {
      while (v.offset < end) {
        const ref = v.opaque();
        const sender = senderCodec.decode(v);
        proposals.set(refKey(ref), { ref, sender, proposal: proposalCodec.decode(v) });
      }
    });
    const reinit = optional(reInitCodec).decode(r);
    r.expectEnd();
    return {
      suite,
      groupContext,
      groupContextBytes,
      tree,
      interimTranscriptHash,
      confirmationTag,
      ...(groupInfo === undefined ? {} : { groupInfo }),
      proposals,
      ...(reinit === undefined ? {} : { reinit }),
    };
  } catch (e) {
    if (e instanceof MlsError && e.code === "GROUP_STATE_INVALID") throw e;
    throw new MlsError("GROUP_STATE_INVALID", `malformed public group state: ${asDecodeError(e).message}`, { cause: e });
  }
}
