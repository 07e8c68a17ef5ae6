/**
 * The DS's validation core (issue 17), as pure functions over stored state
 * bytes: real groups driven with the MLS Group API post their handshakes,
 * the DS state follows every epoch, and each attack of the issue is refused
 * with its typed code while the stored state stays byte for byte the same.
 */
import { describe, expect, it } from "vitest";
import { ApiError, groupPolicyExtension, GROUP_POLICY_EXTENSION_TYPE, type ErrorCode, type GroupPolicy, type PostingClient } from "@conclave/api";
import {
  bytesEqual,
  ContentType,
  createExternalProposal,
  decode,
  encode,
  ExtensionType,
  externalSendersCodec,
  Group,
  groupContextCodec,
  makeExtension,
  mlsMessageCodec,
  partialTreeViewCodec,
  ProposalType,
  PublicGroup,
  utf8,
  verifyMembershipProof,
  WireFormat,
  type Extension,
  type GroupConfig,
  type PendingCommitInfo,
} from "@conclave/mls";
import { nodeCryptoProvider as provider } from "@conclave/mls/node";
import { clock, forge, keyPackageFor, makeClient, type Client } from "../../mls/test/group-support.js";
import { createPublicState, groupInfoOf, revocationProposal, treeView, validateHandshake, type HandshakeContext, type ValidatedHandshake } from "../src/ds/publicState/index.js";

const caps = { extensions: [GROUP_POLICY_EXTENSION_TYPE] };
const config: Partial<GroupConfig> = { clock, handshakeWireFormat: "public" };

interface Member {
  readonly client: Client;
  readonly poster: PostingClient;
}

async function member(name: string, credentialName = name): Promise<Member> {
  const c = await makeClient(provider, 1, credentialName);
  return { client: c, poster: { clientId: name, signatureKey: c.identity.signaturePublicKey } };
}

/** What the DS does on a POST: validate against the stored bytes; store the new bytes only on success. */
class Ds {
  constructor(
    public state: Uint8Array,
    readonly groupId: Uint8Array,
    readonly extra: Partial<HandshakeContext> = {},
  ) {}

  ctx(by: Member): HandshakeContext {
    return { provider, client: by.poster, groupId: this.groupId, clock, validateCredential: (c) => !bytesEqual((c as { identity: Uint8Array }).identity, utf8("mallory")), ...this.extra };
  }

  async post(by: Member, message: Uint8Array, groupInfo?: Uint8Array): Promise<ValidatedHandshake> {
    const out = await validateHandshake(this.state, message, groupInfo, this.ctx(by));
    this.state = out.newState;
    return out;
  }

  /** Expects a refusal with `code` (and its HTTP status) and the stored state untouched. */
  async refused(by: Member, message: Uint8Array, groupInfo: Uint8Array | undefined, code: ErrorCode, status?: number): Promise<ApiError> {
    const before = this.state.slice();
    let err: unknown;
    try {
      await validateHandshake(this.state, message, groupInfo, this.ctx(by));
    } catch (e) {
      err = e;
    }
    expect(err, `expected ${code}`).toBeInstanceOf(ApiError);
    expect((err as ApiError).code, (err as ApiError).message).toBe(code);
    if (status !== undefined) expect((err as ApiError).status).toBe(status);
    expect(bytesEqual(this.state, before)).toBe(true);
    return err as ApiError;
  }

  async commit(by: Member, p: PendingCommitInfo): Promise<ValidatedHandshake> {
    return this.post(by, p.commit, await p.groupInfo());
  }
}

async function deliver(p: Uint8Array, to: readonly Group[]): Promise<void> {
  for (const g of to) {
    const r = await g.processMessage(p);
    if (r.kind === "commit") g.mergeStagedCommit(r.staged);
  }
}

