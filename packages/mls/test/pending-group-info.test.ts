/**
 * The GroupInfo of a pending commit (RFC 9420 §12.4.3): signed when first
 * asked unless the Welcome needed it, so a commit without new members costs
 * two signatures (its LeafNode §7.5 and its FramedContent §6.1), not three.
 * What it signs must be the new epoch's, whether asked before the merge,
 * after it, or after a restore from serialized state; once the group has left
 * that epoch it must refuse rather than sign with deleted secrets.
 */
import { describe, expect, it } from "vitest";
import { bytesEqual } from "../src/codec/bytes.js";
import { decode } from "../src/codec/tls.js";
import { buildCipherSuite, nodeCryptoProvider, type CipherSuite, type CryptoProvider } from "../src/crypto/index.js";
import { Group } from "../src/group/index.js";
import { ExtensionType, WireFormat } from "../src/messages/enums.js";
import type { GroupInfo } from "../src/messages/groupInfo.js";
import { mlsMessageCodec } from "../src/messages/mlsMessage.js";
import { verifyGroupInfoSignature } from "../src/welcome/groupInfoSignature.js";
import { baseConfig, expectCode, expectInSync, keyPackageFor, makeClient, stagedOf, wrappedNodeProvider } from "./group-support.js";

/** The node provider, counting signatures made. */
function countingSigns(): { provider: CryptoProvider; signs: () => number } {
  let signs = 0;
  const provider = wrappedNodeProvider("sign-counting-node", (base) =>
    buildCipherSuite({
      ...base,
      sign: (sk, m) => {
        signs++;
        return base.sign(sk, m);
      },
    }),
  );
  return { provider, signs: () => signs };
}

function groupInfoOf(bytes: Uint8Array): GroupInfo {
  const m = decode(mlsMessageCodec, bytes);
  if (m.wireFormat !== WireFormat.groupInfo) throw new Error(`expected a GroupInfo, got wire format ${m.wireFormat}`);
  return m.groupInfo;
}

async function twoMembers(provider: CryptoProvider, suiteId: number) {
  const [alice, bob] = await Promise.all(["alice", "bob"].map((n) => makeClient(provider, suiteId, n)));
  const a = await Group.create({ provider, cipherSuite: suiteId as 1, identity: alice!.identity, config: baseConfig });
  const kb = await keyPackageFor(bob!);
  const add = await a.createCommit({ add: [kb.message] });
  a.mergePendingCommit();
  const b = await Group.join(add.welcome!, { provider, keyPackages: [kb], config: baseConfig });
  return { a, b, alice: alice!, add };
}

/** Checks that `bytes` is `g`'s current epoch's GroupInfo, signed by `g`'s own leaf. */
async function expectGroupInfoOfEpoch(bytes: Uint8Array, g: Group): Promise<GroupInfo> {
  const gi = groupInfoOf(bytes);
  expect(gi.groupContext.epoch).toBe(g.epoch);
  expect(gi.signer).toBe(g.ownLeafIndex);
  const current = groupInfoOf(await g.groupInfo());
  expect(bytesEqual(gi.groupContext.treeHash, current.groupContext.treeHash)).toBe(true);
  expect(bytesEqual(gi.groupContext.confirmedTranscriptHash, current.groupContext.confirmedTranscriptHash)).toBe(true);
  expect(bytesEqual(gi.confirmationTag, current.confirmationTag)).toBe(true);
  // Each extension it carries (the options may leave some out) is the current epoch's.
  for (const e of gi.extensions) expect(e.extensionData).toEqual(current.extensions.find((c) => c.extensionType === e.extensionType)?.extensionData);
  const me = g.members.find((m) => m.leafIndex === g.ownLeafIndex)!;
  expect(await verifyGroupInfoSignature(nodeCryptoProvider.suite(g.cipherSuite), me.signatureKey, gi)).toBe(true);
  return gi;
}

