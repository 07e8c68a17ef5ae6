import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { bytesEqual, toHex } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError } from "../src/errors.js";
import { CredentialType, NodeType, ProposalType } from "../src/messages/enums.js";
import type { LeafNode } from "../src/messages/leafNode.js";
import { ratchetTreeCodec } from "../src/messages/ratchetTreeNodes.js";
import { proposalCodec } from "../src/messages/proposal.js";
import { PublicRatchetTree } from "../src/tree/ratchetTree.js";
import { leafIndex, type NodeIndex } from "../src/tree/treeMath.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";
import { fakeLeaf, recomputedTreeHash, referenceResolution } from "./support/trees.js";

interface TreeOperationsVector {
  cipher_suite: number;
  tree_before: string;
  proposal: string;
  proposal_sender: number;
  tree_hash_before: string;
  tree_after: string;
  tree_hash_after: string;
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("tree-operations.json (RFC 9420 §7.7, §12.1) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`tree-operations.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<TreeOperationsVector[]>("tree-operations") : [];

  it.each(vectors.map((v, i) => [i, v.cipher_suite, v] as const))("case %i, cipher suite %i", (_i, _cs, v) => {
    const suite = provider.suite(v.cipher_suite);
    const tree = PublicRatchetTree.decode(suite, hex(v.tree_before));
    expect(toHex(tree.encode()), "tree_before re-encodes").toBe(v.tree_before);
    expect(toHex(tree.treeHash()), "tree_hash_before").toBe(v.tree_hash_before);

    const p = decode(proposalCodec, hex(v.proposal));
    const sender = leafIndex(v.proposal_sender);
    switch (p.proposalType) {
      case ProposalType.add:
        tree.addLeaf(p.keyPackage.leafNode);
        break;
      case ProposalType.update:
        tree.updateLeaf(sender, p.leafNode);
        break;
      case ProposalType.remove:
        tree.removeLeaf(leafIndex(p.removed));
        break;
      default:
        throw new Error(`unexpected proposal type ${p.proposalType}`);
    }
    expect(toHex(tree.encode()), "tree_after").toBe(v.tree_after);
    expect(toHex(tree.treeHash()), "tree_hash_after (incremental)").toBe(v.tree_hash_after);
    // The cached hashes must agree with a fresh tree decoded from the expected bytes.
    expect(toHex(PublicRatchetTree.decode(suite, hex(v.tree_after)).treeHash()), "tree_hash_after (fresh)").toBe(v.tree_hash_after);
    tally.pass();
  });
});

