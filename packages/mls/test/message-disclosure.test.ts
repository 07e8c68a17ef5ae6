/**
 * Disclosing one PrivateMessage to a non-member (framing/disclosure.ts, RFC
 * 9750 §5.3): the disclosure opens exactly that message, a tampered one opens
 * nothing (DISCLOSURE_INVALID), a commit signed by someone else than the
 * client it came from is shown as such, and the member can still process the
 * message it disclosed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { utf8 } from "../src/codec/bytes.js";
import { encode } from "../src/codec/tls.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { signFramedContent } from "../src/framing/contentAuth.js";
import { withConfirmationTag } from "../src/framing/context.js";
import { openDisclosedMessage } from "../src/framing/disclosure.js";
import { protectPrivateMessage } from "../src/framing/privateMessage.js";
import { privateMessageContext } from "../src/group/groupState.js";
import { resolveConfig } from "../src/group/groupConfig.js";
import { Group } from "../src/group/index.js";
import { deserializeGroupState } from "../src/group/serialize.js";
import { ContentType, SenderType, WireFormat } from "../src/messages/enums.js";
import { groupContextCodec } from "../src/messages/groupContext.js";
import { baseConfig, expectCode, keyPackageFor, makeClient, type Client } from "./group-support.js";

const provider = nodeCryptoProvider;

describe("PrivateMessage disclosure", () => {
  let cs: Client[];
  let a: Group;
  let b: Group;
  let c: Group;
  beforeAll(async () => {
    cs = await Promise.all(["alice", "bob", "charlie"].map((n) => makeClient(provider, 1, n)));
    a = await Group.create({ provider, cipherSuite: 1, identity: cs[0]!.identity, config: baseConfig });
    const kps = await Promise.all(cs.slice(1).map((x) => keyPackageFor(x)));
    const p = await a.createCommit({ add: kps.map((k) => k.message) });
    a.mergePendingCommit();
    const joined = await Promise.all(kps.map((k) => Group.join(p.welcome!, { provider, keyPackages: [k], config: baseConfig })));
    b = joined[0]!;
    c = joined[1]!;
  });
  const aliceKey = () => cs[0]!.identity.signaturePublicKey;

  it("a member discloses a commit; the DS opens that commit with it, and the member still applies it", async () => {
    const p = await a.createCommit();
    const disclosure = await b.disclosePrivateMessage(p.commit);
    const opened = await openDisclosedMessage(provider, p.commit, disclosure, aliceKey());
    expect(opened.fault).toBeUndefined();
    expect(opened.senderLeaf).toBe(a.ownLeafIndex);
    expect(opened.content?.contentType).toBe(ContentType.commit);
    expect(opened.groupContext.epoch).toBe(a.epoch);
    expect(encode(groupContextCodec, opened.groupContext)).toEqual(encode(groupContextCodec, b.groupContext));
    // Under any other client's key the same content does not verify: the DS checks the poster's key.
    expect((await openDisclosedMessage(provider, p.commit, disclosure, cs[1]!.identity.signaturePublicKey)).fault).toBe("invalid-signature");
    // The disclosure did not spend the message's key.
    const r = await b.processMessage(p.commit);
    expect(r.kind).toBe("commit");
    a.clearPendingCommit();
  });

  it("opens only the message disclosed: not the sender's next one, not another sender's", async () => {
    const m1 = await a.encryptApplicationMessage(utf8("one"));
    const m2 = await a.encryptApplicationMessage(utf8("two"));
    const m3 = await c.encryptApplicationMessage(utf8("three"));
    const d1 = await b.disclosePrivateMessage(m1);
    const opened = await openDisclosedMessage(provider, m1, d1, aliceKey());
    expect(opened.content?.contentType === ContentType.application && new TextDecoder().decode(opened.content.applicationData)).toBe("one");
    await expectCode(openDisclosedMessage(provider, m2, d1, aliceKey()), "DISCLOSURE_INVALID");
    await expectCode(openDisclosedMessage(provider, m3, d1, aliceKey()), "DISCLOSURE_INVALID");
    // m2 is still readable by b: disclosing m1 spent nothing.
    const got = await b.processMessage(m2);
    expect(got.kind).toBe("application");
  });

  it("a tampered disclosure opens nothing (DISCLOSURE_INVALID)", async () => {
    const m = await a.encryptApplicationMessage(utf8("tamper"));
    const d = await b.disclosePrivateMessage(m);
    // Each of the key and nonce fields sits at the end of the struct: flip a byte in each region.
    for (const at of [d.length - 1, d.length - 20, d.length - 40, d.length - 60]) {
      const bad = d.slice();
      bad[at] = bad[at]! ^ 1;
      await expectCode(openDisclosedMessage(provider, m, bad, aliceKey()), "DISCLOSURE_INVALID");
    }
    await expectCode(openDisclosedMessage(provider, m, d.subarray(0, d.length - 1), aliceKey()), "DISCLOSURE_INVALID");
    await expectCode(openDisclosedMessage(provider, m, new Uint8Array([1, 2, 3]), aliceKey()), "DISCLOSURE_INVALID");
    // A GroupContext of another epoch: refused before any key is tried.
    const ctx = { ...b.groupContext, epoch: b.groupContext.epoch + 1n };
    const ctxBytes = encode(groupContextCodec, b.groupContext);
    const other = encode(groupContextCodec, ctx);
    const swapped = new Uint8Array(d.length);
    swapped.set(d);
    // The GroupContext is the struct's first field (after its length prefix), same length in both epochs.
    const at = indexOf(d, ctxBytes);
    expect(at).toBeGreaterThanOrEqual(0);
    swapped.set(other, at);
    await expectCode(openDisclosedMessage(provider, m, swapped, aliceKey()), "DISCLOSURE_INVALID");
  });

  it("a commit its sender did not sign is shown as such, and no member applies it", async () => {
    // Alice's ratchet, Charlie's signature: what a member relabelling someone else's content would post.
    const { state } = deserializeGroupState(a.serialize(), provider, resolveConfig(undefined));
    const signed = await signFramedContent(
      state.suite,
      cs[2]!.identity.signaturePrivateKey,
      WireFormat.privateMessage,
      {
        groupId: state.groupContext.groupId,
        epoch: state.groupContext.epoch,
        sender: { senderType: SenderType.member, leafIndex: a.ownLeafIndex },
        authenticatedData: new Uint8Array(0),
        contentType: ContentType.commit,
        commit: { proposals: [] },
      },
      state.groupContextBytes,
    );
    const forged = await protectPrivateMessage(privateMessageContext(state), withConfirmationTag(signed, new Uint8Array(state.suite.params.nh)));
    const d = await b.disclosePrivateMessage(forged);
    expect((await openDisclosedMessage(provider, forged, d, aliceKey())).fault).toBe("invalid-signature");
    await expectCode(b.processMessage(forged), "MESSAGE_INVALID_SIGNATURE");
  });

  it("only PrivateMessages of the member's current epoch are disclosed", async () => {
    const m = await a.encryptApplicationMessage(utf8("x"));
    const wrong = m.slice();
    wrong[wrong.length - 1] = wrong[wrong.length - 1]! ^ 1;
    await expectCode(b.disclosePrivateMessage(wrong), "CRYPTO_DECRYPT_FAILED");
    await expectCode(b.disclosePrivateMessage(await a.groupInfo()), "INVALID_ARGUMENT");
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
