import { afterAll, describe, expect, it } from "vitest";
import { toHex } from "../src/codec/bytes.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import { ExtensionType, LeafNodeSource, NodeType } from "../src/messages/enums.js";
import { makeExtension } from "../src/messages/extension.js";
import { requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import type { LeafNode } from "../src/messages/leafNode.js";
import type { Node, ParentNode } from "../src/messages/ratchetTreeNodes.js";
import { signLeafNode, validateLeafNode } from "../src/tree/leafNodeValidation.js";
import { verifyParentHashes } from "../src/tree/parentHash.js";
import { PublicRatchetTree } from "../src/tree/ratchetTree.js";
import { subtreeLeafRange } from "../src/tree/treeHash.js";
import { validateRatchetTree, type TreeValidationOptions } from "../src/tree/treeValidation.js";
import type { LeafIndex, NodeIndex } from "../src/tree/treeMath.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";
import { recomputedTreeHash, referenceResolution } from "./support/trees.js";
import { codeOf } from "./support/errors.js";

interface TreeValidationVector {
  cipher_suite: number;
  tree: string;
  group_id: string;
  resolutions: number[][];
  tree_hashes: string[];
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];
const vectors = haveVectors ? loadVectors<TreeValidationVector[]>("tree-validation") : [];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("tree-validation.json (RFC 9420 §4.1.1, §7.8, §7.9.2, §12.4.3.1) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`tree-validation.json [${name}]`);
  afterAll(() => tally.report());

  it.each(vectors.map((v, i) => [i, v.cipher_suite, v] as const))("case %i, cipher suite %i", async (_i, _cs, v) => {
    const suite = provider.suite(v.cipher_suite);
    const tree = PublicRatchetTree.decode(suite, hex(v.tree));
    expect(toHex(tree.encode()), "tree re-encodes").toBe(v.tree);
    expect(tree.nodeCount).toBe(v.tree_hashes.length);
    for (let x = 0; x < tree.nodeCount; x++) {
      expect([...tree.resolution(x as NodeIndex)], `resolution of node ${x}`).toEqual(v.resolutions[x]);
      expect(toHex(tree.nodeTreeHash(x as NodeIndex)), `tree hash of node ${x}`).toBe(v.tree_hashes[x]);
    }
    verifyParentHashes(tree);
    await validateRatchetTree(tree, { groupId: hex(v.group_id), treeHash: hex(v.tree_hashes[tree.root]!) });
    tally.pass();
  });
});

/** Rebuilds a vector tree with `change` applied to a copy of its node list. */
function tampered(v: TreeValidationVector, change: (nodes: (Node | undefined)[]) => void): PublicRatchetTree {
  const suite = nodeCryptoProvider.suite(v.cipher_suite);
  const nodes = PublicRatchetTree.decode(suite, hex(v.tree)).toNodes();
  change(nodes);
  return PublicRatchetTree.fromNodes(suite, nodes);
}

function withLeaf(nodes: (Node | undefined)[], l: number, f: (leaf: LeafNode) => LeafNode): void {
  const n = nodes[2 * l];
  if (n?.nodeType !== NodeType.leaf) throw new Error(`leaf ${l} is blank`);
  nodes[2 * l] = { nodeType: NodeType.leaf, leafNode: f(n.leafNode) };
}

function withParent(nodes: (Node | undefined)[], x: number, f: (p: ParentNode) => ParentNode): void {
  const n = nodes[x];
  if (n?.nodeType !== NodeType.parent) throw new Error(`node ${x} is blank`);
  nodes[x] = { nodeType: NodeType.parent, parentNode: f(n.parentNode) };
}

function flip(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[c.length - 1]! ^= 1;
  return c;
}