async function setup(policy?: GroupPolicy, extensions: Extension[] = []) {
  const [alice, bob, charlie] = await Promise.all(["alice", "bob", "charlie"].map((n) => member(n)));
  const a = await Group.create({
    provider,
    cipherSuite: 1,
    identity: alice!.client.identity,
    capabilities: caps,
    extensions: [...(policy === undefined ? [] : [groupPolicyExtension(policy)]), ...extensions],
    config,
  });
  const created = await createPublicState(await a.groupInfo(), undefined, { provider, client: alice!.poster, groupId: a.groupId, clock });
  const ds = new Ds(created.state, a.groupId);
  const [kb, kc] = await Promise.all([keyPackageFor(bob!.client, caps), keyPackageFor(charlie!.client, caps)]);
  const p = await a.createCommit({ add: [kb.message, kc.message] });
  const out = await ds.commit(alice!, p);
  expect(out.rosterDelta.added.map((l) => [l.leafIndex, Buffer.from(l.signatureKey).toString("hex")])).toEqual([
    [1, Buffer.from(bob!.poster.signatureKey).toString("hex")],
    [2, Buffer.from(charlie!.poster.signatureKey).toString("hex")],
  ]);
  // The Welcome's entries are exactly the refs of the leaves the commit added.
  const w = decode(mlsMessageCodec, p.welcome!);
  if (w.wireFormat !== WireFormat.welcome) throw new Error("Welcome expected");
  expect(out.rosterDelta.added.map((l) => Buffer.from(l.keyPackageRef!).toString("hex"))).toEqual(w.welcome.secrets.map((x) => Buffer.from(x.newMember).toString("hex")));
  a.mergePendingCommit();
  const b = await Group.join(p.welcome!, { provider, keyPackages: [kb], config });
  const c = await Group.join(p.welcome!, { provider, keyPackages: [kc], config });
  return { alice: alice!, bob: bob!, charlie: charlie!, a, b, c, ds };
}

function dsTracks(ds: Ds, g: Group, by: Member): void {
  const v = treeView(ds.state, provider, by.poster, { kind: "full" });
  expect(v.epoch).toBe(g.epoch);
  expect(bytesEqual(v.body, g.ratchetTree())).toBe(true);
  expect(bytesEqual(v.treeHash, g.groupContext.treeHash)).toBe(true);
}

