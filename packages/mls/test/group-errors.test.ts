/**
 * Every RFC 9420 §10.1 / §12.1 / §12.2 / §12.4 rule, broken on purpose, and
 * the MlsError code it must produce: on the committer's side (createCommit
 * refuses) and on the receiver's side (a commit or proposal forged with a
 * member's real keys is rejected), plus the Group's own state errors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { utf8 } from "../src/codec/bytes.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { Group, validateKeyPackage, type KeyPackageBundle } from "../src/group/index.js";
import type { Commit } from "../src/messages/commit.js";
import { ContentType, ExtensionType, LeafNodeSource, ProposalOrRefType, ProposalType, PskType, ResumptionPskUsage } from "../src/messages/enums.js";
import { makeExtension } from "../src/messages/extension.js";
import { requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import type { KeyPackage } from "../src/messages/keyPackage.js";
import type { LeafNode } from "../src/messages/leafNode.js";
import type { Proposal } from "../src/messages/proposal.js";
import type { PreSharedKeyId } from "../src/messages/psk.js";
import { leafIndex } from "../src/tree/treeMath.js";
import type { MlsErrorCode } from "../src/errors.js";
import { baseConfig, deliverCommit, expectCode, expectInSync, forge, keyPackageFor, makeClient, NOW, type Client } from "./group-support.js";

const provider = nodeCryptoProvider;
const suite = provider.suite(1);
const pskId = utf8("known-psk");
const config = { ...baseConfig, externalPsks: (id: Uint8Array) => (id.length === pskId.length && id.every((b, i) => b === pskId[i]) ? utf8("secret") : undefined) };

let alice: Client, bob: Client, charlie: Client, dave: Client;
let a: Group, b: Group;
let kd: KeyPackageBundle;

async function freshGroup(cfg = config): Promise<[Group, Group, Group]> {
  const g = await Group.create({ provider, cipherSuite: 1, identity: alice.identity, config: cfg });
  const [kb, kc] = await Promise.all([keyPackageFor(bob), keyPackageFor(charlie)]);
  const p = await g.createCommit({ add: [kb.message, kc.message] });
  g.mergePendingCommit();
  return [g, await Group.join(p.welcome!, { provider, keyPackages: [kb], config: cfg }), await Group.join(p.welcome!, { provider, keyPackages: [kc], config: cfg })];
}

const psk = (nonce = suite.randomBytes(32)): PreSharedKeyId => ({ pskType: PskType.external, pskId, pskNonce: nonce });
const gce = (extensionTypes: number[]): Proposal => ({
  proposalType: ProposalType.groupContextExtensions,
  extensions: [makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes, proposalTypes: [], credentialTypes: [] })],
});

beforeAll(async () => {
  [alice, bob, charlie, dave] = (await Promise.all(["alice", "bob", "charlie", "dave"].map((n) => makeClient(provider, 1, n)))) as [Client, Client, Client, Client];
  [a, b] = await freshGroup();
  kd = await keyPackageFor(dave);
});

/** The proposal lists that break a §12.2 rule, with the code each must give. Built lazily (they need the group). */
function invalidLists(): { name: string; proposals: () => Proposal[]; code: MlsErrorCode }[] {
  const add = (kp: KeyPackage): Proposal => ({ proposalType: ProposalType.add, keyPackage: kp });
  const remove = (l: number): Proposal => ({ proposalType: ProposalType.remove, removed: leafIndex(l) });
  const ownLeaf = (): LeafNode => ({ ...a.member(a.ownLeafIndex)!.leafNode, leafNodeSource: LeafNodeSource.update }) as LeafNode;
  const oneNonce = suite.randomBytes(32);
  return [
    { name: "two Adds of the same client", proposals: () => [add(kd.keyPackage), add(kd.keyPackage)], code: "PROPOSAL_DUPLICATE_ADD" },
    { name: "an Add of a member", proposals: () => [add(bobAgain!.keyPackage)], code: "PROPOSAL_ADD_EXISTING_MEMBER" },
    { name: "a Remove of a blank leaf", proposals: () => [remove(7)], code: "PROPOSAL_REMOVE_BLANK_LEAF" },
    { name: "a Remove of the committer", proposals: () => [remove(0)], code: "PROPOSAL_REMOVE_COMMITTER" },
    { name: "two Removes of one leaf", proposals: () => [remove(1), remove(1)], code: "PROPOSAL_DUPLICATE_UPDATE_OR_REMOVE" },
    { name: "an Update by the committer", proposals: () => [{ proposalType: ProposalType.update, leafNode: ownLeaf() }], code: "PROPOSAL_UPDATE_BY_COMMITTER" },
    {
      name: "the same PSK twice",
      proposals: () => [
        { proposalType: ProposalType.psk, psk: psk(oneNonce) },
        { proposalType: ProposalType.psk, psk: psk(oneNonce) },
      ],
      code: "PROPOSAL_DUPLICATE_PSK",
    },
    { name: "a PSK nonce of the wrong length", proposals: () => [{ proposalType: ProposalType.psk, psk: psk(new Uint8Array(5)) }], code: "PROPOSAL_PSK_INVALID_NONCE" },
    {
      name: "a reinit resumption PSK",
      proposals: () => [
        { proposalType: ProposalType.psk, psk: { pskType: PskType.resumption, usage: ResumptionPskUsage.reinit, pskGroupId: a.groupId, pskEpoch: 0n, pskNonce: suite.randomBytes(32) } },
      ],
      code: "PROPOSAL_PSK_INVALID_USAGE",
    },
    {
      name: "an unknown PSK",
      proposals: () => [{ proposalType: ProposalType.psk, psk: { pskType: PskType.external, pskId: utf8("nope"), pskNonce: suite.randomBytes(32) } }],
      code: "PROPOSAL_PSK_NOT_FOUND",
    },
    { name: "two GroupContextExtensions", proposals: () => [gce([]), gce([])], code: "PROPOSAL_MULTIPLE_GROUP_CONTEXT_EXTENSIONS" },
    { name: "required capabilities nobody has", proposals: () => [gce([0xff01])], code: "PROPOSAL_UNSUPPORTED_CAPABILITIES" },
    {
      name: "a ReInit with company",
      proposals: () => [{ proposalType: ProposalType.reinit, groupId: utf8("new"), version: 1, cipherSuite: 1, extensions: [] }, remove(2)],
      code: "PROPOSAL_REINIT_NOT_ALONE",
    },
    { name: "an ExternalInit in a member commit", proposals: () => [{ proposalType: ProposalType.externalInit, kemOutput: new Uint8Array(32) }], code: "PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED" },
    { name: "a proposal type nobody supports", proposals: () => [{ proposalType: ProposalType.selfRemove }], code: "PROPOSAL_UNSUPPORTED_TYPE" },
  ];
}

