/**
 * PublicGroup (issue 17): a non-member's view of a group, as the DS keeps it.
 * Real groups are driven with the Group API; after every epoch the public
 * view must hold the members' own GroupContext and ratchet tree byte for
 * byte, and every message a non-member can catch must fail by code while
 * the view stays as it was.
 */
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8 } from "../src/codec/bytes.js";
import { decode, encode } from "../src/codec/tls.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { createExternalProposal, createNewMemberProposal, Group, type GroupConfig, type PendingCommitInfo } from "../src/group/index.js";
import { PublicGroup, type PublicCommitResult, type PublicProcessed } from "../src/group/public/index.js";
import { ContentType, ExtensionType, ProposalType, SenderType, WireFormat } from "../src/messages/enums.js";
import { makeExtension } from "../src/messages/extension.js";
import { externalSendersCodec } from "../src/messages/extensionPayloads.js";
import { groupContextCodec } from "../src/messages/groupContext.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { MlsError } from "../src/errors.js";
import { clock, deliverCommit, expectCode, forge, keyPackageFor, makeClient, type Client } from "./group-support.js";

const provider = nodeCryptoProvider;
const config: Partial<GroupConfig> = { clock, handshakeWireFormat: "public" };

/** The public view equals `g`'s own state: GroupContext and tree byte for byte, same roster. */
function expectTracks(pg: PublicGroup, groups: readonly Group[]): void {
  for (const g of groups) {
    expect(pg.epoch).toBe(g.epoch);
    expect(Buffer.from(pg.groupContextBytes).toString("hex")).toBe(Buffer.from(encode(groupContextCodec, g.groupContext)).toString("hex"));
    expect(bytesEqual(pg.ratchetTree(), g.ratchetTree())).toBe(true);
    expect(pg.members().map((m) => m.leafIndex)).toEqual(g.members.map((m) => m.leafIndex));
  }
  // The stored form round-trips and carries on from where it was.
  const again = PublicGroup.deserialize(pg.serialize(), provider, { clock });
  expect(bytesEqual(again.serialize(), pg.serialize())).toBe(true);
}

function asCommit(r: PublicProcessed): PublicCommitResult {
  if (r.kind !== "commit") throw new Error(`expected a commit, got ${r.kind}`);
  return r;
}

/** The DS validates `p` (with its GroupInfo), then members merge. Returns the new public view. */
async function accept(pg: PublicGroup, committer: Group, p: PendingCommitInfo, others: readonly Group[]): Promise<{ pg: PublicGroup; r: PublicCommitResult }> {
  const r = asCommit(await pg.processMessage(p.commit, { groupInfo: await p.groupInfo() }));
  expect(r.groupInfoAccepted).toBe(true);
  await deliverCommit(committer, p.commit, others);
  return { pg: r.state, r };
}

/** Expects `p` to fail with `code` and `pg` to be exactly as it was. */
async function expectRefused(pg: PublicGroup, p: Promise<unknown>, code: Parameters<typeof expectCode>[1]): Promise<void> {
  const before = pg.serialize();
  await expectCode(p, code);
  expect(bytesEqual(pg.serialize(), before)).toBe(true);
}

async function clients(...names: string[]): Promise<Client[]> {
  return Promise.all(names.map((n) => makeClient(provider, 1, n)));
}

async function aliceBobCharlie() {
  const [alice, bob, charlie] = await clients("alice", "bob", "charlie");
  const a = await Group.create({ provider, cipherSuite: 1, identity: alice!.identity, config });
  let pg = await PublicGroup.fromGroupInfo(provider, await a.groupInfo(), { config: { clock } });
  expectTracks(pg, [a]);
  const [kb, kc] = await Promise.all([keyPackageFor(bob!), keyPackageFor(charlie!)]);
  const p = await a.createCommit({ add: [kb.message, kc.message] });
  const first = await accept(pg, a, p, []);
  pg = first.pg;
  const r = first.r;
  expect(r.added.map((x) => x.leafIndex)).toEqual([1, 2]);
  const b = await Group.join(p.welcome!, { provider, keyPackages: [kb], config });
  const c = await Group.join(p.welcome!, { provider, keyPackages: [kc], config });
  expectTracks(pg, [a, b, c]);
  return { alice: alice!, bob: bob!, charlie: charlie!, a, b, c, pg };
}

