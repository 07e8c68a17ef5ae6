/**
 * PublicGroup against ts-mls, an independent RFC 9420 implementation: a DS
 * following a group whose members are ts-mls clients and ours, from nothing
 * but the MLSMessage bytes they send (PublicMessage commits, GroupInfos),
 * ends every epoch with the GroupContext and tree both sides hold. Also: the
 * membership proofs and partial views it hands out check against the tree
 * hash a client knows.
 */
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8 } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { createKeyPackage, Group, lifetimeFrom, type GroupConfig } from "../src/group/index.js";
import { membershipProofCodec, membershipProofTreeHash, partialTreeViewCodec, PublicGroup, verifyMembershipProof, type PublicProcessed } from "../src/group/public/index.js";
import { groupContextCodec } from "../src/messages/groupContext.js";
import { nodeEncryptionKey } from "../src/tree/privateTreeKeys.js";
import { PublicRatchetTree } from "../src/tree/ratchetTree.js";
import { leafIndex, type NodeIndex } from "../src/tree/treeMath.js";
import { makeClient } from "./group-support.js";
import { TsMember, tsKeyPackage } from "./support/tsmls.js";

const provider = nodeCryptoProvider;
const NOW = BigInt(Math.floor(Date.now() / 1000));
const config: Partial<GroupConfig> = { clock: () => NOW, handshakeWireFormat: "public" };
const LIFETIME = lifetimeFrom(NOW - 60n, 28n * 24n * 3600n);