let bobAgain: KeyPackageBundle | undefined;

describe("§12.2 on the committer's side: createCommit refuses an invalid list", () => {
  beforeAll(async () => {
    bobAgain = await keyPackageFor(bob);
  });
  for (const t of invalidLists()) {
    it(t.name, async () => {
      await expectCode(a.createCommit({ proposals: t.proposals(), includePendingProposals: false }), t.code);
      expect(a.pendingCommit).toBeUndefined();
    });
  }
});

describe("§12.2/§12.4 on the receiver's side: a forged commit is rejected", () => {
  beforeAll(async () => {
    bobAgain ??= await keyPackageFor(bob);
  });
  const byValue = (proposals: Proposal[]): Commit => ({ proposals: proposals.map((proposal) => ({ type: ProposalOrRefType.proposal, proposal })) });
  for (const t of invalidLists()) {
    it(t.name, async () => {
      const { message } = await forge(provider, a, { contentType: ContentType.commit, commit: byValue(t.proposals()) });
      await expectCode(b.processMessage(message), t.code);
    });
  }
  it("a Remove without a path", async () => {
    const { message } = await forge(provider, a, { contentType: ContentType.commit, commit: byValue([{ proposalType: ProposalType.remove, removed: leafIndex(2) }]) });
    await expectCode(b.processMessage(message), "COMMIT_MISSING_PATH");
  });
  it("an empty commit without a path", async () => {
    const { message } = await forge(provider, a, { contentType: ContentType.commit, commit: { proposals: [] } });
    await expectCode(b.processMessage(message), "COMMIT_MISSING_PATH");
  });
  it("a reference to a proposal nobody sent", async () => {
    const { message } = await forge(provider, a, { contentType: ContentType.commit, commit: { proposals: [{ type: ProposalOrRefType.reference, reference: new Uint8Array(32) }] } });
    await expectCode(b.processMessage(message), "PROPOSAL_UNKNOWN_REFERENCE");
  });
  it("a wrong confirmation tag", async () => {
    const { message } = await forge(provider, a, { contentType: ContentType.commit, commit: byValue([{ proposalType: ProposalType.add, keyPackage: kd.keyPackage }]) });
    await expectCode(b.processMessage(message), "MESSAGE_INVALID_CONFIRMATION_TAG");
  });
  it("a commit from our own leaf that is not our pending commit", async () => {
    const { message } = await forge(provider, b, { contentType: ContentType.commit, commit: byValue([{ proposalType: ProposalType.add, keyPackage: kd.keyPackage }]) });
    await expectCode(b.processMessage(message), "COMMIT_FROM_SELF");
  });
});

