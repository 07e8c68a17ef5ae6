/**
 * Interoperability with ts-mls, an independent RFC 9420 implementation: the
 * two sides exchange nothing but MLSMessage bytes (and, where §12.4.3.3 lets
 * a joiner get it out of band, the encoded ratchet tree). Both directions of
 * every operation: Welcome joins, application messages, Add/Update/Remove
 * commits as PrivateMessage and PublicMessage, and after each epoch change
 * both agree on the epoch, the epoch_authenticator (§8.7), the MLS-Exporter
 * output (§8.5) and the membership.
 */
import { describe, expect, it } from "vitest";
import { utf8 } from "../src/codec/bytes.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { createKeyPackage, Group, lifetimeFrom, type GroupConfig, type KeyPackageBundle, type StagedCommitInfo } from "../src/group/index.js";
import { decode } from "../src/codec/tls.js";
import { ExtensionType, ProposalType, WireFormat } from "../src/messages/enums.js";
import { findExtension, makeExtension, readExtension } from "../src/messages/extension.js";
import { externalPubCodec, requiredCapabilitiesCodec } from "../src/messages/extensionPayloads.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { leafIndex } from "../src/tree/treeMath.js";
import { makeClient } from "./group-support.js";
import { TsMember, tsKeyPackage, type TsKeyPackage } from "./support/tsmls.js";

const provider = nodeCryptoProvider;
/** ts-mls checks KeyPackage lifetimes against the wall clock, so both sides use it (no fixed test clock here). */
const NOW = BigInt(Math.floor(Date.now() / 1000));
const config: Partial<GroupConfig> = { clock: () => NOW };
/** Inside both sides' lifetime limits (ts-mls: one month; ours: 90 days). */
const LIFETIME = lifetimeFrom(NOW - 60n, 28n * 24n * 3600n);
const LABEL = "interop";
const CONTEXT = utf8("conclave x ts-mls");

type Member = { readonly ours: Group } | { readonly theirs: TsMember };

async function exported(m: Member): Promise<Uint8Array> {
  return "ours" in m ? m.ours.exportSecret(LABEL, CONTEXT, 32) : await m.theirs.exportSecret(LABEL, CONTEXT, 32);
}

function view(m: Member): { epoch: bigint; authenticator: Uint8Array; leaves: number[]; active: boolean } {
  return "ours" in m
    ? { epoch: m.ours.epoch, authenticator: m.ours.epochAuthenticator, leaves: m.ours.members.map((x) => x.leafIndex as number), active: m.ours.isActive }
    : { epoch: m.theirs.epoch, authenticator: m.theirs.epochAuthenticator, leaves: m.theirs.memberLeaves, active: m.theirs.isActive };
}

/** Every member agrees on the epoch, its authenticator, an exported secret and who is in the group. */
async function expectInSync(members: readonly Member[], epoch: bigint): Promise<void> {
  const first = members[0]!;
  const v0 = view(first);
  const x0 = await exported(first);
  expect(v0.epoch).toBe(epoch);
  for (const m of members) {
    const v = view(m);
    expect(v.active).toBe(true);
    expect(v.epoch).toBe(v0.epoch);
    expect(Buffer.from(v.authenticator).toString("hex")).toBe(Buffer.from(v0.authenticator).toString("hex"));
    expect(Buffer.from(await exported(m)).toString("hex")).toBe(Buffer.from(x0).toString("hex"));
    expect(v.leaves).toEqual(v0.leaves);
  }
}

/** `sender` encrypts `count` messages in a row; every receiver decrypts them all to the same plaintext. */
async function talk(sender: Member, receivers: readonly Member[], text: string, count = 3): Promise<void> {
  const sent: { text: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const t = `${text} #${i}`;
    // authenticated_data too (§6.3): it is bound into the AEAD, so a mismatch would fail decryption on either side.
    const aad = utf8(`aad ${i}`);
    const bytes = "ours" in sender ? await sender.ours.encryptApplicationMessage(utf8(t), aad) : await sender.theirs.send(utf8(t), aad);
    sent.push({ text: t, bytes });
  }
  for (const r of receivers) {
    for (const s of sent) {
      if ("ours" in r) {
        const got = await r.ours.processMessage(s.bytes);
        if (got.kind !== "application") throw new Error(`expected application data, got ${got.kind}`);
        expect(new TextDecoder().decode(got.data)).toBe(s.text);
        expect(got.sender).toBe("ours" in sender ? sender.ours.ownLeafIndex : sender.theirs.ownLeafIndex);
        expect(new TextDecoder().decode(got.authenticatedData)).toBe(`aad ${sent.indexOf(s)}`);
      } else {
        const got = await r.theirs.receive(s.bytes);
        if (got.kind !== "application") throw new Error(`expected application data, got ${got.kind}`);
        expect(new TextDecoder().decode(got.data)).toBe(s.text);
      }
    }
  }
}

