/** RFC 9420 §7.6: HPKECiphertext, UpdatePathNode, UpdatePath. */
import type { Codec, Reader } from "../codec/tls.js";
import type { HpkeCiphertext } from "../crypto/cipherSuite.js";
import { leafNodeCodec, type LeafNode } from "./leafNode.js";

/** struct { opaque kem_output<V>; opaque ciphertext<V>; } HPKECiphertext; */
export const hpkeCiphertextCodec: Codec<HpkeCiphertext> = {
  encode(w, c) {
    w.opaque(c.kemOutput);
    w.opaque(c.ciphertext);
  },
  decode(r) {
    const kemOutput = r.opaque();
    return { kemOutput, ciphertext: r.opaque() };
  },
};

export interface UpdatePathNode {
  encryptionKey: Uint8Array;
  /** One ciphertext per node of the copath node's resolution (new leaves excluded). */
  encryptedPathSecret: HpkeCiphertext[];
}

function readCiphertexts(r: Reader): HpkeCiphertext[] {
  return r.lengthPrefixed((inner, end) => {
    const out: HpkeCiphertext[] = [];
    while (inner.offset < end) out.push(hpkeCiphertextCodec.decode(inner));
    return out;
  });
}

export const updatePathNodeCodec: Codec<UpdatePathNode> = {
  encode(w, n) {
    w.opaque(n.encryptionKey);
    w.lengthPrefixed((inner) => {
      for (const c of n.encryptedPathSecret) hpkeCiphertextCodec.encode(inner, c);
    });
  },
  decode(r) {
    const encryptionKey = r.opaque();
    return { encryptionKey, encryptedPathSecret: readCiphertexts(r) };
  },
};

export interface UpdatePath {
  leafNode: LeafNode;
  nodes: UpdatePathNode[];
}

export const updatePathCodec: Codec<UpdatePath> = {
  encode(w, p) {
    leafNodeCodec.encode(w, p.leafNode);
    w.lengthPrefixed((inner) => {
      for (const n of p.nodes) updatePathNodeCodec.encode(inner, n);
    });
  },
  decode(r) {
    const leafNode = leafNodeCodec.decode(r);
    const nodes = r.lengthPrefixed((inner, end) => {
      const out: UpdatePathNode[] = [];
      while (inner.offset < end) out.push(updatePathNodeCodec.decode(inner));
      return out;
    });
    return { leafNode, nodes };
  },
};
