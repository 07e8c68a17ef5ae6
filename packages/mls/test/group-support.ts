/**
 * Helpers for the Group scenario tests: members with basic credentials, a
 * fixed clock, a tiny in-memory "DS" that hands every member the same bytes,
 * and a forger that signs arbitrary (invalid) commits with a member's real
 * keys, to check that receivers enforce RFC 9420 §12.2/§12.4 themselves.
 */
import { expect } from "vitest";
import { utf8 } from "../src/codec/bytes.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { MlsError, type MlsErrorCode } from "../src/errors.js";
import { signFramedContent } from "../src/framing/contentAuth.js";
import { authenticatedContentBytes, withConfirmationTag } from "../src/framing/context.js";
import { protectPrivateMessage } from "../src/framing/privateMessage.js";
import { protectPublicMessage } from "../src/framing/publicMessage.js";
import { createKeyPackage, Group, lifetimeFrom, type GroupConfig, type KeyPackageBundle, type SigningIdentity, type StagedCommit } from "../src/group/index.js";
import { privateMessageContext, publicMessageContext } from "../src/group/groupState.js";
import { deserializeGroupState } from "../src/group/serialize.js";
import { resolveConfig } from "../src/group/groupConfig.js";
import type { Commit } from "../src/messages/commit.js";
import { ContentType, CredentialType, SenderType, WireFormat } from "../src/messages/enums.js";
import type { Proposal } from "../src/messages/proposal.js";
import { makeProposalRef } from "../src/messages/refs.js";
import type { Capabilities } from "../src/messages/capabilities.js";

export const NOW = 1_700_000_000n;
export const clock = (): bigint => NOW;

export interface Client {
  readonly name: string;
  readonly suite: CipherSuite;
  readonly identity: SigningIdentity;
}

export async function makeClient(provider: CryptoProvider, suiteId: number, name: string): Promise<Client> {
  const suite = provider.suite(suiteId);
  const kp = await suite.signatureGenerateKeyPair();
  return {
    name,
    suite,
    identity: { credential: { credentialType: CredentialType.basic, identity: utf8(name) }, signaturePrivateKey: kp.privateKey, signaturePublicKey: kp.publicKey },
  };
}

export function keyPackageFor(c: Client, capabilities?: Partial<Capabilities>): Promise<KeyPackageBundle> {
  return createKeyPackage({ suite: c.suite, identity: c.identity, lifetime: lifetimeFrom(NOW - 60n, 30n * 24n * 3600n), ...(capabilities ? { capabilities } : {}) });
}

export const baseConfig: Partial<GroupConfig> = { clock };

/** The node provider with each suite rebuilt by `wrap` (once per suite), to count or observe what the library asks of it. */
export function wrappedNodeProvider(name: string, wrap: (base: CipherSuite) => CipherSuite): CryptoProvider {
  const suites = new Map<number, CipherSuite>();
  return {
    name,
    suite(id) {
      let s = suites.get(id);
      if (s === undefined) {
        s = wrap(nodeCryptoProvider.suite(id));
        suites.set(id, s);
      }
      return s;
    },
  };
}

/** Asserts that `p` rejects with an MlsError of `code`. */
export async function expectCode(p: Promise<unknown> | (() => unknown), code: MlsErrorCode): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(MlsError);
  expect((err as MlsError).code, (err as MlsError).message).toBe(code);
}

/** Every group in `groups` agrees on the epoch and its secrets. */
export function expectInSync(groups: readonly Group[]): void {
  const [first, ...rest] = groups;
  for (const g of rest) {
    expect(g.epoch).toBe(first!.epoch);
    expect(g.epochAuthenticator).toEqual(first!.epochAuthenticator);
    expect(g.authenticationSecret).toEqual(first!.epochAuthenticator);
    expect(g.exportSecret("test", utf8("ctx"), 32)).toEqual(first!.exportSecret("test", utf8("ctx"), 32));
    expect(g.members.map((m) => m.leafIndex)).toEqual(first!.members.map((m) => m.leafIndex));
  }
}

/** Another member's commit as `g` stages it (not merged). */
export async function stagedOf(g: Group, commit: Uint8Array): Promise<StagedCommit> {
  const r = await g.processMessage(commit);
  if (r.kind !== "commit") throw new Error(`expected a commit, got ${r.kind}`);
  return r.staged;
}

/** Another member's commit, processed and merged by `g`. */
export async function processAndMerge(g: Group, commit: Uint8Array): Promise<void> {
  g.mergeStagedCommit(await stagedOf(g, commit));
}

/** Sends a commit from `committer` to `others` and merges everywhere (the DS accepted it). */
export async function deliverCommit(committer: Group, commit: Uint8Array, others: readonly Group[]): Promise<void> {
  for (const g of others) await processAndMerge(g, commit);
  const own = await committer.processMessage(commit);
  expect(own.kind).toBe("ownCommit");
}

/** Signs and protects arbitrary content as `sender` would, with its real keys, bypassing every validity check. */
export async function forge(
  provider: CryptoProvider,
  sender: Group,
  body: { contentType: typeof ContentType.commit; commit: Commit; confirmationTag?: Uint8Array } | { contentType: typeof ContentType.proposal; proposal: Proposal },
  wireFormat: "public" | "private" = "public",
): Promise<{ message: Uint8Array; ref: Uint8Array }> {
  const { state } = deserializeGroupState(sender.serialize(), provider, resolveConfig(undefined));
  const wf = wireFormat === "public" ? WireFormat.publicMessage : WireFormat.privateMessage;
  const content = body.contentType === ContentType.commit ? { contentType: body.contentType, commit: body.commit } : { contentType: body.contentType, proposal: body.proposal };
  let ac = await signFramedContent(
    state.suite,
    state.signaturePrivateKey,
    wf,
    {
      groupId: state.groupContext.groupId,
      epoch: state.groupContext.epoch,
      sender: { senderType: SenderType.member, leafIndex: sender.ownLeafIndex },
      authenticatedData: new Uint8Array(0),
      ...content,
    },
    state.groupContextBytes,
  );
  if (body.contentType === ContentType.commit) ac = withConfirmationTag(ac, body.confirmationTag ?? new Uint8Array(state.suite.params.nh));
  const ref = makeProposalRef(state.suite, authenticatedContentBytes(ac));
  const message = wf === WireFormat.publicMessage ? protectPublicMessage(publicMessageContext(state), ac) : await protectPrivateMessage(privateMessageContext(state), ac);
  return { message, ref };
}
