/**
 * Helpers for the DS tests: real KeyPackages signed with a registered
 * device's key, queue reading, and structurally valid MLS messages with filler
 * signatures and tags, built with the @conclave/mls codecs. The DS validates
 * every handshake against its public state of the group (issue 17), so the
 * filler commits, proposals and Welcomes here serve only as forgeries that
 * must be refused; real groups come from support/mlsGroup.ts. Filler
 * application messages (PrivateMessage) still pass where a test only needs
 * delivery: the DS reads their header, never their content.
 */
import { fromBase64Url, toBase64Url, type AckRequest, type AckResponse, type QueueEntryJson, type QueueResponse, type UploadKeyPackagesResponse } from "@conclave/api";
import { ContentType, CredentialType, encode, mlsMessageCodec, SenderType, utf8, WireFormat, type Capabilities, type LeafIndex } from "@conclave/mls";
import { createKeyPackage, type KeyPackageBundle } from "../../mls/src/group/keyPackage.js";
import { crypto, type Device, type RunningServer } from "./support/server.js";

export async function keyPackageOf(
  d: Device,
  opts: { lastResort?: boolean; suite?: number; notBefore?: bigint; notAfter?: bigint; capabilities?: Partial<Capabilities>; domain?: string } = {},
): Promise<KeyPackageBundle> {
  const suite = crypto.suite(opts.suite ?? d.cipherSuite);
  return createKeyPackage({
    suite,
    identity: {
      credential: { credentialType: CredentialType.basic, identity: utf8(`${d.user}@${opts.domain ?? "example.com"}#${d.device}`) },
      signaturePrivateKey: d.keys.privateKey,
      signaturePublicKey: d.keys.publicKey,
    },
    // Valid from 2023 to 2043 (the test clock says 2030) unless the test wants it expired.
    lifetime: { notBefore: opts.notBefore ?? 1_700_000_000n, notAfter: opts.notAfter ?? 2_300_000_000n },
    ...(opts.lastResort === true ? { lastResort: true } : {}),
    ...(opts.capabilities === undefined ? {} : { capabilities: opts.capabilities }),
  });
}

export async function uploadKeyPackages(s: RunningServer, d: Device, kps: readonly KeyPackageBundle[]) {
  return s.request<UploadKeyPackagesResponse>("POST", "/v1/key-packages", { token: d.token, json: { keyPackages: kps.map((k) => toBase64Url(k.message)) } });
}

const filler = (n: number, v = 0xab): Uint8Array => new Uint8Array(n).fill(v);

export function commitMessage(groupId: Uint8Array, epoch: bigint, leaf = 0, salt = 0): Uint8Array {
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.publicMessage,
    publicMessage: {
      content: {
        groupId,
        epoch,
        sender: { senderType: SenderType.member, leafIndex: leaf as LeafIndex },
        authenticatedData: new Uint8Array([salt & 0xff]),
        contentType: ContentType.commit,
        commit: { proposals: [] },
      },
      auth: { signature: filler(64), confirmationTag: filler(32) },
      membershipTag: filler(32),
    },
  });
}

export function applicationMessage(groupId: Uint8Array, epoch: bigint, data: Uint8Array): Uint8Array {
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.privateMessage,
    privateMessage: { groupId, epoch, contentType: ContentType.application, authenticatedData: new Uint8Array(0), encryptedSenderData: filler(28), ciphertext: data },
  });
}

export function proposalMessage(groupId: Uint8Array, epoch: bigint): Uint8Array {
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.privateMessage,
    privateMessage: { groupId, epoch, contentType: ContentType.proposal, authenticatedData: new Uint8Array(0), encryptedSenderData: filler(28), ciphertext: filler(80) },
  });
}

export function welcomeFor(refs: readonly Uint8Array[], cipherSuite = 1): Uint8Array {
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.welcome,
    welcome: { cipherSuite, secrets: refs.map((r) => ({ newMember: r, encryptedGroupSecrets: { kemOutput: filler(32), ciphertext: filler(48) } })), encryptedGroupInfo: filler(100) },
  });
}

export const unb64 = (s: string): Uint8Array => fromBase64Url(s);

/** One page of the device's queue (from its acknowledged positions). */
export async function pageOf(s: RunningServer, d: Device, limit = 500): Promise<QueueResponse> {
  const r = await s.request<QueueResponse>("GET", `/v1/queue?limit=${limit}`, { token: d.token });
  if (r.status !== 200) throw new Error(`queue: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function queueOf(s: RunningServer, d: Device) {
  return (await pageOf(s, d)).messages;
}

export async function ackCursor(s: RunningServer, d: Device, cursor: AckRequest): Promise<number> {
  const r = await s.request<AckResponse>("POST", "/v1/queue/ack", { token: d.token, json: cursor });
  if (r.status !== 200) throw new Error(`ack: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.acknowledged;
}

/** The cursor that acknowledges exactly the given entries (positions are per group, and per device for direct ones). */
export function cursorThrough(entries: readonly QueueEntryJson[]): AckRequest {
  let direct = 0;
  const groups = new Map<string, number>();
  for (const e of entries) {
    if (e.source === "direct") direct = Math.max(direct, e.seq);
    else groups.set(e.groupId, Math.max(groups.get(e.groupId) ?? 0, e.seq));
  }
  return { direct, groups: [...groups].map(([groupId, seq]) => ({ groupId, seq })) };
}

export const NO_RATE_LIMITS = { limits: { rateLimitPerIp: false, rateLimitPerClient: false } } as const;

/** An external commit (RFC 9420 §12.4.3.2): PublicMessage from a new_member_commit sender, no membership tag. */
export function externalCommitMessage(groupId: Uint8Array, epoch: bigint): Uint8Array {
  return encode(mlsMessageCodec, {
    wireFormat: WireFormat.publicMessage,
    publicMessage: {
      content: { groupId, epoch, sender: { senderType: SenderType.newMemberCommit }, authenticatedData: new Uint8Array(0), contentType: ContentType.commit, commit: { proposals: [] } },
      auth: { signature: filler(64), confirmationTag: filler(32) },
    },
  });
}