describe.skipIf(!haveVectors)("tree validation failures", () => {
  // Pick vector trees with the features each test needs (suite 1 keeps them fast).
  const suite1 = vectors.filter((v) => v.cipher_suite === 1);
  const decoded = suite1.map((v) => ({ v, tree: PublicRatchetTree.decode(nodeCryptoProvider.suite(1), hex(v.tree)) }));
  const withUnmerged = decoded.find(
    ({ tree }) => tree.members().length > 0 && Array.from({ length: tree.nodeCount }, (_, x) => tree.parentNode(x as NodeIndex)).some((p) => (p?.unmergedLeaves.length ?? 0) > 0),
  )!;
  const withCommitLeaf = decoded.find(({ tree }) => tree.members().some((m) => m.leafNode.leafNodeSource === LeafNodeSource.commit) && tree.nodeCount >= 7)!;
  const opts = (v: TreeValidationVector): TreeValidationOptions => ({ groupId: hex(v.group_id) });

  it("the chosen vector trees validate untouched", async () => {
    expect(withUnmerged).toBeDefined();
    expect(withCommitLeaf).toBeDefined();
    await validateRatchetTree(withUnmerged.tree, opts(withUnmerged.v));
    await validateRatchetTree(withCommitLeaf.tree, opts(withCommitLeaf.v));
  });

  it("TREE_INVALID_TREE_HASH when the tree hash differs from the group's", async () => {
    const { v, tree } = withCommitLeaf;
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), treeHash: flip(tree.treeHash()) }))).toBe("TREE_INVALID_TREE_HASH");
  });

  it("TREE_INVALID_PARENT_HASH when a parent's parent_hash or key changes", async () => {
    const { v, tree } = withCommitLeaf;
    const x = Array.from({ length: tree.nodeCount }, (_, i) => i).find((i) => i % 2 === 1 && tree.parentNode(i as NodeIndex) !== undefined && i !== tree.root)!;
    const t1 = tampered(v, (nodes) => withParent(nodes, x, (p) => ({ ...p, parentHash: flip(p.parentHash) })));
    expect(() => verifyParentHashes(t1)).toThrow(expect.objectContaining({ code: "TREE_INVALID_PARENT_HASH" }));
    expect(await codeOf(validateRatchetTree(t1, opts(v)))).toBe("TREE_INVALID_PARENT_HASH");
    const t2 = tampered(v, (nodes) => withParent(nodes, tree.root, (p) => ({ ...p, encryptionKey: flip(p.encryptionKey) })));
    expect(await codeOf(validateRatchetTree(t2, opts(v)))).toBe("TREE_INVALID_PARENT_HASH");
  });

  it("TREE_INVALID_PARENT_HASH when a non-blank parent appears with no chain to a leaf", async () => {
    const { v, tree } = withCommitLeaf;
    const blankParent = Array.from({ length: tree.nodeCount }, (_, i) => i).find((i) => i % 2 === 1 && tree.parentNode(i as NodeIndex) === undefined);
    if (blankParent === undefined) return;
    const t = tampered(v, (nodes) => {
      nodes[blankParent] = { nodeType: NodeType.parent, parentNode: { encryptionKey: new Uint8Array(32).fill(9), parentHash: new Uint8Array(0), unmergedLeaves: [] } };
    });
    expect(await codeOf(validateRatchetTree(t, opts(v)))).toBe("TREE_INVALID_PARENT_HASH");
  });

  it("TREE_INVALID_LEAF_SIGNATURE for a changed signature or another group id", async () => {
    const { v, tree } = withCommitLeaf;
    expect(await codeOf(validateRatchetTree(tree, { groupId: flip(hex(v.group_id)) }))).toBe("TREE_INVALID_LEAF_SIGNATURE");
    // Any change to a leaf also breaks the parent hashes above it (checked first), so use
    // leaf 0 on its own: a one-leaf tree has no parent hash to break.
    const leaf0 = tree.leafNode(0 as LeafIndex)!;
    expect(leaf0.leafNodeSource).toBe(LeafNodeSource.commit);
    const alone = (l: LeafNode) => PublicRatchetTree.fromNodes(tree.suite, [{ nodeType: NodeType.leaf, leafNode: l }]);
    await validateRatchetTree(alone(leaf0), opts(v));
    expect(await codeOf(validateRatchetTree(alone({ ...leaf0, signature: flip(leaf0.signature) }), opts(v)))).toBe("TREE_INVALID_LEAF_SIGNATURE");
    expect(await codeOf(validateRatchetTree(alone({ ...leaf0, extensions: [{ extensionType: 1, extensionData: new Uint8Array(1) }] }), opts(v)))).toBe("TREE_INVALID_LEAF_SIGNATURE");
  });

  it("TREE_DUPLICATE_KEY when two nodes share an encryption key or two leaves a signature key", async () => {
    const { v, tree } = withCommitLeaf;
    const [a, b] = tree.members();
    const t1 = tampered(v, (nodes) => withLeaf(nodes, b!.leafIndex, (l) => ({ ...l, encryptionKey: a!.leafNode.encryptionKey })));
    expect(await codeOf(validateRatchetTree(t1, opts(v)))).toBe("TREE_DUPLICATE_KEY");
    const t2 = tampered(v, (nodes) => withLeaf(nodes, b!.leafIndex, (l) => ({ ...l, signatureKey: a!.leafNode.signatureKey })));
    expect(await codeOf(validateRatchetTree(t2, opts(v)))).toBe("TREE_DUPLICATE_KEY");
    const rootKey = tree.parentNode(tree.root)!.encryptionKey;
    const t3 = tampered(v, (nodes) => withLeaf(nodes, a!.leafIndex, (l) => ({ ...l, encryptionKey: rootKey })));
    expect(await codeOf(validateRatchetTree(t3, opts(v)))).toBe("TREE_DUPLICATE_KEY");
  });

  it("TREE_INVALID_UNMERGED_LEAVES for unsorted, blank, misplaced or inconsistent entries", async () => {
    const { v, tree } = withUnmerged;
    const x = Array.from({ length: tree.nodeCount }, (_, i) => i).find((i) => (tree.parentNode(i as NodeIndex)?.unmergedLeaves.length ?? 0) > 0)!;
    const p = tree.parentNode(x as NodeIndex)!;
    const u = p.unmergedLeaves[0]!;
    const change = (f: (p: ParentNode) => ParentNode) => tampered(v, (nodes) => withParent(nodes, x, f));
    const cases: PublicRatchetTree[] = [
      change((q) => ({ ...q, unmergedLeaves: [...q.unmergedLeaves, u] })), // repeated
      change((q) => ({ ...q, unmergedLeaves: [tree.leafCount as LeafIndex] })), // outside the subtree
    ];
    // A blank leaf listed as unmerged.
    const [lo, hi] = subtreeLeafRange(x as NodeIndex);
    const blank = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i).find((i) => tree.leafNode(i as LeafIndex) === undefined);
    if (blank !== undefined) cases.push(change((q) => ({ ...q, unmergedLeaves: [blank as LeafIndex] })));
    for (const t of cases) expect(await codeOf(validateRatchetTree(t, opts(v)))).toBe("TREE_INVALID_UNMERGED_LEAVES");
    // An ancestor listing u while a non-blank node in between does not.
    let ancestorWithU = -1;
    for (let y = 1; y < tree.nodeCount; y += 2) if (y !== x && tree.parentNode(y as NodeIndex)?.unmergedLeaves.includes(u)) ancestorWithU = y;
    if (ancestorWithU >= 0) {
      const lower = Math.abs(ancestorWithU - 2 * u) > Math.abs(x - 2 * u) ? x : ancestorWithU;
      const t = tampered(v, (nodes) => withParent(nodes, lower, (q) => ({ ...q, unmergedLeaves: q.unmergedLeaves.filter((w) => w !== u) })));
      expect(await codeOf(validateRatchetTree(t, opts(v)))).toBe("TREE_INVALID_UNMERGED_LEAVES");
    }
  });

  it("LEAF_NODE_INVALID_LIFETIME when `now` is outside a key_package leaf's lifetime", async () => {
    const { v, tree } = withUnmerged;
    const kp = tree.members().find((m) => m.leafNode.leafNodeSource === LeafNodeSource.keyPackage);
    expect(kp).toBeDefined();
    const lt = (kp!.leafNode as LeafNode & { lifetime: { notBefore: bigint; notAfter: bigint } }).lifetime;
    await validateRatchetTree(tree, { ...opts(v), now: lt.notBefore });
    if (lt.notBefore > 0n) expect(await codeOf(validateRatchetTree(tree, { ...opts(v), now: lt.notBefore - 1n }))).toBe("LEAF_NODE_INVALID_LIFETIME");
    if (lt.notAfter < 0xffffffffffffffffn) expect(await codeOf(validateRatchetTree(tree, { ...opts(v), now: lt.notAfter + 1n }))).toBe("LEAF_NODE_INVALID_LIFETIME");
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), maxLifetime: lt.notAfter - lt.notBefore - 1n }))).toBe("LEAF_NODE_INVALID_LIFETIME");
  });

  it("LEAF_NODE_INVALID_CAPABILITIES when a required capability or group extension is not supported", async () => {
    const { v, tree } = withCommitLeaf;
    const required = (r: { extensionTypes?: number[]; proposalTypes?: number[]; credentialTypes?: number[] }) => [
      makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes: [], proposalTypes: [], credentialTypes: [], ...r }),
    ];
    // Default types are implied; the basic credential every vector leaf uses is listed.
    await validateRatchetTree(tree, { ...opts(v), groupContextExtensions: required({ extensionTypes: [ExtensionType.ratchetTree], proposalTypes: [1, 2, 3], credentialTypes: [1] }) });
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), groupContextExtensions: required({ extensionTypes: [0xff00] }) }))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), groupContextExtensions: required({ proposalTypes: [0xff00] }) }))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), groupContextExtensions: required({ credentialTypes: [0xff00] }) }))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), groupContextExtensions: [{ extensionType: 0xff01, extensionData: new Uint8Array(0) }] }))).toBe(
      "LEAF_NODE_INVALID_CAPABILITIES",
    );
  });

  it("LEAF_NODE_INVALID_CREDENTIAL when the application rejects a credential", async () => {
    const { v, tree } = withCommitLeaf;
    const last = tree.members().at(-1)!.leafIndex;
    expect(await codeOf(validateRatchetTree(tree, { ...opts(v), validateCredential: (_c, _k, leaf) => leaf !== last }))).toBe("LEAF_NODE_INVALID_CREDENTIAL");
  });

  it("tree hashes from the cache equal a from-scratch computation for every vector tree", () => {
    for (const { v, tree } of decoded) expect(toHex(recomputedTreeHash(nodeCryptoProvider.suite(1), tree.toNodes())), `${v.tree.slice(0, 16)}`).toBe(toHex(tree.treeHash()));
    for (const { tree } of decoded) for (let x = 0; x < tree.nodeCount; x++) expect([...tree.resolution(x as NodeIndex)]).toEqual(referenceResolution(tree, x));
  });
});

