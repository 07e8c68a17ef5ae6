/**
 * SelfRemove (draft-ietf-mls-extensions "SelfRemove Proposal"): a member
 * leaves by proposing its own removal; another member commits it by
 * reference, which removes the proposal sender's leaf.
 */
import { describe, expect, it } from "vitest";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { Group } from "../src/group/index.js";
import { ContentType, ExtensionType, ProposalType } from "../src/messages/enums.js";
import { makeExtension } from "../src/messages/extension.js";
import { requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { baseConfig, deliverCommit, expectCode, expectInSync, forge, keyPackageFor, makeClient } from "./group-support.js";

const provider = nodeCryptoProvider;
const SR = { proposals: [ProposalType.selfRemove] };

/** alice (0), bob (1), carol (2); every leaf supports SelfRemove unless `carolCaps` is false. */
async function threeMembers(carolCaps = true): Promise<Group[]> {
  const [a, b, c] = await Promise.all(["alice", "bob", "carol"].map((n) => makeClient(provider, 1, n)));
  const alice = await Group.create({ provider, cipherSuite: 1, identity: a!.identity, capabilities: SR, config: baseConfig });
  const kb = await keyPackageFor(b!, SR);
  const kc = await keyPackageFor(c!, carolCaps ? SR : undefined);
  const pending = await alice.createCommit({ add: [kb.message, kc.message] });
  alice.mergePendingCommit();
  const joined = await Promise.all([kb, kc].map((k) => Group.join(pending.welcome!, { provider, keyPackages: [k], config: baseConfig })));
  return [alice, ...joined];
}

describe("SelfRemove", () => {
  it("a member's SelfRemove, committed by reference by another member, removes its leaf everywhere", async () => {
    const [alice, bob, carol] = await threeMembers();
    const sent = await bob!.proposeSelfRemove();
    for (const g of [alice!, carol!]) {
      const r = await g.processMessage(sent.message);
      expect(r.kind).toBe("proposal");
      if (r.kind === "proposal") expect(r.sender).toEqual({ senderType: 1, leafIndex: 1 });
    }
    // The leaver cannot commit its own SelfRemove: its commit would leave it out.
    const own = bob!.pendingProposals.filter((p) => p.own);
    expect(own.map((p) => p.proposal.proposalType)).toEqual([ProposalType.selfRemove]);

    const commit = await alice!.createCommit();
    expect(commit.removed.map((r) => r.leafIndex)).toEqual([1]);
    const staged = await bob!.processMessage(commit.commit);
    expect(staged.kind).toBe("commit");
    if (staged.kind === "commit") {
      expect(staged.staged.selfRemoved).toBe(true);
      bob!.mergeStagedCommit(staged.staged);
    }
    expect(bob!.isActive).toBe(false);
    await deliverCommit(alice!, commit.commit, [carol!]);
    expectInSync([alice!, carol!]);
    expect(alice!.members.map((m) => m.leafIndex)).toEqual([0, 2]);
    // The group still works after the leaver is gone.
    const msg = await carol!.encryptApplicationMessage(new Uint8Array([7]));
    const got = await alice!.processMessage(msg);
    expect(got.kind === "application" && got.data).toEqual(new Uint8Array([7]));
  });

  it("is sent as a PublicMessage even when the group sends handshakes privately, and only once per epoch", async () => {
    const [, bob] = await threeMembers();
    const sent = await bob!.proposeSelfRemove();
    // wire_format (u16 after the version) = mls_public_message (1)
    expect((sent.message[2]! << 8) | sent.message[3]!).toBe(1);
    await expectCode(bob!.proposeSelfRemove(), "PROPOSAL_SELF_REMOVE_REPEATED");
  });

  it("is refused in a group where some member does not support it", async () => {
    const [alice, bob] = await threeMembers(false);
    await expectCode(bob!.proposeSelfRemove(), "PROPOSAL_UNSUPPORTED_TYPE");
    // ...and a receiver refuses one forged anyway.
    const forged = await forge(provider, bob!, { contentType: ContentType.proposal, proposal: { proposalType: ProposalType.selfRemove } });
    await expectCode(alice!.processMessage(forged.message), "PROPOSAL_UNSUPPORTED_TYPE");
  });

  it("is refused as a PrivateMessage", async () => {
    const [alice, bob] = await threeMembers();
    const forged = await forge(provider, bob!, { contentType: ContentType.proposal, proposal: { proposalType: ProposalType.selfRemove } }, "private");
    await expectCode(alice!.processMessage(forged.message), "MESSAGE_WIRE_FORMAT_REJECTED");
  });

  it("may not be committed by value", async () => {
    const [alice, bob] = await threeMembers();
    await expectCode(alice!.createCommit({ proposals: [{ proposalType: ProposalType.selfRemove }] }), "PROPOSAL_SELF_REMOVE_BY_VALUE");
    // A forged commit carrying one by value is refused by receivers.
    const forged = await forge(provider, alice!, {
      contentType: ContentType.commit,
      commit: { proposals: [{ type: 1, proposal: { proposalType: ProposalType.selfRemove } }] },
    });
    await expectCode(bob!.processMessage(forged.message), "PROPOSAL_SELF_REMOVE_BY_VALUE");
  });

  it("beats a pending Remove of the same leaf: the commit removes the leaf once", async () => {
    const [alice, bob, carol] = await threeMembers();
    const rm = await carol!.proposeRemove(leafIndex(1));
    const sr = await bob!.proposeSelfRemove();
    for (const m of [rm.message, sr.message]) await alice!.processMessage(m);
    const commit = await alice!.createCommit();
    expect(commit.removed.map((r) => r.leafIndex)).toEqual([1]);
    await carol!.processMessage(sr.message);
    await deliverCommit(alice!, commit.commit, [carol!]);
    expectInSync([alice!, carol!]);
  });

  it("receivers refuse a commit with a SelfRemove and a Remove of the same leaf, or the committer's own SelfRemove", async () => {
    const [alice, bob, carol] = await threeMembers();
    const sr = await bob!.proposeSelfRemove();
    const rm = await carol!.proposeRemove(leafIndex(1));
    for (const g of [alice!, carol!]) await g.processMessage(sr.message);
    await alice!.processMessage(rm.message);
    const both = await forge(provider, alice!, {
      contentType: ContentType.commit,
      commit: {
        proposals: [
          { type: 2, reference: sr.ref },
          { type: 2, reference: rm.ref },
        ],
      },
    });
    await expectCode(carol!.processMessage(both.message), "PROPOSAL_DUPLICATE_UPDATE_OR_REMOVE");
    // Bob commits his own SelfRemove: he cannot remove himself by his own commit.
    await bob!.processMessage(rm.message).catch(() => undefined);
    const own = await forge(provider, bob!, { contentType: ContentType.commit, commit: { proposals: [{ type: 2, reference: sr.ref }] } });
    await expectCode(alice!.processMessage(own.message), "PROPOSAL_REMOVE_COMMITTER");
  });

  it("a received SelfRemove must be committed before sending application data", async () => {
    const [alice, bob] = await threeMembers();
    const sr = await bob!.proposeSelfRemove();
    await alice!.processMessage(sr.message);
    await expectCode(alice!.encryptApplicationMessage(new Uint8Array([1])), "GROUP_UNCOMMITTED_PROPOSALS");
  });

  it("required_capabilities listing SelfRemove keeps out a KeyPackage without it", async () => {
    const [a, b] = await Promise.all(["alice", "bob"].map((n) => makeClient(provider, 1, n)));
    const required = makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes: [], proposalTypes: [ProposalType.selfRemove], credentialTypes: [] });
    const alice = await Group.create({ provider, cipherSuite: 1, identity: a!.identity, capabilities: SR, extensions: [required], config: baseConfig });
    const kb = await keyPackageFor(b!);
    await expectCode(alice.createCommit({ add: [kb.message] }), "LEAF_NODE_INVALID_CAPABILITIES");
    const ok = await keyPackageFor(b!, SR);
    const pending = await alice.createCommit({ add: [ok.message] });
    expect(pending.added.length).toBe(1);
  });
});