describe("§12.1 on receipt of a proposal", () => {
  const cases: { name: string; proposal: () => Proposal; code: MlsErrorCode }[] = [
    { name: "Remove of a blank leaf", proposal: () => ({ proposalType: ProposalType.remove, removed: leafIndex(3) }), code: "PROPOSAL_REMOVE_BLANK_LEAF" },
    { name: "PSK nonce too short", proposal: () => ({ proposalType: ProposalType.psk, psk: psk(new Uint8Array(1)) }), code: "PROPOSAL_PSK_INVALID_NONCE" },
    { name: "a standalone ExternalInit", proposal: () => ({ proposalType: ProposalType.externalInit, kemOutput: new Uint8Array(32) }), code: "PROPOSAL_EXTERNAL_INIT_NOT_ALLOWED" },
    { name: "GroupContextExtensions nobody supports", proposal: () => gce([0xff02]), code: "PROPOSAL_UNSUPPORTED_CAPABILITIES" },
    {
      name: "Add with a bad KeyPackage signature",
      proposal: () => ({ proposalType: ProposalType.add, keyPackage: { ...kd.keyPackage, signature: kd.keyPackage.signature.map((x, i) => (i === 0 ? x ^ 1 : x)) } }),
      code: "KEY_PACKAGE_INVALID_SIGNATURE",
    },
    {
      name: "Add of a KeyPackage for another suite",
      proposal: () => ({ proposalType: ProposalType.add, keyPackage: { ...kd.keyPackage, cipherSuite: 3 } }),
      code: "KEY_PACKAGE_CIPHER_SUITE_MISMATCH",
    },
    {
      name: "Update reusing the current encryption key",
      proposal: () => ({ proposalType: ProposalType.update, leafNode: { ...a.member(a.ownLeafIndex)!.leafNode, leafNodeSource: LeafNodeSource.update } as LeafNode }),
      code: "TREE_DUPLICATE_KEY",
    },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const { message } = await forge(provider, a, { contentType: ContentType.proposal, proposal: t.proposal() });
      await expectCode(b.processMessage(message), t.code);
      expect(b.pendingProposals.length).toBe(0);
    });
  }
  it("an Update with a bad leaf signature, and one sent from another leaf", async () => {
    const [x, y, z] = await freshGroup();
    const upd = await z.proposeUpdate();
    const r = await y.processMessage(upd.message);
    if (r.kind !== "proposal" || r.proposal.proposalType !== ProposalType.update) throw new Error("expected an Update");
    const leaf = r.proposal.leafNode;
    const tampered = { ...leaf, signature: leaf.signature.map((v, i) => (i === 3 ? v ^ 0x80 : v)) };
    const bad = await forge(provider, z, { contentType: ContentType.proposal, proposal: { proposalType: ProposalType.update, leafNode: tampered } });
    await expectCode(y.processMessage(bad.message), "TREE_INVALID_LEAF_SIGNATURE");
    // Charlie's real Update re-sent by Alice's leaf: Charlie's signature key is not Alice's to take.
    const moved = await forge(provider, x, { contentType: ContentType.proposal, proposal: r.proposal });
    await expectCode(y.processMessage(moved.message), "TREE_DUPLICATE_KEY");
  });
});