describe("PublicGroup tracks every epoch", () => {
  it("adds, path and no-path commits, updates by reference, removes", async () => {
    let { a, b, c, pg } = await aliceBobCharlie();

    // A no-path commit (Add only, §12.4 lets the path go).
    const [dave] = await clients("dave");
    const kd = await keyPackageFor(dave!);
    const noPath = await a.createCommit({ add: [kd.message], path: "whenRequired" });
    let r: PublicCommitResult;
    ({ pg, r } = await accept(pg, a, noPath, [b, c]));
    expect(r.pathIncluded).toBe(false);
    const d = await Group.join(noPath.welcome!, { provider, keyPackages: [kd], config });
    expectTracks(pg, [a, b, c, d]);

    // Bob proposes an Update; the DS caches it; Charlie commits it by reference.
    const upd = await b.proposeUpdate();
    const pr = await pg.processMessage(upd.message);
    expect(pr.kind).toBe("proposal");
    expect(bytesEqual((pr as { ref: Uint8Array }).ref, upd.ref)).toBe(true);
    pg = pr.state;
    expect(pg.proposalCount).toBe(1);
    for (const g of [a, c, d]) await g.processMessage(upd.message);
    const withUpdate = await c.createCommit();
    ({ pg, r } = await accept(pg, c, withUpdate, [a, b, d]));
    expect(r.updated.map((u) => u.leafIndex)).toEqual([b.ownLeafIndex]);
    expect(pg.proposalCount).toBe(0);
    expectTracks(pg, [a, b, c, d]);

    // An empty (path-only) commit, then a remove.
    ({ pg } = await accept(pg, d, await d.createCommit(), [a, b, c]));
    expectTracks(pg, [a, b, c, d]);
    const rm = await a.createCommit({ remove: [c.ownLeafIndex] });
    ({ pg, r } = await accept(pg, a, rm, [b, c, d]));
    expect(r.removed.map((x) => x.leafIndex)).toEqual([2]);
    expect(pg.members().map((m) => m.leafIndex)).toEqual([0, 1, 3]);
    expectTracks(pg, [a, b, d]);

    // The GroupInfo the DS now holds is the one the committer signed for this epoch.
    expect(bytesEqual(pg.groupInfo!, await rm.groupInfo())).toBe(true);
  });

  it("external joins and a resync, from the GroupInfo the DS holds", async () => {
    let { bob, a, b, c, pg } = await aliceBobCharlie();
    const [dave] = await clients("dave");
    const joined = await Group.joinExternal(pg.groupInfo!, { provider, identity: dave!.identity, config });
    let r = asCommit(await pg.processMessage(joined.commit, { groupInfo: joined.groupInfo }));
    expect(r.sender.senderType).toBe(SenderType.newMemberCommit);
    expect(r.externalJoiner?.leafIndex).toBe(3);
    expect(r.committer).toBe(3);
    pg = r.state;
    const d = joined.group;
    for (const g of [a, b, c]) {
      const x = await g.processMessage(joined.commit);
      if (x.kind !== "commit") throw new Error("commit expected");
      g.mergeStagedCommit(x.staged);
    }
    expectTracks(pg, [a, b, c, d]);

    // Bob lost his state: he rejoins, removing his own old leaf (§12.4.3.2 resync).
    const resync = await Group.joinExternal(pg.groupInfo!, { provider, identity: bob.identity, removeLeaf: b.ownLeafIndex, config });
    r = asCommit(await pg.processMessage(resync.commit, { groupInfo: resync.groupInfo }));
    expect(r.removed.map((x) => x.leafIndex)).toEqual([1]);
    expect(r.externalJoiner?.leafIndex).toBe(1);
    pg = r.state;
    for (const g of [a, c, d]) {
      const x = await g.processMessage(resync.commit);
      if (x.kind !== "commit") throw new Error("commit expected");
      g.mergeStagedCommit(x.staged);
    }
    expectTracks(pg, [a, c, d, resync.group]);
  });

  it("external proposals: from external_senders and new_member_proposal", async () => {
    const [alice, bob, ds, dave, erin] = await clients("alice", "bob", "ds", "dave", "erin");
    const a = await Group.create({
      provider,
      cipherSuite: 1,
      identity: alice!.identity,
      extensions: [makeExtension(ExtensionType.externalSenders, externalSendersCodec, [{ signatureKey: ds!.identity.signaturePublicKey, credential: ds!.identity.credential }])],
      config,
    });
    let pg = await PublicGroup.fromGroupInfo(provider, await a.groupInfo(), { config: { clock } });
    const kb = await keyPackageFor(bob!);
    const p = await a.createCommit({ add: [kb.message] });
    ({ pg } = await accept(pg, a, p, []));
    const b = await Group.join(p.welcome!, { provider, keyPackages: [kb], config });
    const suite = provider.suite(1);

    const kd = await keyPackageFor(dave!);
    const fromDs = await createExternalProposal(
      { suite, groupId: a.groupId, epoch: a.epoch, proposal: { proposalType: ProposalType.add, keyPackage: kd.keyPackage } },
      { senderIndex: 0, signaturePrivateKey: ds!.identity.signaturePrivateKey },
    );
    pg = (await pg.processMessage(fromDs.message)).state;
    for (const g of [a, b]) await g.processMessage(fromDs.message);
    const commit = await b.createCommit();
    ({ pg } = await accept(pg, b, commit, [a]));
    const d = await Group.join(commit.welcome!, { provider, keyPackages: [kd], config });
    expectTracks(pg, [a, b, d]);

    const ke = await keyPackageFor(erin!);
    const self = await createNewMemberProposal({ suite, groupId: a.groupId, epoch: a.epoch }, ke.keyPackage, erin!.identity.signaturePrivateKey);
    const sp = await pg.processMessage(self.message);
    expect(sp.kind === "proposal" && sp.sender.senderType).toBe(SenderType.newMemberProposal);
    pg = sp.state;
    for (const g of [a, b, d]) await g.processMessage(self.message);
    const c2 = await d.createCommit();
    ({ pg } = await accept(pg, d, c2, [a, b]));
    const e = await Group.join(c2.welcome!, { provider, keyPackages: [ke], config });
    expectTracks(pg, [a, b, d, e]);

    // An index outside external_senders is nobody.
    const stranger = await createExternalProposal(
      { suite, groupId: a.groupId, epoch: a.epoch, proposal: { proposalType: ProposalType.remove, removed: b.ownLeafIndex } },
      { senderIndex: 3, signaturePrivateKey: ds!.identity.signaturePrivateKey },
    );
    await expectRefused(pg, pg.processMessage(stranger.message), "MESSAGE_INVALID_SENDER");
  });

  it("a committed ReInit ends the group for the DS too, also once stored and restored", async () => {
    let { a, b, c, pg } = await aliceBobCharlie();
    const reinit = await b.proposeReInit({ cipherSuite: 3 });
    pg = (await pg.processMessage(reinit.message)).state;
    for (const g of [a, c]) await g.processMessage(reinit.message);
    const p = await a.createCommit();
    const r = asCommit(await pg.processMessage(p.commit, { groupInfo: await p.groupInfo() }));
    expect(r.reinit?.cipherSuite).toBe(3);
    await deliverCommit(a, p.commit, [b, c]);
    pg = PublicGroup.deserialize(r.state.serialize(), provider, { clock });
    expect(pg.reinit?.cipherSuite).toBe(3);
    expectTracks(pg, [a, b, c]);
    const late = await forge(provider, c, { contentType: ContentType.commit, commit: { proposals: [] } });
    await expectRefused(pg, pg.processMessage(late.message), "GROUP_REINITIALIZED");
  });

  it("the credential callback sees every new leaf and can refuse it", async () => {
    const { a, b, c, pg } = await aliceBobCharlie();
    const seen: string[] = [];
    const strict = PublicGroup.deserialize(pg.serialize(), provider, {
      clock,
      validateCredential: (cred, _key, ctx) => {
        const name = new TextDecoder().decode((cred as { identity: Uint8Array }).identity);
        seen.push(`${ctx.kind}:${name}`);
        return name !== "mallory";
      },
    });
    const [mallory] = await clients("mallory");
    const p = await a.createCommit({ add: [(await keyPackageFor(mallory!)).message] });
    await expectRefused(strict, strict.processMessage(p.commit, { groupInfo: await p.groupInfo() }), "LEAF_NODE_INVALID_CREDENTIAL");
    expect(seen).toContain("add:mallory");
    a.clearPendingCommit();
    const ok = await b.createCommit();
    const r = asCommit(await strict.processMessage(ok.commit, { groupInfo: await ok.groupInfo() }));
    expect(seen).toContain("commit:bob");
    await deliverCommit(b, ok.commit, [a, c]);
    expectTracks(r.state, [a, b, c]);
  });
});

