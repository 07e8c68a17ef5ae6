import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { toHex } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import { CredentialType, LeafNodeSource } from "../src/messages/enums.js";
import type { LeafNode } from "../src/messages/leafNode.js";
import { updatePathCodec, type UpdatePath } from "../src/messages/updatePath.js";
import { signLeafNode } from "../src/tree/leafNodeValidation.js";
import { verifyParentHashes } from "../src/tree/parentHash.js";
import { PrivateTreeKeys, setKeysFromPathSecret } from "../src/tree/privateTreeKeys.js";
import { PublicRatchetTree } from "../src/tree/ratchetTree.js";
import {
  applyUpdatePath,
  createUpdatePath,
  decryptUpdatePath,
  mergeUpdatePath,
  pathSecretForNewMember,
  type DecryptedUpdatePath,
  type ProvisionalGroupContext,
} from "../src/tree/treeKem.js";
import { commonAncestor, leafIndex, type LeafIndex, type NodeIndex } from "../src/tree/treeMath.js";
import { validateRatchetTree } from "../src/tree/treeValidation.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";
import { recomputedTreeHash } from "./support/trees.js";
import { codeOf } from "./support/errors.js";

interface TreeKemVector {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  confirmed_transcript_hash: string;
  ratchet_tree: string;
  leaves_private: { index: number; encryption_priv: string; signature_priv: string; path_secrets: { node: number; path_secret: string }[] }[];
  update_paths: { sender: number; update_path: string; path_secrets: (string | null)[]; commit_secret: string; tree_hash_after: string }[];
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];
const vectors = haveVectors ? loadVectors<TreeKemVector[]>("treekem") : [];

/**
 * Both providers check every vector value. Creating a fresh UpdatePath and
 * having everyone process it is done for every sender with the node provider;
 * the web provider (noble P-384/P-521 are ~4x slower) does it for the first
 * sender of each case, which keeps the file well under a minute.
 */
const freshPathSenders: Record<string, "all" | "first"> = { node: "all", web: "first" };

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("treekem.json (RFC 9420 §7.4-§7.6, §12.4.2) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`treekem.json [${name}]`);
  afterAll(() => tally.report());

  it.each(vectors.map((v, i) => [i, v.cipher_suite, v.leaves_private.length, v] as const))("case %i, cipher suite %i, %i members", async (_i, _cs, _n, v) => {
    const suite = provider.suite(v.cipher_suite);
    const tree = PublicRatchetTree.decode(suite, hex(v.ratchet_tree));
    const groupContext: ProvisionalGroupContext = {
      version: 1,
      cipherSuite: v.cipher_suite,
      groupId: hex(v.group_id),
      epoch: BigInt(v.epoch),
      confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
      extensions: [],
    };

    // Private states: leaf key plus the listed path secrets, consistent with the public tree.
    const privates = new Map<number, PrivateTreeKeys>();
    const signers = new Map<number, Uint8Array>();
    for (const lp of v.leaves_private) {
      const keys = await PrivateTreeKeys.fromLeafPrivateKey(suite, leafIndex(lp.index), hex(lp.encryption_priv));
      for (const ps of lp.path_secrets) await keys.setFromPathSecret(suite, ps.node as NodeIndex, hex(ps.path_secret));
      keys.checkConsistentWith(tree);
      privates.set(lp.index, keys);
      signers.set(lp.index, hex(lp.signature_priv));
    }
    const receivers = (sender: number) =>
      tree
        .members()
        .map((m) => m.leafIndex)
        .filter((j) => j !== sender);

    // Every receiver decrypts from the same merged tree (decryption does not change it), so
    // each path is merged (signature, parent hashes) once rather than once per receiver.
    const processAll = async (sender: LeafIndex, updatePath: UpdatePath, check: (j: number, out: DecryptedUpdatePath) => void): Promise<PublicRatchetTree> => {
      const merged = tree.clone();
      const steps = await mergeUpdatePath({ tree: merged, sender, updatePath, groupId: groupContext.groupId });
      verifyParentHashes(merged);
      const context = { ...groupContext, treeHash: merged.treeHash() };
      for (const j of receivers(sender)) {
        const keys = privates.get(j);
        expect(keys, `private state for leaf ${j}`).toBeDefined();
        const out = await decryptUpdatePath({ tree: merged, sender, updatePath, groupContext: context, privateKeys: keys!, steps });
        out.privateKeys.checkConsistentWith(merged);
        check(j, out);
      }
      return merged;
    };

    for (const up of v.update_paths) {
      const sender = leafIndex(up.sender);
      const updatePath = decode(updatePathCodec, hex(up.update_path));
      expect(toHex(encode(updatePathCodec, updatePath))).toBe(up.update_path);
      const merged = await processAll(sender, updatePath, (j, out) => {
        expect(toHex(out.pathSecret), `path secret for leaf ${j}`).toBe(up.path_secrets[j]);
        expect(toHex(out.commitSecret), `commit secret at leaf ${j}`).toBe(up.commit_secret);
      });
      expect(toHex(merged.treeHash()), "tree_hash_after").toBe(up.tree_hash_after);
      expect(toHex(recomputedTreeHash(suite, merged.toNodes()))).toBe(up.tree_hash_after);

      // A fresh UpdatePath from the same sender must be processable by everyone else.
      if (freshPathSenders[name] === "first" && up !== v.update_paths[0]) continue;
      const mine = tree.clone();
      const created = await createUpdatePath({ tree: mine, leafIndex: sender, groupContext, signaturePrivateKey: signers.get(sender)! });
      created.privateKeys.checkConsistentWith(mine);
      const wire = decode(updatePathCodec, encode(updatePathCodec, created.updatePath));
      const theirs = await processAll(sender, wire, (j, out) => {
        expect(toHex(out.commitSecret), `new commit secret at leaf ${j}`).toBe(toHex(created.commitSecret));
        expect(toHex(out.pathSecret)).toBe(toHex(created.pathSecrets.get(out.node)!));
      });
      expect(toHex(theirs.treeHash())).toBe(toHex(created.groupContext.treeHash));
    }
    tally.pass();
  });
});

