/** uint32 leaf_index on the wire (RFC 9420 §6, §7.1, §12.1.3, §12.4.3), read as a branded LeafIndex. */
import type { Codec } from "../codec/tls.js";
import type { LeafIndex } from "../tree/treeMath.js";

/**
 * Decoding brands any uint32: whether the index names a leaf of the tree is
 * for the tree to check (it knows the size).
 */
export const leafIndexCodec: Codec<LeafIndex> = {
  encode: (w, v) => w.u32(v),
  decode: (r) => r.u32() as LeafIndex,
};