describe("DS public state: the group's life", () => {
  it("creation, adds, proposals, updates, removes: the roster delta comes from the trees", async () => {
    const { alice, bob, charlie, a, b, c, ds } = await setup();
    dsTracks(ds, a, alice);

    const upd = await b.proposeUpdate();
    const pr = await ds.post(bob, upd.message);
    expect(pr.kind).toBe("proposal");
    expect(bytesEqual(pr.proposalRef!, upd.ref)).toBe(true);
    expect(pr.epoch).toBe(1n);
    await deliver(upd.message, [a, c]);
    const withUpdate = await c.createCommit();
    const cu = await ds.commit(charlie, withUpdate);
    expect(cu.epoch).toBe(2n);
    expect(cu.rosterDelta).toEqual({ added: [], removed: [], updated: [] });
    c.mergePendingCommit();
    await deliver(withUpdate.commit, [a, b]);

    const rm = await b.createCommit({ remove: [c.ownLeafIndex] });
    const out = await ds.commit(bob, rm);
    expect(out.rosterDelta.removed.map((l) => l.leafIndex)).toEqual([2]);
    expect(bytesEqual(out.rosterDelta.removed[0]!.signatureKey, charlie.poster.signatureKey)).toBe(true);
    b.mergePendingCommit();
    await deliver(rm.commit, [a]);
    dsTracks(ds, a, alice);
    expect(bytesEqual(groupInfoOf(out.group, alice.poster), await rm.groupInfo())).toBe(true);
  });

  it("a resync in a closed group: only the client itself, removing its own leaf", async () => {
    const { alice, bob, a, c, ds } = await setup();
    const gi = groupInfoOf(PublicGroup.deserialize(ds.state, provider), bob.poster);
    const resync = await Group.joinExternal(gi, { provider, identity: bob.client.identity, removeLeaf: 1 as never, capabilities: caps, config });
    const out = await ds.post(bob, resync.commit, resync.groupInfo);
    expect(out.rosterDelta.removed.map((l) => l.leafIndex)).toEqual([1]);
    expect(out.rosterDelta.added.map((l) => l.leafIndex)).toEqual([1]);
    await deliver(resync.commit, [a, c]);
    dsTracks(ds, a, alice);
  });

  it("an open group lets an outsider join by external commit and read the tree", async () => {
    const { alice, a, b, c, ds } = await setup({ externalJoin: "open" });
    const dave = await member("dave");
    const gi = groupInfoOf(PublicGroup.deserialize(ds.state, provider), dave.poster);
    const view = treeView(ds.state, provider, dave.poster, { kind: "full" });
    expect(view.kind).toBe("full");
    const joined = await Group.joinExternal(gi, { provider, identity: dave.client.identity, capabilities: caps, config });
    const out = await ds.post(dave, joined.commit, joined.groupInfo);
    expect(out.rosterDelta.added.map((l) => l.leafIndex)).toEqual([3]);
    await deliver(joined.commit, [a, b, c]);
    dsTracks(ds, a, alice);
  });

  it("a member's commit may close an open group; the partial view checks against the GroupInfo's tree hash", async () => {
    const { alice, bob, a, b, c, ds } = await setup({ externalJoin: "open" });
    const p = await b.createCommit({ proposals: [{ proposalType: ProposalType.groupContextExtensions, extensions: [groupPolicyExtension({ externalJoin: "closed" })] }] });
    await ds.commit(bob, p);
    b.mergePendingCommit();
    await deliver(p.commit, [a, c]);
    const dave = await member("dave");
    expect(() => treeView(ds.state, provider, dave.poster, { kind: "full" })).toThrow(ApiError);
    const partial = treeView(ds.state, provider, alice.poster, { kind: "partial" });
    const pv = decode(partialTreeViewCodec, partial.body);
    const gi = decode(mlsMessageCodec, await p.groupInfo());
    if (gi.wireFormat !== WireFormat.groupInfo) throw new Error("GroupInfo expected");
    expect(pv.proof.leafIndex).toBe(0);
    expect(verifyMembershipProof(provider.suite(1), pv.proof, gi.groupInfo.groupContext.treeHash)).toBe(true);
    expect(bytesEqual(encode(groupContextCodec, gi.groupInfo.groupContext), encode(groupContextCodec, a.groupContext))).toBe(true);
  });
});