describe("single LeafNode validation (RFC 9420 §7.3)", () => {
  const suite = nodeCryptoProvider.suite(1);
  const groupId = new TextEncoder().encode("group");

  async function makeLeaf(overrides: Partial<LeafNode> = {}, source: "key_package" | "update" = "key_package") {
    const sig = await suite.signatureGenerateKeyPair();
    const enc = await suite.hpkeGenerateKeyPair();
    const base = {
      encryptionKey: enc.publicKey,
      signatureKey: sig.publicKey,
      credential: { credentialType: 1 as const, identity: new Uint8Array([1]) },
      capabilities: { versions: [1], cipherSuites: [1], extensions: [0x0a0a], proposals: [], credentials: [1] },
      extensions: [] as { extensionType: number; extensionData: Uint8Array }[],
    };
    const unsigned =
      source === "key_package"
        ? { ...base, leafNodeSource: LeafNodeSource.keyPackage, lifetime: { notBefore: 10n, notAfter: 20n }, ...overrides }
        : { ...base, leafNodeSource: LeafNodeSource.update, ...overrides };
    return signLeafNode(suite, sig.privateKey, unsigned as LeafNode, { groupId, leafIndex: 1 as LeafIndex });
  }

  it("accepts a well-formed leaf and checks each rule with its own code", async () => {
    await validateLeafNode(suite, await makeLeaf(), { expectedSource: LeafNodeSource.keyPackage, now: 15n });
    await validateLeafNode(suite, await makeLeaf({}, "update"), { expectedSource: LeafNodeSource.update, group: { groupId, leafIndex: 1 as LeafIndex } });
    expect(await codeOf(validateLeafNode(suite, await makeLeaf({}, "update"), { group: { groupId, leafIndex: 2 as LeafIndex } }))).toBe("TREE_INVALID_LEAF_SIGNATURE");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf(), { expectedSource: LeafNodeSource.update }))).toBe("LEAF_NODE_INVALID_SOURCE");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf(), { now: 21n }))).toBe("LEAF_NODE_INVALID_LIFETIME");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf({ extensions: [{ extensionType: 0xbeef, extensionData: new Uint8Array(0) }] })))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    // A default extension (application_id) need not be listed; GREASE listed in capabilities is ignored.
    await validateLeafNode(suite, await makeLeaf({ extensions: [{ extensionType: ExtensionType.applicationId, extensionData: new Uint8Array(1) }] }));
    expect(await codeOf(validateLeafNode(suite, await makeLeaf({ credential: { credentialType: 2, certificates: [] } })))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf(), { credentialTypesInUse: [2] }))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf(), { credentialTypesSupportedByAll: new Set([2]) }))).toBe("LEAF_NODE_INVALID_CAPABILITIES");
    expect(await codeOf(validateLeafNode(suite, await makeLeaf(), { validateCredential: () => false }))).toBe("LEAF_NODE_INVALID_CREDENTIAL");
  });

  it("rejects keys already in the tree (TREE_DUPLICATE_KEY), the replaced leaf's encryption key included", async () => {
    const a = await makeLeaf();
    const b = await makeLeaf();
    const tree = PublicRatchetTree.create(suite, a);
    tree.addLeaf(b);
    await validateLeafNode(suite, await makeLeaf(), { tree });
    expect(await codeOf(validateLeafNode(suite, { ...(await makeLeaf()), encryptionKey: a.encryptionKey }, { tree }))).toBe("TREE_DUPLICATE_KEY");
    const update = await makeLeaf({ signatureKey: b.signatureKey } as Partial<LeafNode>, "update");
    // Same signature key as the leaf it replaces is fine (signature aside), another member's is not.
    expect(await codeOf(validateLeafNode(suite, update, { tree, group: { groupId, leafIndex: 1 as LeafIndex } }))).toBe("TREE_INVALID_LEAF_SIGNATURE");
    expect(await codeOf(validateLeafNode(suite, update, { tree, group: { groupId, leafIndex: 0 as LeafIndex } }))).toBe("TREE_DUPLICATE_KEY");
    const sameKey = await makeLeaf({ encryptionKey: b.encryptionKey } as Partial<LeafNode>, "update");
    expect(await codeOf(validateLeafNode(suite, sameKey, { tree, group: { groupId, leafIndex: 1 as LeafIndex } }))).toBe("TREE_DUPLICATE_KEY");
  });
});