/** Delivers a commit's bytes to every other member (ours stage and merge it; ts-mls applies it); returns what our first receiver staged. */
async function deliver(commit: Uint8Array, receivers: readonly Member[]): Promise<StagedCommitInfo | undefined> {
  let first: StagedCommitInfo | undefined;
  for (const r of receivers) {
    if ("ours" in r) {
      const got = await r.ours.processMessage(commit);
      if (got.kind !== "commit") throw new Error(`expected a commit, got ${got.kind}`);
      r.ours.mergeStagedCommit(got.staged);
      first ??= got.staged;
    } else {
      expect((await r.theirs.receive(commit)).kind).toBe("handshake");
    }
  }
  return first;
}

/** Delivers a standalone proposal to our members (each must cache it) and ts-mls members; returns the ProposalRef ours computed. */
async function deliverProposal(message: Uint8Array, receivers: readonly Member[]): Promise<Uint8Array | undefined> {
  let ref: Uint8Array | undefined;
  for (const r of receivers) {
    if ("ours" in r) {
      const got = await r.ours.processMessage(message);
      if (got.kind !== "proposal") throw new Error(`expected a proposal, got ${got.kind}`);
      if (ref !== undefined) expect(got.ref).toEqual(ref);
      ref = got.ref;
    } else {
      expect((await r.theirs.receive(message)).kind).toBe("handshake");
    }
  }
  return ref;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

async function ourClient(suiteId: number, name: string): Promise<{ identity: Awaited<ReturnType<typeof makeClient>>["identity"]; kp: () => Promise<KeyPackageBundle> }> {
  const c = await makeClient(provider, suiteId, name);
  return { identity: c.identity, kp: () => createKeyPackage({ suite: c.suite, identity: c.identity, lifetime: LIFETIME }) };
}

function ourGroup(
  suiteId: number,
  identity: Awaited<ReturnType<typeof makeClient>>["identity"],
  handshake: "private" | "public" = "private",
  extra: Partial<GroupConfig> = {},
): Promise<Group> {
  return Group.create({ provider, cipherSuite: suiteId as 1, identity, lifetime: LIFETIME, config: { ...config, handshakeWireFormat: handshake, ...extra } });
}

function theirKeyPackage(suiteId: number, name: string): Promise<TsKeyPackage> {
  return tsKeyPackage(suiteId, name, LIFETIME);
}

/** We create the group and add a ts-mls member by Welcome. */
async function oursWithTheirs(suiteId: number, treeInGroupInfo: boolean, handshake: "private" | "public" = "private", extra: Partial<GroupConfig> = {}) {
  const alice = await ourClient(suiteId, "alice");
  const a = await ourGroup(suiteId, alice.identity, handshake, extra);
  const bobKp = await theirKeyPackage(suiteId, "bob");
  const pending = await a.createCommit({ add: [bobKp.message], ratchetTreeExtension: treeInGroupInfo });
  expect(pending.added.map((x) => x.leafIndex as number)).toEqual([1]);
  a.mergePendingCommit();
  const b = await TsMember.join(suiteId, pending.welcome!, bobKp, treeInGroupInfo ? undefined : pending.ratchetTree);
  return { a, b };
}

/** ts-mls creates the group and adds one of ours by Welcome. */
async function theirsWithOurs(suiteId: number, treeInGroupInfo: boolean) {
  const a = await TsMember.create(suiteId, "alice", LIFETIME, utf8(`ts-mls group ${suiteId}`));
  const bob = await ourClient(suiteId, "bob");
  const bobKp = await bob.kp();
  const c = await a.commit({ add: [bobKp.message], ratchetTreeExtension: treeInGroupInfo });
  expect(c.welcome).toBeDefined();
  const b = await Group.join(c.welcome!, { provider, keyPackages: [bobKp], config, ...(treeInGroupInfo ? {} : { ratchetTree: c.ratchetTree }) });
  return { a, b, bob };
}

// Suite 1 is the mandatory one; 3 swaps in ChaCha20-Poly1305. (ts-mls loads @noble/curves for the NIST
// and X448 suites from the repository root, where it is not installed: those suites cannot run here.)
for (const suiteId of [1, 3]) {
  describe(`interop with ts-mls, suite ${suiteId}`, () => {
    for (const treeInGroupInfo of [true, false]) {
      const how = treeInGroupInfo ? "ratchet_tree in the GroupInfo" : "ratchet tree out of band";

      it(`we create, ts-mls joins by Welcome (${how}); messages both ways`, async () => {
        const { a, b } = await oursWithTheirs(suiteId, treeInGroupInfo);
        const members: Member[] = [{ ours: a }, { theirs: b }];
        await expectInSync(members, 1n);
        expect(b.ownLeafIndex).toBe(1);
        await talk({ ours: a }, [{ theirs: b }], "alice to bob");
        await talk({ theirs: b }, [{ ours: a }], "bob to alice");
        await talk({ ours: a }, [{ theirs: b }], "alice again", 5);
      });

      it(`ts-mls creates, we join by Welcome (${how}); messages both ways`, async () => {
        const { a, b } = await theirsWithOurs(suiteId, treeInGroupInfo);
        const members: Member[] = [{ theirs: a }, { ours: b }];
        await expectInSync(members, 1n);
        expect(b.ownLeafIndex).toBe(1);
        await talk({ ours: b }, [{ theirs: a }], "bob to alice");
        await talk({ theirs: a }, [{ ours: b }], "alice to bob", 5);
      });
    }

    for (const wire of ["private", "public"] as const) {
      it(`commits both ways as ${wire === "private" ? "PrivateMessage" : "PublicMessage"}: add, update, remove, with a third member of each implementation`, async () => {
        const publicMessage = wire === "public";
        // Epoch 1: ours (leaf 0) and ts-mls (leaf 1).
        const { a, b } = await oursWithTheirs(suiteId, true, wire);
        const A: Member = { ours: a };
        const B: Member = { theirs: b };

        // ts-mls adds one of ours (Carol, leaf 2): its Welcome, our commit processing.
        const carol = await ourClient(suiteId, "carol");
        const carolKp = await carol.kp();
        const addCarol = await b.commit({ add: [carolKp.message], publicMessage, ratchetTreeExtension: true });
        await deliver(addCarol.commit, [A]);
        const c = await Group.join(addCarol.welcome!, { provider, keyPackages: [carolKp], config });
        const C: Member = { ours: c };
        expect(c.ownLeafIndex).toBe(2);
        await expectInSync([A, B, C], 2n);
        await talk(C, [A, B], "carol says hi");

        // We add a ts-mls member (Dave, leaf 3): our Welcome and commit, ts-mls processing.
        const daveKp = await theirKeyPackage(suiteId, "dave");
        const addDave = await a.createCommit({ add: [daveKp.message], ratchetTreeExtension: false });
        a.mergePendingCommit();
        await deliver(addDave.commit, [B, C]);
        const d = await TsMember.join(suiteId, addDave.welcome!, daveKp, addDave.ratchetTree);
        const D: Member = { theirs: d };
        await expectInSync([A, B, C, D], 3n);
        await talk(D, [A, B, C], "dave says hi");

        // Path-only commits (Update of the committer's leaf): ts-mls, then ours.
        const theirUpdate = await d.commit({ publicMessage });
        await deliver(theirUpdate.commit, [A, B, C]);
        await expectInSync([A, B, C, D], 4n);
        const ourUpdate = await c.createCommit();
        expect(ourUpdate.added.length + ourUpdate.removed.length).toBe(0);
        c.mergePendingCommit();
        await deliver(ourUpdate.commit, [A, B, D]);
        await expectInSync([A, B, C, D], 5n);
        await talk(B, [A, C, D], "after the updates");

        // ts-mls removes one of ours (Carol), then we remove one of theirs (Dave).
        const removeCarol = await b.commit({ remove: [2], publicMessage });
        const carolSees = await c.processMessage(removeCarol.commit);
        if (carolSees.kind !== "commit") throw new Error(`expected a commit, got ${carolSees.kind}`);
        expect(carolSees.staged.selfRemoved).toBe(true);
        await deliver(removeCarol.commit, [A, D]);
        await expectInSync([A, B, D], 6n);
        expect(view(A).leaves).toEqual([0, 1, 3]);

        const removeDave = await a.createCommit({ remove: [leafIndex(3)] });
        a.mergePendingCommit();
        expect(await d.receive(removeDave.commit)).toEqual({ kind: "handshake" });
        expect(d.isActive).toBe(false);
        await deliver(removeDave.commit, [B]);
        await expectInSync([A, B], 7n);
        await talk(A, [B], "just us again");
        await talk(B, [A], "indeed");
      });
    }

    it("proposals by reference across implementations: our Update and Add committed by ts-mls, ts-mls Add and Remove committed by us", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true);
      const A: Member = { ours: a };
      const B: Member = { theirs: b };

      // Our Update proposal, committed by reference by ts-mls.
      const oldKey = hex(a.member(a.ownLeafIndex)!.leafNode.encryptionKey);
      const upd = await a.proposeUpdate();
      expect((await b.receive(upd.message)).kind).toBe("handshake");
      const c1 = await b.commit();
      const own = await a.processMessage(c1.commit);
      if (own.kind !== "commit") throw new Error(`expected a commit, got ${own.kind}`);
      expect(own.staged.proposals.map((p) => hex(p.ref ?? new Uint8Array(0)))).toEqual([hex(upd.ref)]);
      expect(own.staged.updated.map((m) => m.leafIndex as number)).toEqual([0]);
      a.mergeStagedCommit(own.staged);
      expect(hex(a.member(a.ownLeafIndex)!.leafNode.encryptionKey)).not.toBe(oldKey);
      await expectInSync([A, B], 2n);
      await talk(A, [B], "after my update");

      // ts-mls proposes adding one of ours; we commit it by reference and send the Welcome.
      const carol = await ourClient(suiteId, "carol");
      const carolKp = await carol.kp();
      const addRef = await deliverProposal(await b.propose({ add: carolKp.message }), [A]);
      const c2 = await a.createCommit();
      expect(c2.proposals.map((p) => hex(p.ref ?? new Uint8Array(0)))).toEqual([hex(addRef!)]);
      expect(c2.added.map((m) => m.leafIndex as number)).toEqual([2]);
      a.mergePendingCommit();
      await deliver(c2.commit, [B]);
      const c = await Group.join(c2.welcome!, { provider, keyPackages: [carolKp], config });
      const C: Member = { ours: c };
      await expectInSync([A, B, C], 3n);

      // Our Add of a ts-mls member, committed by reference by ts-mls; its Welcome goes to ts-mls.
      const daveKp = await theirKeyPackage(suiteId, "dave");
      const addDave = await a.proposeAdd(daveKp.message);
      await deliverProposal(addDave.message, [B, C]);
      const c3 = await b.commit({ ratchetTreeExtension: true });
      const staged3 = await deliver(c3.commit, [A, C]);
      expect(staged3!.proposals.map((p) => hex(p.ref ?? new Uint8Array(0)))).toEqual([hex(addDave.ref)]);
      const d = await TsMember.join(suiteId, c3.welcome!, daveKp);
      const D: Member = { theirs: d };
      await expectInSync([A, B, C, D], 4n);
      await talk(D, [A, B, C], "dave here");

      // ts-mls proposes (as a PublicMessage) removing Carol; we commit it by reference.
      const rmRef = await deliverProposal(await b.propose({ remove: 2 }, true), [A, C, D]);
      const c4 = await a.createCommit();
      expect(c4.proposals.map((p) => hex(p.ref ?? new Uint8Array(0)))).toEqual([hex(rmRef!)]);
      expect(c4.removed.map((m) => m.leafIndex as number)).toEqual([2]);
      a.mergePendingCommit();
      await deliver(c4.commit, [B, D]);
      await expectInSync([A, B, D], 5n);
      await talk(B, [A, D], "carol is gone");
    });

    it("application messages out of order both ways, with our padding on", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true, "private", { padding: { kind: "padToMultiple", multiple: 64 } });
      const ours = await Promise.all(Array.from({ length: 6 }, async (_, i) => ({ text: `ours ${i}`, bytes: await a.encryptApplicationMessage(utf8(`ours ${i}`)) })));
      const theirs: { text: string; bytes: Uint8Array }[] = [];
      for (let i = 0; i < 6; i++) theirs.push({ text: `theirs ${i}`, bytes: await b.send(utf8(`theirs ${i}`)) });
      for (const m of [...ours].reverse()) {
        const got = await b.receive(m.bytes);
        if (got.kind !== "application") throw new Error("expected application data");
        expect(new TextDecoder().decode(got.data)).toBe(m.text);
      }
      for (const i of [3, 0, 5, 1, 4, 2]) {
        const got = await a.processMessage(theirs[i]!.bytes);
        if (got.kind !== "application") throw new Error(`expected application data, got ${got.kind}`);
        expect(new TextDecoder().decode(got.data)).toBe(theirs[i]!.text);
      }
    });

    // External joins cannot interoperate with ts-mls 1.6.4: it writes external_pub's extension_data as the bare
    // HPKE key, where RFC 9420 §12.4.3.2 says `struct { HPKEPublicKey external_pub; }` with
    // `opaque HPKEPublicKey<V>` (a length-prefixed key inside the length-prefixed extension_data). ts-mls fixed
    // this upstream (LukaJCB/ts-mls PR #449, after 1.6.4). This pins the difference, so a ts-mls upgrade shows up here.
    it("external_pub encoding: ours is HPKEPublicKey<V> (§12.4.3.2); ts-mls 1.6.4 sends the bare key", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true);
      const m = decode(mlsMessageCodec, await a.groupInfo({ ratchetTree: true, externalPub: true }));
      if (m.wireFormat !== WireFormat.groupInfo) throw new Error("expected a GroupInfo");
      const ours = findExtension(m.groupInfo.extensions, ExtensionType.externalPub)!.extensionData;
      const key = readExtension(m.groupInfo.extensions, ExtensionType.externalPub, externalPubCodec)!.externalPub;
      expect(key.length).toBe(32); // X25519 Npk
      expect(ours.length).toBe(1 + key.length);
      expect(ours[0]).toBe(key.length);
      const theirs = (await b.externalGroupInfoExtensions()).get("external_pub")!;
      expect(theirs.length).toBe(32);
    });

    it("a mixed group under a seeded random run of adds, path updates and removes by members of either implementation", async () => {
      let seed = 0x9e3779b9 ^ suiteId;
      const rand = (n: number): number => {
        // xorshift32: reproducible without a dependency.
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      const leafOf = (m: Member): number => ("ours" in m ? (m.ours.ownLeafIndex as number) : m.theirs.ownLeafIndex);
      const { a, b } = await oursWithTheirs(suiteId, true);
      let members: Member[] = [{ ours: a }, { theirs: b }];
      let epoch = 1n;
      let joined = 0;
      for (let step = 0; step < 16; step++) {
        const committer = members[rand(members.length)]!;
        const others = members.filter((m) => m !== committer);
        const op = members.length <= 2 ? 0 : members.length >= 7 ? 2 : rand(3);
        if (op === 0) {
          // Add a member of either implementation; its tree arrives in the GroupInfo or out of band.
          const name = `joiner${joined++}`;
          const inGroupInfo = rand(2) === 0;
          const joinerIsOurs = rand(2) === 0;
          const ourKp = joinerIsOurs ? await (await ourClient(suiteId, name)).kp() : undefined;
          const theirKp = joinerIsOurs ? undefined : await theirKeyPackage(suiteId, name);
          const kpBytes = ourKp?.message ?? theirKp!.message;
          let commit: Uint8Array;
          let welcome: Uint8Array;
          let tree: Uint8Array;
          if ("ours" in committer) {
            const p = await committer.ours.createCommit({ add: [kpBytes], ratchetTreeExtension: inGroupInfo, path: rand(2) === 0 ? "always" : "whenRequired" });
            committer.ours.mergePendingCommit();
            ({ commit, welcome, tree } = { commit: p.commit, welcome: p.welcome!, tree: p.ratchetTree });
          } else {
            const p = await committer.theirs.commit({ add: [kpBytes], ratchetTreeExtension: inGroupInfo, publicMessage: rand(2) === 0 });
            ({ commit, welcome, tree } = { commit: p.commit, welcome: p.welcome!, tree: p.ratchetTree });
          }
          await deliver(commit, others);
          const joiner: Member = ourKp
            ? { ours: await Group.join(welcome, { provider, keyPackages: [ourKp], config, ...(inGroupInfo ? {} : { ratchetTree: tree }) }) }
            : { theirs: await TsMember.join(suiteId, welcome, theirKp!, inGroupInfo ? undefined : tree) };
          members = [...members, joiner];
        } else if (op === 1) {
          // A path-only commit: the committer's Update.
          const commit = "ours" in committer ? (await committer.ours.createCommit()).commit : (await committer.theirs.commit({ publicMessage: rand(2) === 0 })).commit;
          if ("ours" in committer) committer.ours.mergePendingCommit();
          await deliver(commit, others);
        } else {
          const target = others[rand(others.length)]!;
          const rest = others.filter((m) => m !== target);
          let commit: Uint8Array;
          if ("ours" in committer) {
            commit = (await committer.ours.createCommit({ remove: [leafIndex(leafOf(target))] })).commit;
            committer.ours.mergePendingCommit();
          } else {
            commit = (await committer.theirs.commit({ remove: [leafOf(target)], publicMessage: rand(2) === 0 })).commit;
          }
          if ("ours" in target) {
            const got = await target.ours.processMessage(commit);
            if (got.kind !== "commit") throw new Error(`expected a commit, got ${got.kind}`);
            expect(got.staged.selfRemoved).toBe(true);
          } else {
            await target.theirs.receive(commit);
            expect(target.theirs.isActive).toBe(false);
          }
          await deliver(commit, rest);
          members = members.filter((m) => m !== target);
        }
        epoch += 1n;
        await expectInSync(members, epoch);
        const speaker = members[rand(members.length)]!;
        await talk(
          speaker,
          members.filter((m) => m !== speaker),
          `step ${step}`,
          1,
        );
      }
    });

    // ts-mls 1.6.4 derives commit_secret from a path secret of the root even when the root is not on the
    // committer's filtered direct path (the pre-RFC draft rule, mlswg/mls-protocol#690). RFC 9420 §12.4.2:
    // commit_secret is path_secret[n+1] derived from the last path secret of the UpdatePath. The example of #690:
    // with leaves 0 and 1 removed, leaf 2's filtered direct path stops below the root, and the two disagree.
    it("commit_secret when the root is off the filtered direct path: ts-mls 1.6.4 derives it at the root (pinned)", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true);
      const cKp = await theirKeyPackage(suiteId, "carol");
      const dave = await ourClient(suiteId, "dave");
      const dKp = await dave.kp();
      const add = await a.createCommit({ add: [cKp.message, dKp.message] });
      a.mergePendingCommit();
      await deliver(add.commit, [{ theirs: b }]);
      const c = await TsMember.join(suiteId, add.welcome!, cKp);
      const d = await Group.join(add.welcome!, { provider, keyPackages: [dKp], config });
      await expectInSync([{ ours: a }, { theirs: b }, { theirs: c }, { ours: d }], 2n);

      // ts-mls (leaf 2) removes leaves 0 and 1 with a path: we reject its confirmation tag.
      const cBefore = c.fork();
      const rm = await c.commit({ remove: [0, 1] });
      await expect(d.processMessage(rm.commit)).rejects.toMatchObject({ code: "MESSAGE_INVALID_CONFIRMATION_TAG" });

      // The same situation the other way round: ours (leaf 3) removes 0 and 1; ts-mls rejects it.
      const ours = await d.createCommit({ remove: [leafIndex(0), leafIndex(1)] });
      await expect(cBefore.receive(ours.commit)).rejects.toThrow(/confirmation tag/i);
    });

    // ts-mls 1.6.4's joinGroup tree check wants every non-blank node on an unmerged leaf's direct path to hold
    // the very same unmerged_leaves list, where RFC 9420 §12.4.3.1 asks only that the non-blank nodes between
    // the leaf and the listing node list that leaf. A parent listing [3] under a root listing [5, 6] is valid
    // (our joiner accepts it), yet ts-mls refuses to join.
    it("unmerged_leaves check at join: ts-mls 1.6.4 refuses a valid tree (pinned)", async () => {
      const alice = await ourClient(suiteId, "alice");
      const a = await ourGroup(suiteId, alice.identity);
      const others: Group[] = [];
      const addOurs = async (name: string, path: "always" | "whenRequired"): Promise<void> => {
        const kp = await (await ourClient(suiteId, name)).kp();
        const p = await a.createCommit({ add: [kp.message], path });
        a.mergePendingCommit();
        await deliver(
          p.commit,
          others.map((g) => ({ ours: g })),
        );
        others.push(await Group.join(p.welcome!, { provider, keyPackages: [kp], config }));
      };
      await addOurs("bob", "always");
      await addOurs("carol", "always");
      await addOurs("dave", "whenRequired"); // leaf 3: unmerged at node 3
      await addOurs("erin", "whenRequired"); // leaf 4: the tree grows, its new root is blank
      const erin = others[3]!;
      const upd = await erin.createCommit(); // sets the root (only), leaving node 3's unmerged [3]
      erin.mergePendingCommit();
      await deliver(
        upd.commit,
        [a, ...others.slice(0, 3)].map((g) => ({ ours: g })),
      );

      // Alice adds, without a path, one of theirs (leaf 5) and one of ours (leaf 6): the root lists [5, 6].
      const tKp = await theirKeyPackage(suiteId, "tess");
      const uKp = await (await ourClient(suiteId, "ursula")).kp();
      const p = await a.createCommit({ add: [tKp.message, uKp.message], path: "whenRequired" });
      expect(p.added.map((m) => m.leafIndex as number)).toEqual([5, 6]);
      a.mergePendingCommit();
      await deliver(
        p.commit,
        others.map((g) => ({ ours: g })),
      );
      const u = await Group.join(p.welcome!, { provider, keyPackages: [uKp], config });
      await expectInSync(
        [a, ...others, u].map((g) => ({ ours: g })),
        6n,
      );
      await expect(TsMember.join(suiteId, p.welcome!, tKp)).rejects.toThrow("non-blank intermediate node must list leaf node in its unmerged_leaves");
    });

    // A GroupInfo only travels between members of one implementation here (external_pub differs, above), but the
    // external commit itself crosses over: ts-mls members process ours and we process theirs (§12.4.3.2).
    it("external commits across implementations: we join a mixed group from our GroupInfo, ts-mls joins from its own", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true);
      const eve = await ourClient(suiteId, "eve");
      const gi = await a.groupInfo({ ratchetTree: true, externalPub: true });
      const joined = await Group.joinExternal(gi, { provider, identity: eve.identity, config });
      const e = joined.group;
      expect(e.ownLeafIndex).toBe(2);
      await deliver(joined.commit, [{ ours: a }, { theirs: b }]);
      await expectInSync([{ ours: a }, { theirs: b }, { ours: e }], 2n);
      await talk({ ours: e }, [{ ours: a }, { theirs: b }], "eve joined externally");

      const fKp = await theirKeyPackage(suiteId, "frank");
      const { member: f, commit } = await TsMember.joinExternal(suiteId, await b.groupInfo(), fKp);
      await deliver(commit, [{ ours: a }, { theirs: b }, { ours: e }]);
      expect(f.ownLeafIndex).toBe(3);
      await expectInSync([{ ours: a }, { theirs: b }, { ours: e }, { theirs: f }], 3n);
      await talk({ theirs: f }, [{ ours: a }, { theirs: b }, { ours: e }], "frank joined externally");
      await talk({ ours: a }, [{ theirs: b }, { ours: e }, { theirs: f }], "welcome both");
    });

    it("PreSharedKey commits both ways: external and resumption PSKs enter both key schedules alike (§8.4, §8.6)", async () => {
      const pskId = utf8("shared-psk");
      const pskSecret = crypto.getRandomValues(new Uint8Array(32));
      const { a, b } = await oursWithTheirs(suiteId, true, "private", { externalPsks: (id) => (hex(id) === hex(pskId) ? pskSecret : undefined) });
      b.addExternalPsk(pskId, pskSecret);
      const members: Member[] = [{ ours: a }, { theirs: b }];

      const ext = await a.createCommit({ proposals: [{ proposalType: ProposalType.psk, psk: a.externalPskId(pskId) }] });
      a.mergePendingCommit();
      await deliver(ext.commit, [{ theirs: b }]);
      await expectInSync(members, 2n);

      const theirExt = await b.commit({ psks: [{ external: pskId }] });
      expect((await deliver(theirExt.commit, [{ ours: a }]))!.proposals.map((p) => p.proposal.proposalType)).toEqual([ProposalType.psk]);
      await expectInSync(members, 3n);

      const res = await a.createCommit({ proposals: [{ proposalType: ProposalType.psk, psk: a.resumptionPskId(2n) }] });
      a.mergePendingCommit();
      await deliver(res.commit, [{ theirs: b }]);
      await expectInSync(members, 4n);

      const theirRes = await b.commit({ psks: [{ resumptionEpoch: 3n }] });
      await deliver(theirRes.commit, [{ ours: a }]);
      await expectInSync(members, 5n);
      await talk({ theirs: b }, [{ ours: a }], "after the PSKs");
    });

    // Our GroupContextExtensions commit is processed by ts-mls. The other way cannot work with ts-mls 1.6.4
    // (pinned here): alone, its GroupContextExtensions commit carries no UpdatePath, which RFC 9420 §12.4 forbids
    // (group_context_extensions is path-required; §17.4 registry "Path: Y"), so we refuse it with
    // COMMIT_MISSING_PATH; with a Remove it has a path, but ts-mls encrypts the path secrets under a provisional
    // GroupContext with the OLD extensions, where §12.4.1/§12.4.2 use the new ones (its own receiver uses the new
    // ones too), so HPKE decryption fails: CRYPTO_DECRYPT_FAILED.
    it("GroupContextExtensions: ours is processed by ts-mls; ts-mls's is refused (pinned ts-mls 1.6.4 deviations)", async () => {
      const { a, b } = await oursWithTheirs(suiteId, true);
      const required = makeExtension(ExtensionType.requiredCapabilities, requiredCapabilitiesCodec, { extensionTypes: [], proposalTypes: [], credentialTypes: [] });
      const ours = await a.createCommit({ proposals: [{ proposalType: ProposalType.groupContextExtensions, extensions: [required] }] });
      a.mergePendingCommit();
      await deliver(ours.commit, [{ theirs: b }]);
      await expectInSync([{ ours: a }, { theirs: b }], 2n);
      expect(a.extensions.map((e) => e.extensionType)).toEqual([ExtensionType.requiredCapabilities]);
      await talk({ theirs: b }, [{ ours: a }], "with new extensions");

      const cKp = await theirKeyPackage(suiteId, "carol");
      const addC = await b.commit({ add: [cKp.message] });
      await deliver(addC.commit, [{ ours: a }]);
      const c = await TsMember.join(suiteId, addC.welcome!, cKp, addC.ratchetTree);
      await expectInSync([{ ours: a }, { theirs: b }, { theirs: c }], 3n);

      // ts-mls now asks for the basic credential type: the extensions change (were they equal, old and new
      // contexts would coincide and the path would decrypt). As a PublicMessage: the fork must not use the
      // handshake key generation of the commit below.
      const pathless = await b.fork().commit({ requireCredentials: ["basic"], publicMessage: true });
      await expect(a.processMessage(pathless.commit)).rejects.toMatchObject({ code: "COMMIT_MISSING_PATH" });
      const withPath = await b.commit({ requireCredentials: ["basic"], remove: [c.ownLeafIndex] });
      await expect(a.processMessage(withPath.commit)).rejects.toMatchObject({ code: "CRYPTO_DECRYPT_FAILED" });
    });
  });
}
