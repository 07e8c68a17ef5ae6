/** RFC 9420 §12.4: Commit. */
import type { Codec } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { proposalOrRefCodec, type ProposalOrRef } from "./proposal.js";
import { updatePathCodec, type UpdatePath } from "./updatePath.js";

/** A Commit (RFC 9420 §12.4): the proposals it applies and, when needed, an UpdatePath. */
export interface Commit {
  proposals: ProposalOrRef[];
  /** optional<UpdatePath>; whether it is required is a validation rule (§12.4), not syntax. */
  path?: UpdatePath;
}

/** TLS codec of {@link Commit}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const commitCodec: Codec<Commit> = {
  encode(w, c) {
    w.lengthPrefixed((inner) => {
      for (const p of c.proposals) proposalOrRefCodec.encode(inner, p);
    });
    if (c.path === undefined) {
      w.u8(0);
    } else {
      w.u8(1);
      updatePathCodec.encode(w, c.path);
    }
  },
  decode(r) {
    const proposals = r.lengthPrefixed((inner, end) => {
      const out: ProposalOrRef[] = [];
      while (inner.offset < end) out.push(proposalOrRefCodec.decode(inner));
      return out;
    });
    const present = r.u8();
    if (present === 0) return { proposals };
    if (present !== 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
    return { proposals, path: updatePathCodec.decode(r) };
  },
};