describe("a pending commit's GroupInfo", () => {
  for (const suiteId of [1, 2]) {
    it(`suite ${suiteId}: a commit without new members signs no GroupInfo until asked; asked, it is the new epoch's and lets an outsider join`, async () => {
      const { provider, signs } = countingSigns();
      const { a, b } = await twoMembers(provider, suiteId);
      const before = signs();
      const p = await a.createCommit();
      // RFC 9420 §7.5 (the new LeafNode) and §6.1 (the FramedContent): nothing else.
      expect(signs() - before).toBe(2);
      const bytes = await p.groupInfo();
      expect(signs() - before).toBe(3);
      expect(await p.groupInfo()).toBe(bytes); // signed once
      a.mergePendingCommit();
      b.mergeStagedCommit(await stagedOf(b, p.commit));
      await expectGroupInfoOfEpoch(bytes, a);
      expect(await p.groupInfo()).toBe(bytes);

      const dave = await makeClient(provider, suiteId, "dave");
      const joined = await Group.joinExternal(bytes, { provider, identity: dave.identity, config: baseConfig });
      for (const g of [a, b]) g.mergeStagedCommit(await stagedOf(g, joined.commit));
      expectInSync([a, b, joined.group]);
    });
  }

  it("asked after the merge, it is signed from the merged epoch; once the group moved on or the commit was dropped, it is refused", async () => {
    const { a } = await twoMembers(nodeCryptoProvider, 1);
    const p = await a.createCommit();
    a.mergePendingCommit();
    const bytes = await p.groupInfo();
    await expectGroupInfoOfEpoch(bytes, a);
    // Ed25519 is deterministic: the same GroupInfo as the group's own.
    expect(bytesEqual(bytes, await a.groupInfo())).toBe(true);

    const late = await a.createCommit();
    a.mergePendingCommit();
    await a.createCommit();
    a.mergePendingCommit();
    await expectCode(late.groupInfo(), "GROUP_INFO_UNAVAILABLE");

    const dropped = await a.createCommit();
    a.clearPendingCommit();
    await expectCode(dropped.groupInfo(), "GROUP_INFO_UNAVAILABLE");

    const destroyed = await a.createCommit();
    a.destroy();
    await expectCode(destroyed.groupInfo(), "GROUP_INFO_UNAVAILABLE");
  });

  it("with a Welcome it is signed at once and stays available after the group moved on", async () => {
    const { provider, signs } = countingSigns();
    const { a, add } = await twoMembers(provider, 1);
    const first = await add.groupInfo();
    const welcomeGi = groupInfoOf(first);
    expect(welcomeGi.groupContext.epoch).toBe(1n);
    const before = signs();
    await a.createCommit();
    a.mergePendingCommit();
    expect(bytesEqual(await add.groupInfo(), first)).toBe(true);
    expect(signs() - before).toBe(2);
  });

  it("honours the commit's ratchetTreeExtension and externalPub options", async () => {
    const { a } = await twoMembers(nodeCryptoProvider, 1);
    const p = await a.createCommit({ ratchetTreeExtension: false, externalPub: false });
    const gi = groupInfoOf(await p.groupInfo());
    expect(gi.extensions.map((e) => e.extensionType)).toEqual([]);
    a.mergePendingCommit();
    const q = await a.createCommit();
    const types = groupInfoOf(await q.groupInfo()).extensions.map((e) => e.extensionType);
    expect(types).toEqual([ExtensionType.ratchetTree, ExtensionType.externalPub]);
  });

  it("survives serialization: unsigned (state version 2) and as an earlier version stored it signed (version 1)", async () => {
    const { a } = await twoMembers(nodeCryptoProvider, 1);
    await a.createCommit({ externalPub: false });
    const restored = Group.deserialize(a.serialize(), nodeCryptoProvider, baseConfig);
    const p = restored.pendingCommit!;
    const gi = groupInfoOf(await p.groupInfo());
    expect(gi.extensions.map((e) => e.extensionType)).toEqual([ExtensionType.ratchetTree]);
    restored.mergePendingCommit();
    await expectGroupInfoOfEpoch(await p.groupInfo(), restored);

    // Version 1 held the signed GroupInfo as a plain opaque field: rewrite a version 2 state with one into that shape.
    const { a: c } = await twoMembers(nodeCryptoProvider, 1);
    const signed = await (await c.createCommit()).groupInfo();
    const v2 = c.serialize();
    const v1 = asVersion1(v2, signed);
    const old = Group.deserialize(v1, nodeCryptoProvider, baseConfig);
    expect(bytesEqual(await old.pendingCommit!.groupInfo(), signed)).toBe(true);
    expect(bytesEqual(old.serialize(), v2)).toBe(true);
    // Corrupt GroupInfo flags are refused, not guessed.
    const bad = v2.slice();
    bad[indexAfter(v2, signed)] = 9;
    expect(() => Group.deserialize(bad, nodeCryptoProvider, baseConfig)).toThrow(expect.objectContaining({ code: "GROUP_STATE_INVALID" }));
  });
});

/** The offset just past the only occurrence of `needle` in `haystack`. */
function indexAfter(haystack: Uint8Array, needle: Uint8Array): number {
  let found = -1;
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (bytesEqual(haystack.subarray(i, i + needle.length), needle)) {
      if (found !== -1) throw new Error("the GroupInfo occurs twice");
      found = i;
    }
  }
  if (found === -1) throw new Error("the GroupInfo is not in the state");
  return found + needle.length;
}

/** A version 2 state whose pending GroupInfo is signed, as version 1 wrote it: no presence octet before it, no flags after it. */
function asVersion1(v2: Uint8Array, groupInfo: Uint8Array): Uint8Array {
  const end = indexAfter(v2, groupInfo);
  const header = groupInfo.length < 64 ? 1 : groupInfo.length < 16384 ? 2 : 4;
  const presence = end - groupInfo.length - header - 1;
  expect(v2[presence]).toBe(1);
  expect(v2[end]).toBe(3);
  const out = new Uint8Array([...v2.subarray(0, presence), ...v2.subarray(presence + 1, end), ...v2.subarray(end + 1)]);
  expect(out[4]).toBe(2);
  out[4] = 1;
  return out;
}