function commitOf(r: PublicProcessed): Extract<PublicProcessed, { kind: "commit" }> {
  if (r.kind !== "commit") throw new Error(`expected a commit, got ${r.kind}`);
  return r;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

describe("PublicGroup follows a ts-mls group", () => {
  it("ts-mls PublicMessage commits and external join validate; the tree and GroupContext match both sides", async () => {
    const suiteId = 1;
    const ts = await TsMember.create(suiteId, "alice", LIFETIME, utf8("public group x ts-mls"));
    let pg = await PublicGroup.fromGroupInfo(provider, await ts.groupInfo(), { config: { clock: () => NOW } });
    expect(hex(pg.ratchetTree())).toBe(hex(ts.ratchetTree()));

    // ts-mls adds one of ours with a PublicMessage commit; the GroupInfo it signs for the new epoch must match ours.
    const bob = await makeClient(provider, suiteId, "bob");
    const kb = await createKeyPackage({ suite: bob.suite, identity: bob.identity, lifetime: LIFETIME });
    const c1 = await ts.commit({ add: [kb.message], publicMessage: true });
    let r = commitOf(await pg.processMessage(c1.commit, { groupInfo: await ts.groupInfo() }));
    pg = r.state;
    expect(r.added.map((a) => a.leafIndex)).toEqual([1]);
    expect(hex(pg.ratchetTree())).toBe(hex(ts.ratchetTree()));
    const b = await Group.join(c1.welcome!, { provider, keyPackages: [kb], ratchetTree: c1.ratchetTree, config });
    expect(hex(pg.groupContextBytes)).toBe(hex(encode(groupContextCodec, b.groupContext)));

    // Our member commits (PublicMessage); ts-mls and the DS both follow.
    const p = await b.createCommit();
    r = commitOf(await pg.processMessage(p.commit, { groupInfo: await p.groupInfo() }));
    pg = r.state;
    b.mergePendingCommit();
    await ts.receive(p.commit);
    expect(ts.epoch).toBe(pg.epoch);
    expect(hex(pg.ratchetTree())).toBe(hex(ts.ratchetTree()));
    expect(hex(pg.groupContextBytes)).toBe(hex(encode(groupContextCodec, b.groupContext)));

    // A ts-mls client joins by external commit from the GroupInfo the DS holds: the ts-mls member's
    // (ts-mls 1.6 only joins from its own), which the DS takes for the current epoch once it matches.
    pg = await pg.withGroupInfo(await ts.groupInfo());
    const carolKp = await tsKeyPackage(suiteId, "carol", LIFETIME);
    const joined = await TsMember.joinExternal(suiteId, pg.groupInfo!, carolKp);
    r = commitOf(await pg.processMessage(joined.commit, { groupInfo: await joined.member.groupInfo() }));
    pg = r.state;
    expect(r.externalJoiner?.leafIndex).toBe(2);
    for (const m of [ts]) await m.receive(joined.commit);
    const staged = await b.processMessage(joined.commit);
    if (staged.kind !== "commit") throw new Error("commit expected");
    b.mergeStagedCommit(staged.staged);
    for (const t of [ts, joined.member]) expect(hex(pg.ratchetTree())).toBe(hex(t.ratchetTree()));
    expect(hex(pg.groupContextBytes)).toBe(hex(encode(groupContextCodec, b.groupContext)));

    // ts-mls removes Bob.
    const c3 = await ts.commit({ remove: [1], publicMessage: true });
    r = commitOf(await pg.processMessage(c3.commit, { groupInfo: await ts.groupInfo() }));
    expect(r.removed.map((x) => x.leafIndex)).toEqual([1]);
    expect(r.state.members().map((m) => m.leafIndex)).toEqual([0, 2]);
    expect(hex(r.state.ratchetTree())).toBe(hex(ts.ratchetTree()));
  });
});

describe("tree views for group metadata assistance", () => {
  it("membership proofs and partial views check against the tree hash; a tampered one does not", async () => {
    const names = ["a", "b", "c", "d", "e", "f"];
    const cs = await Promise.all(names.map((n) => makeClient(provider, 1, n)));
    const a = await Group.create({ provider, cipherSuite: 1, identity: cs[0]!.identity, config });
    let pg = await PublicGroup.fromGroupInfo(provider, await a.groupInfo(), { config: { clock: () => NOW } });
    const kps = await Promise.all(cs.slice(1).map((c) => createKeyPackage({ suite: c.suite, identity: c.identity, lifetime: LIFETIME })));
    const p = await a.createCommit({ add: kps.map((k) => k.message) });
    pg = commitOf(await pg.processMessage(p.commit, { groupInfo: await p.groupInfo() })).state;
    a.mergePendingCommit();
    const rm = await a.createCommit({ remove: [leafIndex(3)] });
    pg = commitOf(await pg.processMessage(rm.commit, { groupInfo: await rm.groupInfo() })).state;
    a.mergePendingCommit();
    const suite = provider.suite(1);
    const full = PublicRatchetTree.decode(suite, pg.ratchetTree());

    for (const leaf of [0, 1, 3, 5, 7]) {
      const proof = decode(membershipProofCodec, encode(membershipProofCodec, pg.membershipProof(leafIndex(leaf))));
      expect(hex(membershipProofTreeHash(suite, proof))).toBe(hex(a.groupContext.treeHash));
      expect(verifyMembershipProof(suite, proof, a.groupContext.treeHash)).toBe(true);

      const view = decode(partialTreeViewCodec, encode(partialTreeViewCodec, pg.partialTreeView(leafIndex(leaf))));
      expect(view.leaves.map((l) => l.leafIndex)).toEqual(pg.members().map((m) => m.leafIndex));
      // Each copath node's resolution is what the full tree says an UpdatePath from this leaf encrypts to.
      const copathChildren = full.filteredPath(leafIndex(leaf)).map((s) => s.copathChild);
      for (const child of copathChildren) {
        const fromView = view.copathResolutions.flat().filter((n) => full.resolution(child).includes(n.nodeIndex));
        expect(fromView.map((n) => hex(nodeEncryptionKey(full, n.nodeIndex as NodeIndex)!))).toEqual(full.resolution(child).map((x) => hex(nodeEncryptionKey(full, x)!)));
      }
    }

    const proof = pg.membershipProof(leafIndex(1));
    const node = proof.directPathNodes[0]!;
    if (node.nodeType !== 1) throw new Error("leaf expected");
    const tampered = { ...proof, directPathNodes: [{ ...node, leafNode: { ...node.leafNode, signatureKey: new Uint8Array(32) } }, ...proof.directPathNodes.slice(1)] };
    expect(verifyMembershipProof(suite, tampered, a.groupContext.treeHash)).toBe(false);
    expect(verifyMembershipProof(suite, { ...proof, leafIndex: leafIndex(2) }, a.groupContext.treeHash)).toBe(false);
    expect(verifyMembershipProof(suite, { ...proof, copathHashes: proof.copathHashes.slice(1) }, a.groupContext.treeHash)).toBe(false);
    expect(bytesEqual(pg.treeHash, a.groupContext.treeHash)).toBe(true);
  });
});
