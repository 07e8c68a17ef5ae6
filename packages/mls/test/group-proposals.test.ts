/**
 * Proposal list rules (RFC 9420 §12.2, §12.4) at the function level — the
 * path-required rule and the external commit list — and how a committer
 * picks among conflicting pending proposals (§12.2's SHOULDs).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { utf8 } from "../src/codec/bytes.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { Group, isPathRequired } from "../src/group/index.js";
import { validateProposalList, type CommittedProposal } from "../src/group/proposals.js";
import { deserializeGroupState } from "../src/group/serialize.js";
import { resolveConfig } from "../src/group/groupConfig.js";
import { ExtensionType, ProposalType, PskType, SenderType } from "../src/messages/enums.js";
import { makeExtension } from "../src/messages/extension.js";
import { requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import type { Proposal } from "../src/messages/proposal.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { baseConfig, deliverCommit, expectCode, expectInSync, keyPackageFor, makeClient, type Client } from "./group-support.js";

const provider = nodeCryptoProvider;
const suite = provider.suite(1);
const remove = (l: number): Proposal => ({ proposalType: ProposalType.remove, removed: leafIndex(l) });
const externalInit: Proposal = { proposalType: ProposalType.externalInit, kemOutput: new Uint8Array(32) };
const psk: Proposal = { proposalType: ProposalType.psk, psk: { pskType: PskType.external, pskId: utf8("x"), pskNonce: new Uint8Array(32) } };
const member = { senderType: SenderType.member, leafIndex: leafIndex(1) } as const;
const joiner = { senderType: SenderType.newMemberCommit } as const;

describe("§12.4 path required", () => {
  it("is required for an empty commit and for Update/Remove/ExternalInit/GroupContextExtensions, not for Add/PSK/ReInit", () => {
    const of = (...ps: Proposal[]) => isPathRequired(ps.map((proposal) => ({ proposal })));
    expect(of()).toBe(true);
    expect(of(psk)).toBe(false);
    expect(of({ proposalType: ProposalType.reinit, groupId: utf8("g"), version: 1, cipherSuite: 1, extensions: [] })).toBe(false);
    expect(of(psk, remove(1))).toBe(true);
    expect(of(externalInit)).toBe(true);
    expect(of({ proposalType: ProposalType.groupContextExtensions, extensions: [] })).toBe(true);
  });
});

describe("§12.2 external commit lists", () => {
  let g: Group;
  let clients: Client[];
  beforeAll(async () => {
    clients = await Promise.all(["alice", "bob"].map((n) => makeClient(provider, 1, n)));
    g = await Group.create({ provider, cipherSuite: 1, identity: clients[0]!.identity, config: baseConfig });
    const kb = await keyPackageFor(clients[1]!);
    await g.createCommit({ add: [kb.message] });
    g.mergePendingCommit();
  });
  const check = (list: CommittedProposal[]) => {
    const { state } = deserializeGroupState(g.serialize(), provider, resolveConfig(undefined));
    validateProposalList({ suite, tree: state.tree, groupContext: state.groupContext, committer: { kind: "external" } }, list);
  };
  const by = (p: Proposal, ref?: Uint8Array): CommittedProposal => (ref === undefined ? { proposal: p, sender: joiner } : { proposal: p, sender: joiner, ref });
  it("accepts ExternalInit alone, with one Remove, with PSKs", () => {
    check([by(externalInit)]);
    check([by(externalInit), by(remove(1)), by(psk)]);
  });
  it("rejects a missing or repeated ExternalInit, two Removes, other proposals, references", async () => {
    await expectCode(() => check([by(psk)]), "EXTERNAL_COMMIT_INVALID_PROPOSALS");
    await expectCode(() => check([by(externalInit), by(externalInit)]), "EXTERNAL_COMMIT_INVALID_PROPOSALS");
    await expectCode(() => check([by(externalInit), by(remove(0)), by(remove(1))]), "EXTERNAL_COMMIT_INVALID_PROPOSALS");
    await expectCode(() => check([by(externalInit), by({ proposalType: ProposalType.groupContextExtensions, extensions: [] })]), "EXTERNAL_COMMIT_INVALID_PROPOSALS");
    await expectCode(() => check([by(externalInit), by(remove(1), new Uint8Array(32))]), "EXTERNAL_COMMIT_PROPOSAL_BY_REFERENCE");
    await expectCode(() => check([by(externalInit), by(remove(3))]), "PROPOSAL_REMOVE_BLANK_LEAF");
  });
  it("a member commit may not carry an ExternalInit even by reference", async () => {
    const { state } = deserializeGroupState(g.serialize(), provider, resolveConfig(undefined));
    await expectCode(
      () =>
        validateProposalList({ suite, tree: state.tree, groupContext: state.groupContext, committer: { kind: "member", leafIndex: leafIndex(0) } }, [
          { proposal: externalInit, sender: member, ref: new Uint8Array(32) },
        ]),
      "PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED",
    );
  });
  it("a resync must be by the member it removes", async () => {
    const eve = await makeClient(provider, 1, "eve");
    await expectCode(Group.joinExternal(await g.groupInfo(), { provider, identity: eve.identity, removeLeaf: leafIndex(1), config: baseConfig }), "EXTERNAL_COMMIT_RESYNC_IDENTITY");
  });
});

describe("a committer resolves conflicting pending proposals (§12.2 SHOULDs)", () => {
  async function four() {
    const cs = await Promise.all(["alice", "bob", "charlie", "dave"].map((n) => makeClient(provider, 1, n)));
    const a = await Group.create({ provider, cipherSuite: 1, identity: cs[0]!.identity, config: baseConfig });
    const kps = await Promise.all(cs.slice(1).map((c) => keyPackageFor(c)));
    const p = await a.createCommit({ add: kps.map((k) => k.message) });
    a.mergePendingCommit();
    const others = await Promise.all(kps.map((k) => Group.join(p.welcome!, { provider, keyPackages: [k], config: baseConfig })));
    return { cs, groups: [a, ...others] as [Group, Group, Group, Group] };
  }
  async function broadcast(groups: Group[], message: Uint8Array) {
    for (const g of groups) await g.processMessage(message);
  }

  it("a Remove beats an Update of the same leaf, the last of two GroupContextExtensions wins, our own Update and Remove are left out", async () => {
    const { groups } = await four();
    const [a, b, c, d] = groups;
    const rc = (types: number[]) => makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes: [], proposalTypes: [], credentialTypes: types });
    const props = [
      await b.proposeUpdate(),
      await c.proposeRemove(b.ownLeafIndex),
      await d.proposeGroupContextExtensions([rc([])]),
      await c.proposeGroupContextExtensions([rc([1])]),
      await a.proposeUpdate(),
      await b.proposeRemove(a.ownLeafIndex),
    ];
    for (const p of props) await broadcast(groups, p.message);
    const commit = await a.createCommit();
    expect(commit.proposals.map((p) => p.ref)).toEqual([props[1]!.ref, props[3]!.ref]);
    const rb = await b.processMessage(commit.commit);
    expect(rb.kind === "commit" && rb.staged.selfRemoved).toBe(true);
    await deliverCommit(a, commit.commit, [c, d]);
    expectInSync([a, c, d]);
    expect(a.extensions.length).toBe(1);
  });

  it("the first Add for a client wins, an Add of a member is dropped, a ReInit waits while other proposals exist", async () => {
    const { cs, groups } = await four();
    const [a, b, c, d] = groups;
    const erin = await makeClient(provider, 1, "erin");
    const [ke1, ke2, kbAgain] = await Promise.all([keyPackageFor(erin), keyPackageFor(erin), keyPackageFor(cs[1]!)]);
    // Bob's new KeyPackage is valid on its own; only in a list with Bob still a member is it invalid.
    const props = [await b.proposeAdd(ke1.message), await c.proposeAdd(ke2.message), await d.proposeReInit({ cipherSuite: 1 }), await c.proposeAdd(kbAgain.message)];
    for (const p of props) await broadcast(groups, p.message);
    await expectCode(a.createCommit({ includePendingProposals: false, add: [kbAgain.message] }), "PROPOSAL_ADD_EXISTING_MEMBER");
    const commit = await a.createCommit();
    expect(commit.proposals.map((p) => p.ref)).toEqual([props[0]!.ref]);
    await deliverCommit(a, commit.commit, [b, c, d]);
    expectInSync([a, b, c, d]);
    expect(a.reinitPending).toBeUndefined();
  });
});