describe("§12.4.1 on the committer's side: a KeyPackage with a bad signature", () => {
  it("fails the commit (KEY_PACKAGE_INVALID_SIGNATURE) with nothing sent or changed; the next commit works", async () => {
    const [x, y, z] = await freshGroup();
    const good = await keyPackageFor(dave);
    const forgedKp = { ...good.keyPackage, signature: good.keyPackage.signature.map((v, i) => (i === 0 ? v ^ 1 : v)) };
    const epoch = x.epoch;
    // The signature checks run alongside the Welcome's encryption; the commit must still fail as a whole.
    await expectCode(x.createCommit({ add: [forgedKp] }), "KEY_PACKAGE_INVALID_SIGNATURE");
    expect(x.epoch).toBe(epoch);
    expect(x.pendingCommit).toBeUndefined();
    const p = await x.createCommit({ add: [good.message] });
    await deliverCommit(x, p.commit, [y, z]);
    expectInSync([x, y, z]);
    expect(x.members.length).toBe(4);
  });
});

describe("§10.1 KeyPackage validation", () => {
  it("accepts a fresh KeyPackage and rejects tampering, lifetimes and reused keys", async () => {
    await validateKeyPackage(suite, kd.keyPackage, { now: NOW });
    const kp = kd.keyPackage;
    await expectCode(validateKeyPackage(suite, { ...kp, initKey: kp.leafNode.encryptionKey }), "KEY_PACKAGE_INIT_KEY_REUSED");
    await expectCode(validateKeyPackage(suite, { ...kp, version: 2 as 1 }), "KEY_PACKAGE_VERSION_MISMATCH");
    await expectCode(validateKeyPackage(provider.suite(2), kp), "KEY_PACKAGE_CIPHER_SUITE_MISMATCH");
    await expectCode(validateKeyPackage(suite, kp, { now: NOW + 365n * 24n * 3600n }), "LEAF_NODE_INVALID_LIFETIME");
    await expectCode(validateKeyPackage(suite, kp, { maxLifetime: 3600n }), "LEAF_NODE_INVALID_LIFETIME");
    await expectCode(validateKeyPackage(suite, { ...kp, extensions: [{ extensionType: 0xff03, extensionData: new Uint8Array(0) }] }), "KEY_PACKAGE_INVALID_EXTENSION");
    await expectCode(validateKeyPackage(suite, { ...kp, leafNode: { ...kp.leafNode, leafNodeSource: LeafNodeSource.update } as LeafNode }), "LEAF_NODE_INVALID_SOURCE");
    await expectCode(validateKeyPackage(suite, kp, { validateCredential: () => false }), "LEAF_NODE_INVALID_CREDENTIAL");
    await expectCode(
      validateKeyPackage(suite, kp, {
        validateCredential: () => Promise.reject(new Error("AS unreachable")),
      }),
      "LEAF_NODE_INVALID_CREDENTIAL",
    );
  });
});

describe("policy callbacks", () => {
  it("credential validation rejects a member being added, on both sides", async () => {
    const noMallory = { ...config, validateCredential: (cred: { credentialType: number; identity?: Uint8Array }) => new TextDecoder().decode(cred.identity) !== "mallory" };
    const [x, y] = await freshGroup();
    const mallory = await makeClient(provider, 1, "mallory");
    const km = await keyPackageFor(mallory);
    const strict = Group.deserialize(x.serialize(), provider, noMallory);
    await expectCode(strict.createCommit({ add: [km.message] }), "LEAF_NODE_INVALID_CREDENTIAL");
    const strictY = Group.deserialize(y.serialize(), provider, noMallory);
    const p = await x.createCommit({ add: [km.message] });
    await expectCode(strictY.processMessage(p.commit), "LEAF_NODE_INVALID_CREDENTIAL");
  });

  it("acceptProposal and acceptCommit can refuse", async () => {
    const [x, y] = await freshGroup();
    const noRemoves = Group.deserialize(y.serialize(), provider, { ...config, acceptProposal: ({ proposal }) => proposal.proposalType !== ProposalType.remove });
    const rm = await x.proposeRemove(leafIndex(2));
    await expectCode(noRemoves.processMessage(rm.message), "PROPOSAL_REJECTED_BY_POLICY");
    const noCommits = Group.deserialize(y.serialize(), provider, { ...config, acceptCommit: () => false });
    const p = await x.createCommit({ includePendingProposals: false });
    await expectCode(noCommits.processMessage(p.commit), "COMMIT_REJECTED_BY_POLICY");
  });
});