describe("DS public state: the attacks of issue 17 fail by code and change nothing", () => {
  it("forged signature, wrong epoch, relabelled application message, junk Welcome, wrong group", async () => {
    const { alice, bob, a, b, c, ds } = await setup();
    const p = await b.createCommit();
    const forged = p.commit.slice();
    const i = forged.length - 66 - 20;
    forged[i] = forged[i]! ^ 1;
    await ds.refused(bob, forged, await p.groupInfo(), "MESSAGE_INVALID_SIGNATURE", 400);
    await ds.commit(bob, p);
    b.mergePendingCommit();
    await deliver(p.commit, [a, c]);
    const e = await ds.refused(bob, p.commit, await p.groupInfo(), "EPOCH_MISMATCH", 409);
    expect((e.toBody().error as { currentEpoch?: number }).currentEpoch).toBe(2);

    const app = await a.encryptApplicationMessage(utf8("hi"));
    const m = decode(mlsMessageCodec, app);
    if (m.wireFormat !== WireFormat.privateMessage) throw new Error("private expected");
    const relabelled = encode(mlsMessageCodec, { wireFormat: WireFormat.privateMessage, privateMessage: { ...m.privateMessage, contentType: ContentType.commit } });
    await ds.refused(alice, relabelled, undefined, "UNEXPECTED_WIRE_FORMAT");
    const phantom = await member("phantom");
    const junk = await a.createCommit({ add: [(await keyPackageFor(phantom.client, caps)).message] });
    a.clearPendingCommit();
    await ds.refused(alice, junk.welcome!, undefined, "UNEXPECTED_WIRE_FORMAT");
    const other = new Ds(ds.state, utf8("another group"));
    await other.refused(alice, (await a.createCommit()).commit, undefined, "WRONG_GROUP");
    a.clearPendingCommit();
  });

  it("commits without a valid proposal, without a GroupInfo, with a GroupInfo that disagrees", async () => {
    const { bob, b, ds } = await setup();
    const anyGi = await b.groupInfo();
    const unknown = await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [{ type: 2, reference: new Uint8Array(32).fill(7) }] } });
    await ds.refused(bob, unknown.message, anyGi, "PROPOSAL_UNKNOWN_REFERENCE");
    const empty = await forge(provider, b, { contentType: ContentType.commit, commit: { proposals: [] } });
    await ds.refused(bob, empty.message, anyGi, "COMMIT_MISSING_PATH");
    const firstGroupInfo = await (await b.createCommit()).groupInfo(); // asked before the commit is dropped
    b.clearPendingCommit();
    const second = await b.createCommit();
    await ds.refused(bob, second.commit, undefined, "BAD_REQUEST");
    await ds.refused(bob, second.commit, firstGroupInfo, "GROUP_INFO_MISMATCH");
    await ds.commit(bob, second);
  });

  it("a member posting another member's message, a credential the AS refuses", async () => {
    const { alice, bob, a, ds } = await setup();
    const p = await a.createCommit();
    await ds.refused(bob, p.commit, await p.groupInfo(), "SENDER_MISMATCH", 403);
    a.clearPendingCommit();
    const mallory = await member("mallory");
    const add = await a.createCommit({ add: [(await keyPackageFor(mallory.client, caps)).message] });
    await ds.refused(alice, add.commit, await add.groupInfo(), "LEAF_NODE_INVALID_CREDENTIAL", 400);
  });

  it("external joins: closed group, removed member, someone else's leaf, someone else's key", async () => {
    const { alice, charlie, a, b, c, ds } = await setup();
    const dave = await member("dave");
    const gi = await a.groupInfo();
    const joined = await Group.joinExternal(gi, { provider, identity: dave.client.identity, capabilities: caps, config });
    await ds.refused(dave, joined.commit, joined.groupInfo, "GROUP_CLOSED", 403);
    // Eve posts Dave's external commit.
    const eve = await member("eve");
    await ds.refused(eve, joined.commit, joined.groupInfo, "SENDER_MISMATCH", 403);

    // Charlie is removed: his leaf is gone, so rejoining the closed group is an outsider's external join.
    const rm = await a.createCommit({ remove: [c.ownLeafIndex] });
    await ds.commit(alice, rm);
    a.mergePendingCommit();
    await deliver(rm.commit, [b]);
    const back = await Group.joinExternal(await rm.groupInfo(), { provider, identity: charlie.client.identity, capabilities: caps, config });
    await ds.refused(charlie, back.commit, back.groupInfo, "GROUP_CLOSED", 403);

    // A second device of Bob (same credential, its own registered key, not in the group) "resyncs" by
    // removing Bob's leaf: MLS lets the same identity do it, the DS does not (not on the roster).
    const bob2 = await member("bob2", "bob");
    const steal = await Group.joinExternal(await rm.groupInfo(), { provider, identity: bob2.client.identity, removeLeaf: b.ownLeafIndex, capabilities: caps, config });
    await ds.refused(bob2, steal.commit, steal.groupInfo, "GROUP_CLOSED", 403);
    const openDs = await setup({ externalJoin: "open" });
    const steal2 = await Group.joinExternal(await openDs.a.groupInfo(), { provider, identity: bob2.client.identity, removeLeaf: openDs.b.ownLeafIndex, capabilities: caps, config });
    await openDs.ds.refused(bob2, steal2.commit, steal2.groupInfo, "RESYNC_REFUSED", 403);
    // The same commit posted by Bob himself: the new leaf is not his registered key.
    await openDs.ds.refused(openDs.bob, steal2.commit, steal2.groupInfo, "SENDER_MISMATCH", 403);
    // The MLS rule holds on its own too: a resync of another identity's leaf.
    const evil = await Group.joinExternal(await rm.groupInfo(), {
      provider,
      identity: eve.client.identity,
      removeLeaf: b.ownLeafIndex,
      capabilities: caps,
      config: { ...config, sameIdentity: () => true },
    });
    await ds.refused(eve, evil.commit, evil.groupInfo, "EXTERNAL_COMMIT_RESYNC_IDENTITY", 400);
  });

  it("the policy changes only by a member's GroupContextExtensions", async () => {
    const dsKeys = await makeClient(provider, 1, "the-ds");
    const senders = makeExtension(ExtensionType.externalSenders, externalSendersCodec, [{ signatureKey: dsKeys.identity.signaturePublicKey, credential: dsKeys.identity.credential }]);
    const { bob, a, b, ds } = await setup(undefined, [senders]);
    // The DS proposal path (it is its own external sender) goes through the PublicGroup directly; here a
    // client relays an external_senders proposal that would open the group.
    const open = await createExternalProposal(
      {
        suite: provider.suite(1),
        groupId: a.groupId,
        epoch: a.epoch,
        proposal: { proposalType: ProposalType.groupContextExtensions, extensions: [senders, groupPolicyExtension({ externalJoin: "open" })] },
      },
      { senderIndex: 0, signaturePrivateKey: dsKeys.identity.signaturePrivateKey },
    );
    await ds.refused(bob, open.message, undefined, "SENDER_MISMATCH", 403);
    // Cached by the DS itself, then committed by a member: still not a member's proposal.
    const cached = await PublicGroup.deserialize(ds.state, provider).processMessage(open.message);
    ds.state = cached.state.serialize();
    await b.processMessage(open.message);
    const p = await b.createCommit();
    await ds.refused(bob, p.commit, await p.groupInfo(), "POLICY_CHANGE_REFUSED", 403);
  });

  it("size limits: an oversized proposal or commit, too many proposals in an epoch", async () => {
    const { alice, bob, charlie, b, c, ds } = await setup();
    const small = new Ds(ds.state, ds.groupId, { limits: { maxProposalBytes: 200, maxPendingProposals: 1 } });
    const upd = await b.proposeUpdate();
    expect(upd.message.length).toBeGreaterThan(200);
    await small.refused(bob, upd.message, undefined, "HANDSHAKE_TOO_LARGE", 413);
    const huge = new Uint8Array(5 * 1024 * 1024);
    await ds.refused(alice, huge, undefined, "HANDSHAKE_TOO_LARGE", 413);
    const one = new Ds(ds.state, ds.groupId, { limits: { maxPendingProposals: 1 } });
    await one.post(bob, upd.message);
    const second = await c.proposeUpdate();
    await one.refused(charlie, second.message, undefined, "TOO_MANY_PROPOSALS", 429);
  });

  it("revocation: the DS, an external sender of the group, proposes the removal; a member commits it", async () => {
    const dsKeys = await makeClient(provider, 1, "the-ds");
    const senders = makeExtension(ExtensionType.externalSenders, externalSendersCodec, [{ signatureKey: dsKeys.identity.signaturePublicKey, credential: dsKeys.identity.credential }]);
    const { alice, charlie, a, b, c, ds } = await setup(undefined, [senders]);
    const key = { signaturePublicKey: dsKeys.identity.signaturePublicKey, signaturePrivateKey: dsKeys.identity.signaturePrivateKey };
    const group = PublicGroup.deserialize(ds.state, provider);
    expect(await revocationProposal(group, new Uint8Array(32), key)).toBeUndefined();
    const rev = await revocationProposal(group, charlie.poster.signatureKey, key);
    ds.state = rev!.group.serialize();
    for (const g of [a, b, c]) await g.processMessage(rev!.message);
    const p = await a.createCommit();
    const out = await ds.commit(alice, p);
    expect(out.rosterDelta.removed.map((l) => l.leafIndex)).toEqual([c.ownLeafIndex]);
    a.mergePendingCommit();
    await deliver(p.commit, [b]);
    dsTracks(ds, a, alice);
    // A group that did not list the DS gives it no such power.
    const plain = await setup();
    await expect(revocationProposal(PublicGroup.deserialize(plain.ds.state, provider), plain.charlie.poster.signatureKey, key)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