// ---------------------------------------------------------------------------
// Groups built from scratch: random add/remove/update/commit sequences.

interface Member {
  leaf: LeafIndex;
  signaturePrivateKey: Uint8Array;
  keys: PrivateTreeKeys;
}

async function newLeaf(suite: CipherSuite, n: number): Promise<{ leaf: LeafNode; signaturePrivateKey: Uint8Array; encryptionPrivateKey: Uint8Array }> {
  const sig = await suite.signatureGenerateKeyPair();
  const enc = await suite.hpkeGenerateKeyPair();
  const leaf = await signLeafNode(suite, sig.privateKey, {
    encryptionKey: enc.publicKey,
    signatureKey: sig.publicKey,
    credential: { credentialType: CredentialType.basic, identity: new TextEncoder().encode(`member ${n}`) },
    capabilities: { versions: [1], cipherSuites: [suite.id], extensions: [], proposals: [], credentials: [CredentialType.basic] },
    leafNodeSource: LeafNodeSource.keyPackage,
    lifetime: { notBefore: 0n, notAfter: 0xffffffffffffffffn },
    extensions: [],
  });
  return { leaf, signaturePrivateKey: sig.privateKey, encryptionPrivateKey: enc.privateKey };
}

/** A small group simulation: one public tree, every member's private keys, commits that everyone processes. */
class Group {
  readonly members = new Map<number, Member>();
  epoch = 0n;
  serial = 0;
  readonly groupId = new TextEncoder().encode("treekem test group");
  constructor(
    readonly suite: CipherSuite,
    public tree: PublicRatchetTree,
  ) {}

  static async create(suite: CipherSuite): Promise<Group> {
    const first = await newLeaf(suite, 0);
    const g = new Group(suite, PublicRatchetTree.create(suite, first.leaf));
    g.members.set(0, { leaf: leafIndex(0), signaturePrivateKey: first.signaturePrivateKey, keys: await PrivateTreeKeys.fromLeafPrivateKey(suite, leafIndex(0), first.encryptionPrivateKey) });
    return g;
  }

  context(): ProvisionalGroupContext {
    return { version: 1, cipherSuite: this.suite.id, groupId: this.groupId, epoch: this.epoch + 1n, confirmedTranscriptHash: new Uint8Array(this.suite.params.nh), extensions: [] };
  }