describe("ratchet tree operations", () => {
  const suite = nodeCryptoProvider.suite(1);
  const L = leafIndex;

  it("decodes a tree's fields as views of one private copy of its bytes", () => {
    const built = PublicRatchetTree.create(suite, fakeLeaf(0));
    for (let i = 1; i < 5; i++) built.addLeaf(fakeLeaf(i));
    const bytes = built.encode();
    const tree = PublicRatchetTree.decode(suite, bytes);
    const leaves = tree.members().map((m) => m.leafNode);
    expect(leaves).toHaveLength(5);
    const shared = leaves[0]!.signatureKey.buffer;
    expect(shared).not.toBe(bytes.buffer);
    for (const leaf of leaves) for (const field of [leaf.signatureKey, leaf.encryptionKey, leaf.signature]) expect(field.buffer).toBe(shared);
    // The caller's bytes are not aliased: wiping them changes nothing in the tree.
    const hash = toHex(tree.treeHash());
    bytes.fill(0);
    expect(toHex(tree.encode())).toBe(toHex(built.encode()));
    expect(toHex(PublicRatchetTree.decode(suite, tree.encode()).treeHash())).toBe(hash);
  });

  it("adds at the leftmost blank leaf, extending when full, and keeps unmerged_leaves sorted", () => {
    const tree = PublicRatchetTree.create(suite, fakeLeaf(0));
    expect(tree.leafCount).toBe(1);
    expect(tree.addLeaf(fakeLeaf(1))).toBe(1);
    expect(tree.addLeaf(fakeLeaf(2))).toBe(2);
    expect(tree.leafCount).toBe(4);
    expect(tree.addLeaf(fakeLeaf(3))).toBe(3);
    expect(tree.addLeaf(fakeLeaf(4))).toBe(4);
    expect(tree.leafCount).toBe(8);
    // Give the root a key, free leaf 1, then add: the new leaf 1 must sort before 5.
    tree.setParentNode(7 as NodeIndex, { encryptionKey: new Uint8Array([7]), parentHash: new Uint8Array(0), unmergedLeaves: [] });
    expect(tree.addLeaf(fakeLeaf(5))).toBe(5);
    tree.removeLeaf(L(1));
    expect(tree.parentNode(7 as NodeIndex)).toBeUndefined(); // on leaf 1's direct path
    tree.setParentNode(7 as NodeIndex, { encryptionKey: new Uint8Array([7]), parentHash: new Uint8Array(0), unmergedLeaves: [L(5)] });
    expect(tree.addLeaf(fakeLeaf(6))).toBe(1);
    expect(tree.parentNode(7 as NodeIndex)!.unmergedLeaves).toEqual([1, 5]);
  });

  it("truncates after a remove to the smallest power of two above the rightmost member", () => {
    const tree = PublicRatchetTree.create(suite, fakeLeaf(0));
    for (let i = 1; i < 9; i++) tree.addLeaf(fakeLeaf(i));
    expect(tree.leafCount).toBe(16);
    tree.removeLeaf(L(8));
    expect(tree.leafCount).toBe(8);
    tree.removeLeaf(L(4));
    expect(tree.leafCount).toBe(8);
    for (const l of [7, 6, 5]) tree.removeLeaf(L(l));
    expect(tree.leafCount).toBe(4);
    tree.removeLeaf(L(3));
    tree.removeLeaf(L(2));
    expect(tree.leafCount).toBe(2);
    tree.removeLeaf(L(1));
    expect(tree.leafCount).toBe(1);
    expect(tree.encode()).toEqual(PublicRatchetTree.create(suite, fakeLeaf(0)).encode());
  });

  it("rejects operations on blank or missing leaves with TREE_INVALID_LEAF", () => {
    const tree = PublicRatchetTree.create(suite, fakeLeaf(0));
    tree.addLeaf(fakeLeaf(1));
    tree.addLeaf(fakeLeaf(2));
    tree.removeLeaf(L(1));
    expect(() => tree.removeLeaf(L(1))).toThrow(expect.objectContaining({ code: "TREE_INVALID_LEAF" }));
    expect(() => tree.updateLeaf(L(1), fakeLeaf(9))).toThrow(expect.objectContaining({ code: "TREE_INVALID_LEAF" }));
    expect(() => tree.removeLeaf(L(9))).toThrow(MlsError);
    expect(() => tree.filteredPath(L(4))).toThrow(expect.objectContaining({ code: "TREE_INVALID_LEAF" }));
  });

  it("rejects ratchet_tree node lists with misplaced node types or a trailing blank", () => {
    const tree = PublicRatchetTree.create(suite, fakeLeaf(0));
    tree.addLeaf(fakeLeaf(1));
    const nodes = tree.toNodes();
    expect(() => PublicRatchetTree.fromNodes(suite, [nodes[0], nodes[0], nodes[2]])).toThrow(expect.objectContaining({ code: "TREE_INVALID_STRUCTURE" }));
    expect(() => PublicRatchetTree.fromNodes(suite, [nodes[0], undefined])).toThrow(expect.objectContaining({ code: "TREE_INVALID_STRUCTURE" }));
    expect(() => PublicRatchetTree.fromNodes(suite, [])).toThrow(expect.objectContaining({ code: "TREE_INVALID_STRUCTURE" }));
  });

  it("finds leaves by key and keeps the key index right through changes and clones", () => {
    const tree = PublicRatchetTree.create(suite, fakeLeaf(0));
    for (let i = 1; i < 5; i++) tree.addLeaf(fakeLeaf(i));
    expect(tree.findLeafBySignatureKey(fakeLeaf(3).signatureKey)).toBe(3);
    expect(tree.findLeafByEncryptionKey(fakeLeaf(4).encryptionKey)).toBe(4);
    const copy = tree.clone();
    tree.removeLeaf(L(3));
    expect(tree.findLeafBySignatureKey(fakeLeaf(3).signatureKey)).toBeUndefined();
    expect(copy.findLeafBySignatureKey(fakeLeaf(3).signatureKey)).toBe(3);
    tree.updateLeaf(L(4), fakeLeaf(40));
    expect(tree.findLeafByEncryptionKey(fakeLeaf(4).encryptionKey)).toBeUndefined();
    expect(tree.findLeafByEncryptionKey(fakeLeaf(40).encryptionKey)).toBe(4);
    expect(copy.findLeafByEncryptionKey(fakeLeaf(4).encryptionKey)).toBe(4);
    expect(tree.members().map((m) => m.leafIndex)).toEqual([0, 1, 2, 4]);
  });

  /** The cached per-node encodings, the blank-leaf hint and the layered key index agree with a from-scratch encoding and a scan. */
  function expectEncodingAndKeyIndex(tree: PublicRatchetTree, gone: readonly LeafNode[]): void {
    expect(tree.encode()).toEqual(encode(ratchetTreeCodec, tree.toNodes()));
    let blank: number | undefined;
    for (let l = 0; l < tree.leafCount && blank === undefined; l++) if (tree.leafNode(L(l)) === undefined) blank = l;
    expect(tree.leftmostBlankLeaf()).toBe(blank);
    const leaves = tree.members().map((m) => m.leafNode);
    const all = leaves.length === 0 ? [] : [...new Set(leaves[0]!.capabilities.credentials)].filter((c) => leaves.every((l) => l.capabilities.credentials.includes(c)));
    const types = tree.credentialTypes();
    expect([...types.inUse].sort()).toEqual([...new Set(leaves.map((l) => l.credential.credentialType))].sort());
    expect([...types.supportedByAll].sort()).toEqual(all.sort());
    for (let x = 0; x < tree.nodeCount; x++) {
      const n = tree.node(x as NodeIndex);
      if (n === undefined) continue;
      const key = n.nodeType === NodeType.leaf ? n.leafNode.encryptionKey : n.parentNode.encryptionKey;
      expect(tree.findNodeByEncryptionKey(key)).toBe(x);
      if (n.nodeType === NodeType.leaf) expect(tree.findLeafBySignatureKey(n.leafNode.signatureKey)).toBe(x / 2);
    }
    for (const leaf of gone) {
      // Leaves are stored packed and decoded on each read: compared by value, not identity.
      if (tree.members().some((m) => bytesEqual(m.leafNode.signatureKey, leaf.signatureKey))) continue;
      expect(tree.findLeafBySignatureKey(leaf.signatureKey)).toBeUndefined();
      expect(tree.findLeafByEncryptionKey(leaf.encryptionKey)).toBeUndefined();
    }
  }

  it("keeps cached tree hashes, resolutions, encodings and key lookups equal to a from-scratch computation under random add/remove/update sequences", () => {
    type Op = { kind: "add" } | { kind: "remove"; pick: number } | { kind: "update"; pick: number } | { kind: "key"; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ kind: "add" }),
      fc.nat().map((pick): Op => ({ kind: "remove", pick })),
      fc.nat().map((pick): Op => ({ kind: "update", pick })),
      fc.nat().map((pick): Op => ({ kind: "key", pick })),
    );
    let serial = 1000;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        // Credential types and capabilities vary with the serial, so the credential tally has something to track.
        const leafOf = (n: number): LeafNode => {
          const f = fakeLeaf(n);
          const credential: LeafNode["credential"] = n % 2 === 0 ? f.credential : { credentialType: CredentialType.x509, certificates: [Uint8Array.of(n & 0xff)] };
          return { ...f, credential, capabilities: { ...f.capabilities, credentials: [1, 2, 3].filter((c, i) => c === credential.credentialType || (n >> i) % 3 !== 0) } };
        };
        const tree = PublicRatchetTree.create(suite, leafOf(serial++));
        let snapshot = tree.clone();
        let snapshotBytes = encode(ratchetTreeCodec, snapshot.toNodes());
        const gone: LeafNode[] = [];
        for (const o of ops) {
          const members = tree.members();
          if (o.kind === "add") tree.addLeaf(leafOf(serial++));
          else if (o.kind === "remove" && members.length > 1) tree.removeLeaf(members[1 + (o.pick % (members.length - 1))]!.leafIndex);
          else if (o.kind === "update") tree.updateLeaf(members[o.pick % members.length]!.leafIndex, leafOf(serial++));
          else if (o.kind === "key" && tree.leafCount > 1) {
            // Give a parent a key as a path would (unmerged leaves left empty).
            const x = (2 * (o.pick % (tree.leafCount - 1)) + 1) as NodeIndex;
            tree.setParentNode(x, { encryptionKey: new Uint8Array([serial++ & 0xff, serial >> 8]), parentHash: new Uint8Array(0), unmergedLeaves: [] });
          }
          expect(tree.treeHash()).toEqual(recomputedTreeHash(suite, tree.toNodes()));
          for (let x = 0; x < tree.nodeCount; x++) expect(tree.resolution(x as NodeIndex)).toEqual(referenceResolution(tree, x));
          expectEncodingAndKeyIndex(tree, gone);
          if (o.kind === "remove" || o.kind === "update") {
            for (const m of members) {
              const now = tree.leafNode(m.leafIndex);
              if (now === undefined || !bytesEqual(now.signatureKey, m.leafNode.signatureKey)) gone.push(m.leafNode);
            }
          }
          if (o.kind === "update") {
            snapshot = tree.clone();
            snapshotBytes = encode(ratchetTreeCodec, snapshot.toNodes());
          }
        }
        // A clone taken earlier is unaffected by later changes (its nodes share chunks with the tree until written).
        expect(encode(ratchetTreeCodec, snapshot.toNodes())).toEqual(snapshotBytes);
        expect(snapshot.treeHash()).toEqual(recomputedTreeHash(suite, snapshot.toNodes()));
        expectEncodingAndKeyIndex(snapshot, []);
      }),
      { numRuns: 60 },
    );
  });
});