describe("Group state errors", () => {
  it("pending commit misuse and stale staged commits", async () => {
    const [x, y, z] = await freshGroup();
    await expectCode(() => x.mergePendingCommit(), "GROUP_NO_PENDING_COMMIT");
    await expectCode(() => x.clearPendingCommit(), "GROUP_NO_PENDING_COMMIT");
    const px = await x.createCommit();
    await expectCode(x.createCommit(), "GROUP_PENDING_COMMIT");
    const pz = await z.createCommit();
    const sx = await y.processMessage(px.commit);
    const sz = await y.processMessage(pz.commit);
    if (sx.kind !== "commit" || sz.kind !== "commit") throw new Error("expected commits");
    y.discardStagedCommit(sz.staged);
    await expectCode(() => y.mergeStagedCommit(sz.staged), "GROUP_STALE_STAGED_COMMIT");
    const again = await y.processMessage(pz.commit).catch((e: unknown) => e);
    // The handshake key of that commit was consumed when it was first decrypted.
    expect(again).toBeInstanceOf(Error);
    // A commit staged by another Group object cannot be merged here.
    const sz2 = await z.processMessage(px.commit);
    if (sz2.kind !== "commit") throw new Error("expected commit");
    await expectCode(() => y.mergeStagedCommit(sz2.staged), "GROUP_STALE_STAGED_COMMIT");
    y.mergeStagedCommit(sx.staged);
    await expectCode(() => y.mergeStagedCommit(sx.staged), "GROUP_STALE_STAGED_COMMIT");
    // The DS took Alice's commit: Charlie drops his and follows.
    z.mergeStagedCommit(sz2.staged);
    x.mergePendingCommit();
    expect(x.epochAuthenticator).toEqual(y.epochAuthenticator);
    expect(z.epochAuthenticator).toEqual(y.epochAuthenticator);
  });

  it("messages for another group or a future epoch", async () => {
    const [x, y] = await freshGroup();
    const [other] = await freshGroup();
    const msg = await other.encryptApplicationMessage(utf8("wrong group"));
    await expectCode(y.processMessage(msg), "MESSAGE_WRONG_GROUP");
    const p = await x.createCommit();
    x.mergePendingCommit();
    const future = await x.encryptApplicationMessage(utf8("from the future"));
    await expectCode(y.processMessage(future), "MESSAGE_WRONG_EPOCH");
    expect(p.epoch).toBe(x.epoch);
  });

  it("corrupt serialised state", async () => {
    const bytes = a.serialize();
    await expectCode(() => Group.deserialize(bytes.subarray(0, bytes.length - 3), provider, config), "GROUP_STATE_INVALID");
    const bad = bytes.slice();
    bad[0] = 0;
    await expectCode(() => Group.deserialize(bad, provider, config), "GROUP_STATE_INVALID");
    const v2 = bytes.slice();
    v2[4] = 9;
    await expectCode(() => Group.deserialize(v2, provider, config), "GROUP_STATE_INVALID");
  });

  it("Welcome errors: not for us, tree missing", async () => {
    const x = await Group.create({ provider, cipherSuite: 1, identity: alice.identity, config });
    const kb = await keyPackageFor(bob);
    const p = await x.createCommit({ add: [kb.message], ratchetTreeExtension: false });
    await expectCode(Group.join(p.welcome!, { provider, keyPackages: [kd], config }), "WELCOME_NO_MATCHING_KEY_PACKAGE");
    await expectCode(Group.join(p.welcome!, { provider, keyPackages: [kb], config }), "WELCOME_MISSING_RATCHET_TREE");
    const y = await Group.join(p.welcome!, { provider, keyPackages: [kb], config, ratchetTree: p.ratchetTree });
    x.mergePendingCommit();
    expect(y.epochAuthenticator).toEqual(x.epochAuthenticator);
  });
});