  /** Commit by `committer` with adds and removes applied first, as §12.3 orders them. */
  async commit(committer: LeafIndex, adds: number, removes: LeafIndex[]): Promise<void> {
    const provisional = this.tree.clone();
    for (const r of removes) provisional.removeLeaf(r);
    const joiners: { leaf: LeafIndex; made: Awaited<ReturnType<typeof newLeaf>> }[] = [];
    for (let i = 0; i < adds; i++) {
      const made = await newLeaf(this.suite, ++this.serial);
      joiners.push({ leaf: provisional.addLeaf(made.leaf), made });
    }
    const excludedLeaves = joiners.map((j) => j.leaf);
    const mine = provisional.clone();
    const me = this.members.get(committer)!;
    const created = await createUpdatePath({ tree: mine, leafIndex: committer, groupContext: this.context(), signaturePrivateKey: me.signaturePrivateKey, excludedLeaves });
    verifyParentHashes(mine);
    for (const [idx, m] of this.members) {
      if (idx === committer || removes.includes(m.leaf)) continue;
      const theirs = provisional.clone();
      const pruned = m.keys.clone();
      pruned.prune(theirs);
      const out = await applyUpdatePath({ tree: theirs, sender: committer, updatePath: created.updatePath, groupContext: this.context(), privateKeys: pruned, excludedLeaves });
      expect(out.commitSecret).toEqual(created.commitSecret);
      expect(theirs.treeHash()).toEqual(mine.treeHash());
      out.privateKeys.checkConsistentWith(theirs);
      m.keys = out.privateKeys;
    }
    for (const r of removes) this.members.delete(r);
    me.keys = created.privateKeys;
    // Joiners get the common ancestor's path secret, as a Welcome would carry it.
    for (const j of joiners) {
      const keys = await PrivateTreeKeys.fromLeafPrivateKey(this.suite, j.leaf, j.made.encryptionPrivateKey);
      const secret = pathSecretForNewMember(created, committer, j.leaf);
      if (secret !== undefined) await setKeysFromPathSecret(this.suite, mine, keys, commonAncestor((2 * committer) as NodeIndex, (2 * j.leaf) as NodeIndex), secret);
      keys.checkConsistentWith(mine);
      this.members.set(j.leaf, { leaf: j.leaf, signaturePrivateKey: j.made.signaturePrivateKey, keys });
    }
    this.tree = mine;
    this.epoch++;
    expect(this.tree.treeHash()).toEqual(recomputedTreeHash(this.suite, this.tree.toNodes()));
    await validateRatchetTree(this.tree, { groupId: this.groupId, treeHash: recomputedTreeHash(this.suite, this.tree.toNodes()) });
  }
}

