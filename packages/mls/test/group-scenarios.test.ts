/**
 * Group scenarios (RFC 9420 §11, §12): three and more members that exchange
 * nothing but bytes, through every operation — create, Welcome join (with and
 * without the ratchet_tree extension), Add/Update/Remove/PSK/
 * GroupContextExtensions by value and by reference, commits with and without
 * a path, pending commits merged, cleared and raced, application messages
 * (late ones too), and serialisation in the middle of it all.
 */
import { describe, expect, it } from "vitest";
import { bytesEqual, utf8 } from "../src/codec/bytes.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { createExternalProposal, createNewMemberProposal, Group } from "../src/group/index.js";
import { decode } from "../src/codec/tls.js";
import { ExtensionType, ProposalType, SenderType, WireFormat } from "../src/messages/enums.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { PublicRatchetTree } from "../src/tree/ratchetTree.js";
import { makeExtension } from "../src/messages/extension.js";
import { externalSendersCodec, requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import { baseConfig, deliverCommit, expectCode, expectInSync, keyPackageFor, makeClient, type Client } from "./group-support.js";

const provider = nodeCryptoProvider;

async function threeMembers(suiteId = 1, config = baseConfig, ratchetTreeExtension = true) {
  const [alice, bob, charlie] = await Promise.all(["alice", "bob", "charlie"].map((n) => makeClient(provider, suiteId, n)));
  const a = await Group.create({ provider, cipherSuite: suiteId as 1, identity: alice!.identity, config });
  const [kb, kc] = await Promise.all([keyPackageFor(bob!), keyPackageFor(charlie!)]);
  const pending = await a.createCommit({ add: [kb.message, kc.message], ratchetTreeExtension });
  expect(pending.added.map((x) => x.leafIndex)).toEqual([1, 2]);
  expect(a.epoch).toBe(0n);
  a.mergePendingCommit();
  const tree = ratchetTreeExtension ? {} : { ratchetTree: pending.ratchetTree };
  const b = await Group.join(pending.welcome!, { provider, keyPackages: [kb], config, ...tree });
  const c = await Group.join(pending.welcome!, { provider, keyPackages: [kc], config, ...tree });
  return { clients: { alice: alice!, bob: bob!, charlie: charlie! }, a, b, c };
}

async function exchange(sender: Group, receivers: Group[], text: string): Promise<void> {
  const msg = await sender.encryptApplicationMessage(utf8(text), utf8("aad"));
  for (const r of receivers) {
    const got = await r.processMessage(msg);
    if (got.kind !== "application") throw new Error(`expected application data, got ${got.kind}`);
    expect(new TextDecoder().decode(got.data)).toBe(text);
    expect(got.authenticatedData).toEqual(utf8("aad"));
    expect(got.sender).toBe(sender.ownLeafIndex);
  }
}

describe("Group scenarios", () => {
  for (const suiteId of [1, 2, 3, 4, 5, 6, 7]) {
    it(`suite ${suiteId}: create, add two by Welcome, talk, update, remove`, async () => {
      const { a, b, c } = await threeMembers(suiteId);
      expectInSync([a, b, c]);
      expect(a.members.length).toBe(3);
      await exchange(a, [b, c], "hello from alice");
      await exchange(c, [a, b], "hello from charlie");

      // Bob proposes an Update; Charlie commits it by reference.
      const upd = await b.proposeUpdate();
      for (const g of [a, c]) expect((await g.processMessage(upd.message)).kind).toBe("proposal");
      const oldBobKey = b.member(b.ownLeafIndex)!.leafNode.encryptionKey;
      const commit = await c.createCommit();
      expect(commit.proposals.map((p) => p.proposal.proposalType)).toEqual([ProposalType.update]);
      expect(commit.proposals[0]!.ref).toEqual(upd.ref);
      await deliverCommit(c, commit.commit, [a, b]);
      expectInSync([a, b, c]);
      expect(bytesEqual(b.member(b.ownLeafIndex)!.leafNode.encryptionKey, oldBobKey)).toBe(false);

      // Alice removes Charlie by value.
      const rm = await a.createCommit({ remove: [c.ownLeafIndex] });
      const staged = await c.processMessage(rm.commit);
      if (staged.kind !== "commit") throw new Error("expected commit");
      expect(staged.staged.selfRemoved).toBe(true);
      c.mergeStagedCommit(staged.staged);
      expect(c.isActive).toBe(false);
      await deliverCommit(a, rm.commit, [b]);
      expectInSync([a, b]);
      expect(a.members.map((m) => m.leafIndex)).toEqual([0, 1]);
      await exchange(b, [a], "just us");
      await expectCode(c.encryptApplicationMessage(utf8("still here?")), "GROUP_INACTIVE");
    });
  }

  it("joins without the ratchet_tree extension when the tree comes out of band", async () => {
    const { a, b, c } = await threeMembers(1, baseConfig, false);
    expectInSync([a, b, c]);
    await exchange(b, [a, c], "tree delivered separately");
  });

  it("a commit's ratchetTree is its epoch's tree: read two epochs later, spread, restored, or from the GroupInfo", async () => {
    const { a, b, c } = await threeMembers();
    // Not in the GroupInfo: the bytes are encoded when first read, here two epochs later.
    const p1 = await a.createCommit({ ratchetTreeExtension: false });
    const restored = Group.deserialize(a.serialize(), provider, baseConfig).pendingCommit!;
    await deliverCommit(a, p1.commit, [b, c]);
    const epoch1 = a.ratchetTree();
    const p2 = await b.createCommit({ remove: [c.ownLeafIndex] });
    await deliverCommit(b, p2.commit, [a]);
    expect(bytesEqual(a.ratchetTree(), epoch1)).toBe(false);
    expect(p1.ratchetTree).toEqual(epoch1);
    expect({ ...p1 }.ratchetTree).toEqual(epoch1);
    expect(restored.ratchetTree).toEqual(epoch1);
    // In the GroupInfo (the default): the same bytes as its ratchet_tree extension.
    const gi = decode(mlsMessageCodec, await p2.groupInfo());
    if (gi.wireFormat !== WireFormat.groupInfo) throw new Error("expected a GroupInfo");
    expect(gi.groupInfo.extensions.find((e) => e.extensionType === ExtensionType.ratchetTree)?.extensionData).toEqual(p2.ratchetTree);
    expect(p2.ratchetTree).toEqual(a.ratchetTree());
    // Re-encoding a decoded tree gives the bytes back.
    expect(PublicRatchetTree.decode(provider.suite(1), epoch1).encode()).toEqual(epoch1);
  });

  it("commits without a path when only Adds are covered, and the joiner needs no path secret", async () => {
    const { a, b, c } = await threeMembers();
    const dave = await makeClient(provider, 1, "dave");
    const kd = await keyPackageFor(dave);
    const p = await b.createCommit({ add: [kd.message], path: "whenRequired" });
    const d = await Group.join(p.welcome!, { provider, keyPackages: [kd], config: baseConfig });
    await deliverCommit(b, p.commit, [a, c]);
    expectInSync([a, b, c, d]);
    await exchange(d, [a, b, c], "hi, I'm dave");
  });

  it("an empty commit always carries a path and rotates the committer's keys", async () => {
    const { a, b, c } = await threeMembers();
    const before = a.member(a.ownLeafIndex)!.leafNode.encryptionKey;
    const p = await a.createCommit({ path: "whenRequired" });
    await deliverCommit(a, p.commit, [b, c]);
    expectInSync([a, b, c]);
    expect(bytesEqual(a.member(a.ownLeafIndex)!.leafNode.encryptionKey, before)).toBe(false);
  });

  it("proposals by reference from several members: Add, Remove, PSK, GroupContextExtensions", async () => {
    const psk = utf8("an external psk shared out of band");
    const pskId = utf8("psk-1");
    const config = { ...baseConfig, externalPsks: (id: Uint8Array) => (bytesEqual(id, pskId) ? psk : undefined) };
    const { a, b, c } = await threeMembers(1, config);
    const erin = await makeClient(provider, 1, "erin");
    const ke = await keyPackageFor(erin);

    const props = [
      await a.proposeAdd(ke.message),
      await b.proposePreSharedKey(b.externalPskId(pskId)),
      await c.proposeGroupContextExtensions([makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes: [], proposalTypes: [], credentialTypes: [1] })]),
      await b.proposeRemove(c.ownLeafIndex),
    ];
    for (const p of props) {
      for (const g of [a, b, c]) await g.processMessage(p.message);
    }
    // Proposals were seen: application data must wait for a commit.
    await expectCode(a.encryptApplicationMessage(utf8("too early")), "GROUP_UNCOMMITTED_PROPOSALS");
    const commit = await a.createCommit();
    expect(commit.proposals.length).toBe(4);
    expect(commit.proposals.every((p) => p.ref !== undefined)).toBe(true);
    const e = await Group.join(commit.welcome!, { provider, keyPackages: [ke], config });
    const rc = await c.processMessage(commit.commit);
    expect(rc.kind === "commit" && rc.staged.selfRemoved).toBe(true);
    await deliverCommit(a, commit.commit, [b]);
    expectInSync([a, b, e]);
    expect(a.extensions.map((x) => x.extensionType)).toEqual([ExtensionType.requiredCapabilities]);
    await exchange(e, [a, b], "welcome erin");
  });

  it("a resumption PSK of an earlier epoch is injected by value", async () => {
    const { a, b, c } = await threeMembers();
    const first = a.epoch;
    const p1 = await b.createCommit();
    await deliverCommit(b, p1.commit, [a, c]);
    const p2 = await c.createCommit({ proposals: [{ proposalType: ProposalType.psk, psk: c.resumptionPskId(first) }], path: "whenRequired" });
    expect(p2.proposals.length).toBe(1);
    await deliverCommit(c, p2.commit, [a, b]);
    expectInSync([a, b, c]);
  });

  it("handshakes as PublicMessage when configured, and policy can insist on it", async () => {
    const config = { ...baseConfig, handshakeWireFormat: "public" as const, acceptHandshake: "public" as const };
    const { a, b, c } = await threeMembers(1, config);
    const p = await b.createCommit();
    expect(p.commit[3]).toBe(1); // MLSMessage wire_format public_message
    await deliverCommit(b, p.commit, [a, c]);
    expectInSync([a, b, c]);
    const priv = await a.createCommit({ wireFormat: "private" });
    await expectCode(b.processMessage(priv.commit), "MESSAGE_WIRE_FORMAT_REJECTED");
  });

  it("two committers race: the DS keeps one, the loser merges it and drops its own", async () => {
    const { a, b, c } = await threeMembers();
    const pa = await a.createCommit();
    const pb = await b.createCommit();
    await expectCode(a.createCommit(), "GROUP_PENDING_COMMIT");
    // The DS accepted Bob's commit.
    const ra = await a.processMessage(pb.commit);
    if (ra.kind !== "commit") throw new Error("expected commit");
    a.mergeStagedCommit(ra.staged);
    expect(a.pendingCommit).toBeUndefined();
    await deliverCommit(b, pb.commit, [c]);
    expectInSync([a, b, c]);
    // Alice's commit is for an old epoch now.
    await expectCode(c.processMessage(pa.commit), "MESSAGE_WRONG_EPOCH");
    await exchange(a, [b, c], "after the race");
  });

  it("our commit echoed by the DS is recognised, merged before or not", async () => {
    const { a, b, c } = await threeMembers();
    const p = await a.createCommit();
    const echo = await a.processMessage(p.commit);
    expect(echo.kind === "ownCommit" && !echo.alreadyMerged && echo.epoch).toBe(2n);
    const again = await a.processMessage(p.commit);
    expect(again.kind === "ownCommit" && again.alreadyMerged).toBe(true);
    await deliverCommit(a, p.commit, [b, c]);
    for (const g of [b, c]) expect(g.epoch).toBe(2n);
    const q = await b.createCommit();
    b.mergePendingCommit(); // the DS answered 200 before echoing the commit
    const late = await b.processMessage(q.commit);
    expect(late.kind === "ownCommit" && late.alreadyMerged && late.epoch).toBe(3n);
    for (const g of [a, c]) {
      const r = await g.processMessage(q.commit);
      if (r.kind !== "commit") throw new Error("expected commit");
      g.mergeStagedCommit(r.staged);
    }
    expectInSync([a, b, c]);
  });

  it("a cleared pending commit leaves the epoch as it was", async () => {
    const { a, b, c } = await threeMembers();
    const dave = await makeClient(provider, 1, "dave");
    const p = await a.createCommit({ add: [(await keyPackageFor(dave)).message] });
    a.clearPendingCommit();
    expect(a.pendingCommit).toBeUndefined();
    await expectCode(() => a.mergePendingCommit(), "GROUP_NO_PENDING_COMMIT");
    expect(a.members.length).toBe(3);
    await exchange(a, [b, c], "nothing happened");
    const again = await a.createCommit();
    await deliverCommit(a, again.commit, [b, c]);
    expectInSync([a, b, c]);
    expect(p.epoch).toBe(again.epoch);
  });

  it("late application messages of the previous epoch still decrypt, older ones do not", async () => {
    const config = { ...baseConfig, maxPastEpochs: 1 };
    const { a, b, c } = await threeMembers(1, config);
    const late1 = await c.encryptApplicationMessage(utf8("sent in epoch 1"));
    const p = await a.createCommit();
    await deliverCommit(a, p.commit, [b, c]);
    const got = await b.processMessage(late1);
    expect(got.kind === "application" && got.epoch === 1n && new TextDecoder().decode(got.data)).toBe("sent in epoch 1");
    const late2 = await c.encryptApplicationMessage(utf8("sent in epoch 2"));
    const p2 = await b.createCommit();
    await deliverCommit(b, p2.commit, [a, c]);
    const late3 = await c.encryptApplicationMessage(utf8("sent in epoch 3"));
    const p3 = await c.createCommit();
    await deliverCommit(c, p3.commit, [a, b]);
    await expectCode(a.processMessage(late2), "GROUP_EPOCH_EXPIRED");
    const ok = await a.processMessage(late3);
    expect(ok.kind).toBe("application");
  });

  it("serialises and restores mid-conversation, a pending commit included", async () => {
    const { a, b, c } = await threeMembers();
    await exchange(a, [b, c], "before");
    const upd = await c.proposeUpdate();
    for (const g of [a, b]) await g.processMessage(upd.message);

    // Restore Bob from bytes: the cached proposal survives.
    const b2 = Group.deserialize(b.serialize(), provider, baseConfig);
    expect(b2.pendingProposals.map((p) => p.ref)).toEqual([upd.ref]);
    const pending = await a.createCommit();
    // Restore Alice with her pending commit, then let the DS echo it.
    const a2 = Group.deserialize(a.serialize(), provider, baseConfig);
    expect(a2.pendingCommit?.commit).toEqual(pending.commit);
    await deliverCommit(a2, pending.commit, [b2, c]);
    expectInSync([a2, b2, c]);
    await exchange(b2, [a2, c], "after restore");
    await exchange(c, [a2, b2], "and back");
    // Restoring again yields the same bytes.
    expect(Group.deserialize(b2.serialize(), provider, baseConfig).serialize()).toEqual(b2.serialize());
  });

  it("a new member joins by external commit, and a member resyncs by one", async () => {
    const { clients, a, b, c } = await threeMembers();
    const dave = await makeClient(provider, 1, "dave");
    const gi = await a.groupInfo();
    const joined = await Group.joinExternal(gi, { provider, identity: dave.identity, config: baseConfig });
    const d = joined.group;
    for (const g of [a, b, c]) {
      const r = await g.processMessage(joined.commit);
      if (r.kind !== "commit") throw new Error("expected commit");
      expect(r.staged.externalJoiner?.leafIndex).toBe(3);
      g.mergeStagedCommit(r.staged);
    }
    expectInSync([a, b, c, d]);
    await exchange(d, [a, b, c], "joined from the outside");

    // Bob lost his state: he rejoins with the GroupInfo the DS kept, removing his old leaf.
    const resync = await Group.joinExternal(joined.groupInfo, { provider, identity: clients.bob.identity, removeLeaf: b.ownLeafIndex, config: baseConfig });
    const r = await b.processMessage(resync.commit);
    expect(r.kind === "commit" && r.staged.selfRemoved).toBe(true);
    for (const g of [a, c, d]) {
      const rr = await g.processMessage(resync.commit);
      if (rr.kind !== "commit") throw new Error("expected commit");
      g.mergeStagedCommit(rr.staged);
    }
    const b2 = resync.group;
    expect(b2.ownLeafIndex).toBe(1);
    expectInSync([a, b2, c, d]);
    await exchange(b2, [a, c, d], "back again");
  });

  it("no external commit without external_pub", async () => {
    const { a } = await threeMembers();
    const eve = await makeClient(provider, 1, "eve");
    await expectCode(Group.joinExternal(await a.groupInfo({ externalPub: false }), { provider, identity: eve.identity, config: baseConfig }), "EXTERNAL_COMMIT_NO_EXTERNAL_PUB");
  });

  it("proposals from an external sender and from a would-be member are committed by reference", async () => {
    const ds = await makeClient(provider, 1, "delivery-service");
    const config = baseConfig;
    const [alice, bob, dave] = await Promise.all(["alice", "bob", "dave"].map((n) => makeClient(provider, 1, n)));
    const a = await Group.create({
      provider,
      cipherSuite: 1,
      identity: alice!.identity,
      extensions: [makeExtension(ExtensionType.externalSenders, externalSendersCodec, [{ signatureKey: ds.identity.signaturePublicKey, credential: ds.identity.credential }])],
      config,
    });
    const kb = await keyPackageFor(bob!);
    const p = await a.createCommit({ add: [kb.message] });
    a.mergePendingCommit();
    const b = await Group.join(p.welcome!, { provider, keyPackages: [kb], config });
    const suite = provider.suite(1);

    // The DS asks for Dave to be added; Dave asks for himself too (a second client of his).
    const kd = await keyPackageFor(dave!);
    const fromDs = await createExternalProposal(
      { suite, groupId: a.groupId, epoch: a.epoch, proposal: { proposalType: ProposalType.add, keyPackage: kd.keyPackage } },
      { senderIndex: 0, signaturePrivateKey: ds.identity.signaturePrivateKey },
    );
    for (const g of [a, b]) {
      const r = await g.processMessage(fromDs.message);
      expect(r.kind === "proposal" && r.sender.senderType).toBe(SenderType.external);
    }
    const commit = await b.createCommit();
    expect(commit.proposals.map((x) => x.ref)).toEqual([fromDs.ref]);
    const d = await Group.join(commit.welcome!, { provider, keyPackages: [kd], config });
    await deliverCommit(b, commit.commit, [a]);
    expectInSync([a, b, d]);

    const erin = await makeClient(provider, 1, "erin");
    const ke = await keyPackageFor(erin);
    const self = await createNewMemberProposal({ suite, groupId: a.groupId, epoch: a.epoch }, ke.keyPackage, erin.identity.signaturePrivateKey);
    for (const g of [a, b, d]) expect((await g.processMessage(self.message)).kind).toBe("proposal");
    const c2 = await d.createCommit();
    const e = await Group.join(c2.welcome!, { provider, keyPackages: [ke], config });
    await deliverCommit(d, c2.commit, [a, b]);
    expectInSync([a, b, d, e]);

    // An index outside external_senders is nobody.
    const stranger = await createExternalProposal(
      { suite, groupId: a.groupId, epoch: a.epoch, proposal: { proposalType: ProposalType.remove, removed: b.ownLeafIndex } },
      { senderIndex: 3, signaturePrivateKey: ds.identity.signaturePrivateKey },
    );
    await expectCode(a.processMessage(stranger.message), "MESSAGE_INVALID_SENDER");
  });

  it("reinitialises into a new suite: ReInit committed, new group welcomed with the reinit PSK", async () => {
    const { a, b, c } = await threeMembers();
    const reinit = await b.proposeReInit({ cipherSuite: 3 });
    for (const g of [a, c]) await g.processMessage(reinit.message);
    const p = await a.createCommit();
    expect(p.proposals.map((x) => x.proposal.proposalType)).toEqual([ProposalType.reinit]);
    await deliverCommit(a, p.commit, [b, c]);
    for (const g of [a, b, c]) expect(g.reinitPending?.cipherSuite).toBe(3);
    await expectCode(a.encryptApplicationMessage(utf8("old group")), "GROUP_REINITIALIZED");
    await expectCode(b.createCommit(), "GROUP_REINITIALIZED");

    const [a3, b3, c3] = await Promise.all(["alice", "bob", "charlie"].map((n) => makeClient(provider, 3, n)));
    const [ka, kb] = await Promise.all([keyPackageFor(a3!), keyPackageFor(b3!)]);
    // Charlie alone does not make the whole group: the joiner refuses a new group missing old members.
    const partial = await c.reinitialize({ provider, identity: c3!.identity, keyPackages: [ka.message] });
    await expectCode(Group.join(partial.pending.welcome!, { provider, keyPackages: [ka], config: baseConfig, resumptionGroups: [a] }), "WELCOME_REINIT_MISMATCH");

    const { group: c2, pending } = await c.reinitialize({ provider, identity: c3!.identity, keyPackages: [ka.message, kb.message] });
    c2.mergePendingCommit();
    await expectCode(Group.join(pending.welcome!, { provider, keyPackages: [ka], config: baseConfig }), "PSK_INVALID");
    const a2 = await Group.join(pending.welcome!, { provider, keyPackages: [ka], config: baseConfig, resumptionGroups: [a] });
    const b2 = await Group.join(pending.welcome!, { provider, keyPackages: [kb], config: baseConfig, resumptionGroups: [b] });
    expect(a2.cipherSuite).toBe(3);
    expect(a2.epoch).toBe(1n);
    expect(a2.groupId).toEqual(a.reinitPending!.groupId);
    expectInSync([a2, b2, c2]);
    await exchange(b2, [a2, c2], "in the new group");
  });

  it("branches a subgroup linked by a branch PSK", async () => {
    const { clients, a, b } = await threeMembers();
    const kb = await keyPackageFor(clients.bob);
    const { group: a2, pending } = await a.branch({ provider, identity: clients.alice.identity, keyPackages: [kb.message] });
    a2.mergePendingCommit();
    const b2 = await Group.join(pending.welcome!, { provider, keyPackages: [kb], config: baseConfig, resumptionGroups: [b] });
    expectInSync([a2, b2]);
    expect(a2.epoch).toBe(1n);
    await exchange(a2, [b2], "just the two of us");
    // A branch may only hold members of the old group.
    const dave = await makeClient(provider, 1, "dave");
    const [kb2, kd] = await Promise.all([keyPackageFor(clients.bob), keyPackageFor(dave)]);
    const bad = await a.branch({ provider, identity: clients.alice.identity, keyPackages: [kb2.message, kd.message] });
    await expectCode(Group.join(bad.pending.welcome!, { provider, keyPackages: [kb2], config: baseConfig, resumptionGroups: [b] }), "WELCOME_BRANCH_MISMATCH");
  });

  it("runs with the web provider too", async () => {
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => makeClient(webCryptoProvider, 2, n)));
    const a = await Group.create({ provider: webCryptoProvider, cipherSuite: 2, identity: alice!.identity, config: baseConfig });
    const kps = await Promise.all([bob!, carol!].map((cl: Client) => keyPackageFor(cl)));
    const p = await a.createCommit({ add: kps.map((k) => k.message) });
    a.mergePendingCommit();
    const others = await Promise.all(kps.map((k) => Group.join(p.welcome!, { provider: webCryptoProvider, keyPackages: [k], config: baseConfig })));
    expectInSync([a, ...others]);
    const q = await others[0]!.createCommit({ remove: [others[1]!.ownLeafIndex] });
    await deliverCommit(others[0]!, q.commit, [a]);
    expectInSync([a, others[0]!]);
  });
});