describe("PublicGroup refuses what a non-member can catch, and stays as it was", () => {
  it("forged signature, wrong epoch, replay, wrong group", async () => {
    let { a, b, c, pg } = await aliceBobCharlie();
    const p = await b.createCommit();
    const forged = p.commit.slice();
    // Inside the signature: the message ends with signature, confirmation tag and membership tag (1 + 32 bytes each here).
    const i = forged.length - 66 - 20;
    forged[i] = forged[i]! ^ 1;
    await expectRefused(pg, pg.processMessage(forged, { groupInfo: await p.groupInfo() }), "MESSAGE_INVALID_SIGNATURE");

    ({ pg } = await accept(pg, b, p, [a, c]));
    // The same commit again is for an epoch that is over.
    await expectRefused(pg, pg.processMessage(p.commit, { groupInfo: await p.groupInfo() }), "MESSAGE_WRONG_EPOCH");

    const [zoe] = await clients("zoe");
    const other = await Group.create({ provider, cipherSuite: 1, identity: zoe!.identity, config });
    await expectRefused(pg, pg.processMessage((await other.createCommit()).commit), "MESSAGE_WRONG_GROUP");
  });

  it("an application message (PrivateMessage) relabelled as a commit, and any non-PublicMessage", async () => {
    const { a, b, pg } = await aliceBobCharlie();
    const app = await a.encryptApplicationMessage(utf8("hello"));
    const m = decode(mlsMessageCodec, app);
    if (m.wireFormat !== WireFormat.privateMessage) throw new Error("private expected");
    const relabelled = encode(mlsMessageCodec, { wireFormat: WireFormat.privateMessage, privateMessage: { ...m.privateMessage, contentType: ContentType.commit } });
    await expectRefused(pg, pg.processMessage(relabelled), "MESSAGE_WIRE_FORMAT_REJECTED");
    await expectRefused(pg, pg.processMessage(app), "MESSAGE_WIRE_FORMAT_REJECTED");
    // A Welcome (junk or not) is no handshake: the roster never comes from one.
    const [pam] = await clients("pam");
    const junk = await b.createCommit({ add: [(await keyPackageFor(pam!)).message] });
    await expectRefused(pg, pg.processMessage(junk.welcome!), "MESSAGE_WIRE_FORMAT_REJECTED");
    expect(pg.members().map((x) => x.leafIndex)).toEqual([0, 1, 2]);
  });

  it("commits that remove or reference without a valid proposal", async () => {
    const { a, b, pg } = await aliceBobCharlie();
    // A commit naming a proposal the DS never saw.
    const unknown = await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [{ type: 2, reference: new Uint8Array(32).fill(7) }] } });
    await expectRefused(pg, pg.processMessage(unknown.message), "PROPOSAL_UNKNOWN_REFERENCE");
    // An empty commit without a path (the "silent remove" of the issue: nothing is removed without a Remove).
    const empty = await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [] } });
    await expectRefused(pg, pg.processMessage(empty.message), "COMMIT_MISSING_PATH");
    // Removing a blank leaf, removing oneself, removing twice.
    const remove = (l: number) => ({ type: 1 as const, proposal: { proposalType: ProposalType.remove, removed: leafIndex(l) } });
    await expectRefused(pg, pg.processMessage((await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [remove(7)] } })).message), "PROPOSAL_REMOVE_BLANK_LEAF");
    await expectRefused(pg, pg.processMessage((await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [remove(1)] } })).message), "PROPOSAL_REMOVE_COMMITTER");
    await expectRefused(
      pg,
      pg.processMessage((await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [remove(2), remove(2)] } })).message),
      "PROPOSAL_DUPLICATE_UPDATE_OR_REMOVE",
    );
    // A forged proposal (an Update from a member whose leaf signature is not its own) is refused on receipt, not cached.
    const badUpdate = await forge(provider, b, { contentType: ContentType.proposal, proposal: { proposalType: ProposalType.update, leafNode: a.members[0]!.leafNode } });
    await expectRefused(pg, pg.processMessage(badUpdate.message), "LEAF_NODE_INVALID_SOURCE");
  });

  it("a commit header claiming a blank or absent leaf (the phantom's forged commits)", async () => {
    const { b, pg } = await aliceBobCharlie();
    const real = decode(mlsMessageCodec, (await b.createCommit()).commit);
    b.clearPendingCommit();
    if (real.wireFormat !== WireFormat.publicMessage) throw new Error("public commit expected");
    for (const leaf of [3, 9]) {
      const pm = real.publicMessage;
      const relabelled = encode(mlsMessageCodec, {
        wireFormat: WireFormat.publicMessage,
        publicMessage: { ...pm, content: { ...pm.content, sender: { senderType: SenderType.member, leafIndex: leafIndex(leaf) } } },
      });
      await expectRefused(pg, pg.processMessage(relabelled), "MESSAGE_INVALID_SENDER");
    }
  });

  it("any corrupted byte of a commit is refused by code (only the unverifiable membership tag may differ)", async () => {
    const { b, pg } = await aliceBobCharlie();
    const p = await b.createCommit();
    const tagStart = p.commit.length - 32; // membership_tag's value: a MAC a non-member cannot check
    let accepted = 0;
    for (let i = 0; i < p.commit.length; i += Math.max(1, Math.floor(p.commit.length / 300))) {
      const bad = p.commit.slice();
      bad[i] = bad[i]! ^ 0x5a;
      try {
        await pg.processMessage(bad, { groupInfo: await p.groupInfo() });
        expect(i, `byte ${i} changed and the commit was still accepted`).toBeGreaterThanOrEqual(tagStart);
        accepted++;
      } catch (e) {
        expect(e, `byte ${i}: ${String(e)}`).toBeInstanceOf(MlsError);
      }
    }
    expect(accepted).toBeLessThanOrEqual(32);
  });

  it("a path with a bad parent hash", async () => {
    const { b, pg } = await aliceBobCharlie();
    const real = decode(mlsMessageCodec, (await b.createCommit()).commit);
    b.clearPendingCommit();
    if (real.wireFormat !== WireFormat.publicMessage || real.publicMessage.content.contentType !== ContentType.commit) throw new Error("public commit expected");
    const path = real.publicMessage.content.commit.path!;
    // Another public key on the path: the committer's leaf no longer carries the path's parent hash.
    const nodes = path.nodes.map((n, i) => (i === 0 ? { ...n, encryptionKey: pg.members()[2]!.leafNode.encryptionKey.slice().fill(9) } : n));
    const bad = await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [], path: { leafNode: path.leafNode, nodes } } });
    await expectRefused(pg, pg.processMessage(bad.message), "TREE_INVALID_PARENT_HASH");
  });

  it("a GroupInfo whose tree hash disagrees, or signed by someone else", async () => {
    const { a, b, pg } = await aliceBobCharlie();
    // Asked while pending: a dropped commit's GroupInfo is not signed afterwards.
    const firstGroupInfo = await (await b.createCommit()).groupInfo();
    b.clearPendingCommit();
    const second = await b.createCommit();
    // The first commit's GroupInfo describes another tree (other path keys).
    await expectRefused(pg, pg.processMessage(second.commit, { groupInfo: firstGroupInfo }), "GROUP_INFO_MISMATCH");
    // Alice's GroupInfo of the current epoch is not for the next one.
    await expectRefused(pg, pg.processMessage(second.commit, { groupInfo: await a.groupInfo() }), "GROUP_INFO_MISMATCH");
    const r = asCommit(await pg.processMessage(second.commit, { groupInfo: await second.groupInfo() }));
    expect(r.epoch).toBe(2n);
  });

  it("an external commit resyncing someone else's leaf", async () => {
    const { b, pg } = await aliceBobCharlie();
    const [eve] = await clients("eve");
    // Eve's own library is talked into it; the DS is not.
    const evil = await Group.joinExternal(pg.groupInfo!, { provider, identity: eve!.identity, removeLeaf: b.ownLeafIndex, config: { ...config, sameIdentity: () => true } });
    await expectRefused(pg, pg.processMessage(evil.commit, { groupInfo: evil.groupInfo }), "EXTERNAL_COMMIT_RESYNC_IDENTITY");
  });

  it("a GroupInfo and tree that do not check out cannot start a public group", async () => {
    const { a, b, pg } = await aliceBobCharlie();
    const gi = await a.groupInfo({ ratchetTree: false });
    await expectCode(PublicGroup.fromGroupInfo(provider, gi), "WELCOME_MISSING_RATCHET_TREE");
    // A tree from another epoch does not hash to the GroupContext's tree hash.
    const [zoe] = await clients("zoe");
    const other = await Group.create({ provider, cipherSuite: 1, identity: zoe!.identity, config });
    // Signer leaf 0 of that tree is Zoe, not Alice: the signature does not verify.
    await expectCode(PublicGroup.fromGroupInfo(provider, gi, { ratchetTree: other.ratchetTree() }), "GROUP_INFO_INVALID_SIGNATURE");
    // The next epoch's GroupInfo with this epoch's tree: the signer's key is the same, the tree hash is not.
    const next = await b.createCommit({ ratchetTreeExtension: false });
    await expectCode(PublicGroup.fromGroupInfo(provider, await next.groupInfo(), { ratchetTree: pg.ratchetTree() }), "TREE_INVALID_TREE_HASH");
    expect((await PublicGroup.fromGroupInfo(provider, await next.groupInfo(), { ratchetTree: next.ratchetTree })).epoch).toBe(2n);
    // A stored state whose tree was altered no longer matches its tree hash; a truncated one does not decode.
    const stored = Buffer.from(pg.serialize());
    const at = stored.indexOf(Buffer.from(pg.members()[1]!.leafNode.signatureKey));
    expect(at).toBeGreaterThan(0);
    stored[at] = stored[at]! ^ 0xff;
    await expectCode(() => PublicGroup.deserialize(stored, provider), "GROUP_STATE_INVALID");
    await expectCode(() => PublicGroup.deserialize(pg.serialize().subarray(0, 100), provider), "GROUP_STATE_INVALID");
  });
});