describe("TreeKEM in simulated groups", () => {
  const suite = nodeCryptoProvider.suite(1);

  it("random commit sequences keep every member in sync, parent hashes valid and the tree valid", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ committer: fc.nat(), adds: fc.nat({ max: 3 }), removes: fc.array(fc.nat(), { maxLength: 2 }) }), { minLength: 1, maxLength: 8 }),
        async (steps) => {
          const g = await Group.create(suite);
          for (const s of steps) {
            const leaves = [...g.members.keys()].sort((a, b) => a - b);
            const committer = leafIndex(leaves[s.committer % leaves.length]!);
            const removes = [...new Set(s.removes.map((r) => leaves[r % leaves.length]!))].filter((l) => l !== committer).map(leafIndex);
            await g.commit(committer, s.adds, removes);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("UpdatePath processing rejects tampered paths with distinct codes", async () => {
    const g = await Group.create(suite);
    await g.commit(leafIndex(0), 5, []);
    await g.commit(leafIndex(3), 0, []);
    const sender = leafIndex(2);
    const base = g.tree.clone();
    const created = await createUpdatePath({ tree: base.clone(), leafIndex: sender, groupContext: g.context(), signaturePrivateKey: g.members.get(2)!.signaturePrivateKey });
    const receiver = g.members.get(0)!;
    const run = (p: UpdatePath) => applyUpdatePath({ tree: base.clone(), sender, updatePath: p, groupContext: g.context(), privateKeys: receiver.keys });
    const path = created.updatePath;
    // Sanity: the untouched path applies.
    await run(path);

    // One node too few.
    expect(await codeOf(run({ ...path, nodes: path.nodes.slice(1) }))).toBe("UPDATE_PATH_INVALID");
    // A missing ciphertext.
    expect(await codeOf(run({ ...path, nodes: path.nodes.map((n, i) => (i === 0 ? { ...n, encryptedPathSecret: [] } : n)) }))).toBe("UPDATE_PATH_INVALID");
    // Swapped public keys: parent hash no longer matches the signed leaf.
    const swapped = path.nodes.map((n, i, all) => ({ ...n, encryptionKey: all[(i + 1) % all.length]!.encryptionKey }));
    expect(await codeOf(run({ ...path, nodes: swapped }))).toBe("TREE_INVALID_PARENT_HASH");
    // A re-signed leaf with a wrong parent hash.
    const badLeaf = await signLeafNode(suite, g.members.get(2)!.signaturePrivateKey, { ...path.leafNode, parentHash: new Uint8Array(32) } as LeafNode, {
      groupId: g.groupId,
      leafIndex: sender,
    });
    expect(await codeOf(run({ ...path, leafNode: badLeaf }))).toBe("TREE_INVALID_PARENT_HASH");
    // A leaf whose signature does not verify.
    expect(await codeOf(run({ ...path, leafNode: { ...path.leafNode, signature: new Uint8Array(64) } }))).toBe("TREE_INVALID_LEAF_SIGNATURE");
    // A leaf that is not a commit leaf.
    const updLeaf = await signLeafNode(suite, g.members.get(2)!.signaturePrivateKey, { ...path.leafNode, leafNodeSource: LeafNodeSource.update } as LeafNode, {
      groupId: g.groupId,
      leafIndex: sender,
    });
    expect(await codeOf(run({ ...path, leafNode: updLeaf }))).toBe("LEAF_NODE_INVALID_SOURCE");
    // Reusing a key already in the tree.
    const reused = path.nodes.map((n, i) => (i === 0 ? { ...n, encryptionKey: base.leafNode(leafIndex(5))!.encryptionKey } : n));
    expect(await codeOf(run({ ...path, nodes: reused }))).toBe("TREE_DUPLICATE_KEY");
    // A key repeated within the path: a node with the new leaf's key, two nodes with one key (copies, not the same array).
    const leafKeyAgain = path.nodes.map((n, i) => (i === 1 ? { ...n, encryptionKey: path.leafNode.encryptionKey.slice() } : n));
    expect(await codeOf(run({ ...path, nodes: leafKeyAgain }))).toBe("TREE_DUPLICATE_KEY");
    const nodeKeyTwice = path.nodes.map((n, i, all) => (i === 1 ? { ...n, encryptionKey: all[0]!.encryptionKey.slice() } : n));
    expect(await codeOf(run({ ...path, nodes: nodeKeyTwice }))).toBe("TREE_DUPLICATE_KEY");
    // Ciphertext under another context: decryption fails.
    const otherCtx = { ...g.context(), epoch: 99n };
    expect(await codeOf(applyUpdatePath({ tree: base.clone(), sender, updatePath: path, groupContext: otherCtx, privateKeys: receiver.keys }))).toBe("CRYPTO_DECRYPT_FAILED");
    // A receiver without any usable private key.
    const stranger = new PrivateTreeKeys(leafIndex(0), await suite.hpkeGenerateKeyPair());
    expect(await codeOf(applyUpdatePath({ tree: base.clone(), sender, updatePath: path, groupContext: g.context(), privateKeys: stranger }))).toBe("UPDATE_PATH_NO_DECRYPTION_KEY");
    // The receiver's state was not modified by any failure.
    receiver.keys.checkConsistentWith(base);
  });

  it("a path secret that does not match the UpdatePath's public keys is UPDATE_PATH_INVALID", async () => {
    const g = await Group.create(suite);
    await g.commit(leafIndex(0), 3, []);
    const sender = leafIndex(0);
    const groupContext = g.context();
    const a = await createUpdatePath({ tree: g.tree.clone(), leafIndex: sender, groupContext, signaturePrivateKey: g.members.get(0)!.signaturePrivateKey });
    // Take the node keys (and leaf) of one path with the ciphertexts of another: same shape, wrong secrets.
    const b = await createUpdatePath({ tree: g.tree.clone(), leafIndex: sender, groupContext, signaturePrivateKey: g.members.get(0)!.signaturePrivateKey });
    const mixed: UpdatePath = { leafNode: a.updatePath.leafNode, nodes: a.updatePath.nodes.map((n, i) => ({ ...n, encryptedPathSecret: b.updatePath.nodes[i]!.encryptedPathSecret })) };
    const merged = g.tree.clone();
    await mergeUpdatePath({ tree: merged, sender, updatePath: mixed, groupId: g.groupId });
    // b's ciphertexts were made under b's tree hash, so decrypt with that context to reach the key check.
    const code = await codeOf(decryptUpdatePath({ tree: merged, sender, updatePath: mixed, groupContext: b.groupContext, privateKeys: g.members.get(1)!.keys }));
    expect(code).toBe("UPDATE_PATH_INVALID");
  });
});

describe("external commit and private key bookkeeping", () => {
  const suite = nodeCryptoProvider.suite(3);

  it("a joiner without a leaf takes the leftmost blank leaf (extending a full tree) and everyone processes its path", async () => {
    const g = await Group.create(suite);
    await g.commit(leafIndex(0), 3, []); // 4 leaves, all taken
    const joiner = await newLeaf(suite, 99);
    const tree = g.tree.clone();
    const leaf = tree.leafForNewMember();
    expect(leaf).toBe(4);
    expect(tree.leafCount).toBe(8);
    const leafNode = joiner.leaf;
    const created = await createUpdatePath({
      tree,
      leafIndex: leaf,
      groupContext: g.context(),
      signaturePrivateKey: joiner.signaturePrivateKey,
      leafNode: { signatureKey: leafNode.signatureKey, credential: leafNode.credential, capabilities: leafNode.capabilities, extensions: leafNode.extensions },
    });
    expect(tree.leafNode(leaf)!.leafNodeSource).toBe(LeafNodeSource.commit);
    verifyParentHashes(tree);
    for (const [, m] of g.members) {
      const theirs = g.tree.clone();
      expect(theirs.leafForNewMember()).toBe(leaf);
      const out = await applyUpdatePath({ tree: theirs, sender: leaf, updatePath: created.updatePath, groupContext: g.context(), privateKeys: m.keys });
      expect(out.commitSecret).toEqual(created.commitSecret);
      expect(theirs.treeHash()).toEqual(tree.treeHash());
    }
    // Without a template a blank leaf cannot commit.
    const other = g.tree.clone();
    const blank = other.leafForNewMember();
    expect(await codeOf(createUpdatePath({ tree: other, leafIndex: blank, groupContext: g.context(), signaturePrivateKey: joiner.signaturePrivateKey }))).toBe("INVALID_ARGUMENT");
  });

  it("clone is deep, prune drops and zeroizes keys of replaced nodes, destroy zeroizes everything", async () => {
    const g = await Group.create(suite);
    await g.commit(leafIndex(0), 3, []);
    await g.commit(leafIndex(1), 0, []);
    const keys = g.members.get(1)!.keys;
    expect(keys.nodes()).toEqual([1, 2, 3]);
    const copy = keys.clone();
    const rootKey = copy.privateKey(3 as NodeIndex)!;
    // Leaf 3 commits: nodes 5 and 3 (the root) change, so leaf 1's key for the root is stale.
    const tree = g.tree.clone();
    await createUpdatePath({ tree, leafIndex: leafIndex(3), groupContext: g.context(), signaturePrivateKey: g.members.get(3)!.signaturePrivateKey });
    expect(copy.prune(tree)).toBe(1);
    expect(copy.nodes()).toEqual([1, 2]);
    expect(rootKey.every((b) => b === 0)).toBe(true);
    expect(keys.privateKey(3 as NodeIndex)!.some((b) => b !== 0)).toBe(true);
    keys.checkConsistentWith(g.tree);
    expect(() => copy.checkConsistentWith(g.tree)).not.toThrow();
    expect(() => keys.checkConsistentWith(tree)).toThrow(expect.objectContaining({ code: "TREE_INVALID_STRUCTURE" }));
    const leafKey = copy.leafPrivateKey;
    copy.destroy();
    expect(leafKey.every((b) => b === 0)).toBe(true);
    expect(copy.nodes()).toEqual([]);
  });

  it("setKeysFromPathSecret rejects a path secret that does not match the tree", async () => {
    const g = await Group.create(suite);
    await g.commit(leafIndex(0), 3, []);
    const keys = new PrivateTreeKeys(leafIndex(2), await suite.hpkeGenerateKeyPair());
    expect(await codeOf(setKeysFromPathSecret(suite, g.tree, keys, 5 as NodeIndex, new Uint8Array(32)))).toBe("UPDATE_PATH_INVALID");
    expect(keys.nodes()).toEqual([4]);
  });
});
