/**
 * Real MLS groups driven against a test server: registered devices' keys in
 * @conclave/mls Groups, handshakes sent as PublicMessage (what the DS
 * validates, issue 17), commits posted with their GroupInfo and Welcome, and
 * joiners taking the tree from the DS. Application messages are real
 * PrivateMessages. Tests that play an attacker start from these.
 */
import { expect } from "vitest";
import {
  fromBase64Url,
  GROUP_POLICY_EXTENSION_TYPE,
  groupPolicyExtension,
  toBase64Url,
  type AcceptedResponse,
  type GroupTreeResponse,
  type HandshakeJson,
  type HandshakesResponse,
} from "@conclave/api";
import { ContentType, CredentialType, Group, utf8, type GroupConfig, type PendingCommitInfo, type SigningIdentity } from "@conclave/mls";
import { keyPackageOf, uploadKeyPackages } from "../ds-support.js";
import { crypto, type Device, type Reply, type RunningServer } from "./server.js";

/** The test server's clock starts at 2030-01-01; KeyPackages live 60 days around it (under the 90-day maximum). */
const NOW = BigInt(Date.UTC(2030, 0, 1) / 1000);
export const MLS_CONFIG: Partial<GroupConfig> = { handshakeWireFormat: "public", ratchetTreeExtension: false, clock: () => NOW };

/** Opaque groups (RFC 9750 §5.3): encrypted handshakes; the Welcome carries the tree (the DS has none to give). */
export const OPAQUE_CONFIG: Partial<GroupConfig> = { ...MLS_CONFIG, handshakeWireFormat: "private", ratchetTreeExtension: true };

/** The creation options of an opaque group: its policy says so, and its members use {@link OPAQUE_CONFIG}. */
export const opaqueGroupOptions = () => ({ extensions: [groupPolicyExtension({ externalJoin: "closed", handshakes: "private" })], config: OPAQUE_CONFIG });

/**
 * The MLS config for members of `s`: a server with a TestClock runs at 2030-01-01
 * (MLS_CONFIG); one without (another process, or a server built on real time) at
 * real time, so the leaves' lifetimes agree with the DS's clock.
 */
export function mlsConfigFor(s: RunningServer): Partial<GroupConfig> {
  if ((s as Partial<RunningServer>).clock !== undefined) return MLS_CONFIG;
  return { ...MLS_CONFIG, clock: () => BigInt(Math.floor(Date.now() / 1000)) };
}

/**
 * A KeyPackage of `d` (a user of `domain`) whose lifetime both the DS and the members accept
 * (at `now`, seconds; the test clock's by default), able to join groups carrying Conclave's policy extension.
 */
export const memberKeyPackage = (d: Device, now = NOW, domain = "example.com") =>
  keyPackageOf(d, { notBefore: now - 86_400n, notAfter: now + 59n * 86_400n, capabilities: { extensions: [GROUP_POLICY_EXTENSION_TYPE] }, domain });

export interface Member {
  readonly device: Device;
  readonly group: Group;
}

export function identityOf(d: Device): SigningIdentity {
  return {
    credential: { credentialType: CredentialType.basic, identity: utf8(`${d.user}@example.com#${d.device}`) },
    signaturePrivateKey: d.keys.privateKey,
    signaturePublicKey: d.keys.publicKey,
  };
}

export const groupPath = (groupId: Uint8Array, rest = ""): string => `/v1/groups/${toBase64Url(groupId)}${rest}`;

/** A one-member group registered with the DS from its epoch-0 GroupInfo. */
export async function createGroup(
  s: RunningServer,
  d: Device,
  options: { extensions?: Parameters<typeof Group.create>[0]["extensions"]; config?: Partial<GroupConfig> } = {},
): Promise<Member> {
  const group = await Group.create({
    provider: crypto,
    cipherSuite: d.cipherSuite,
    identity: identityOf(d),
    config: { ...mlsConfigFor(s), ...options.config },
    ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
  });
  const r = await s.request("POST", "/v1/groups", { token: d.token, json: { groupId: toBase64Url(group.groupId), groupInfo: toBase64Url(await group.groupInfo({ ratchetTree: true })) } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { device: d, group };
}

/** The standing (not dropped) commits of `epoch` in an opaque group's handshake log, in arrival order. */
export async function commitsOf(s: RunningServer, d: Device, groupId: Uint8Array, epoch: number): Promise<HandshakeJson[]> {
  const r = await s.request<HandshakesResponse>("GET", `${groupPath(groupId, "/handshakes")}?sinceEpoch=${epoch}&afterSeq=0&limit=100`, { token: d.token });
  expect(r.status).toBe(200);
  return r.body.messages.filter((m) => m.epoch === epoch && m.contentType === ContentType.commit);
}

/** POST /commits with the pending commit's bundle (no merge). */
/** A commit with its GroupInfo: a pending commit of ours (GroupInfo signed when asked) or an external commit. */
export interface CommitBundle {
  readonly commit: Uint8Array;
  readonly welcome?: Uint8Array;
  readonly groupInfo: Uint8Array | (() => Promise<Uint8Array>);
}

export async function postBundle(s: RunningServer, by: Device, groupId: Uint8Array, p: CommitBundle, extra: Record<string, unknown> = {}) {
  const groupInfo = p.groupInfo instanceof Uint8Array ? p.groupInfo : await p.groupInfo();
  return s.request<AcceptedResponse>("POST", groupPath(groupId, "/commits"), {
    token: by.token,
    json: { commit: toBase64Url(p.commit), groupInfo: toBase64Url(groupInfo), ...(p.welcome === undefined ? {} : { welcome: toBase64Url(p.welcome) }), ...extra },
  });
}

/** Sends the commit; merges it when the DS accepts, drops it otherwise. Returns the HTTP answer. */
export async function commit(s: RunningServer, by: Member, pending: PendingCommitInfo) {
  const r = await postBundle(s, by.device, by.group.groupId, pending);
  if (r.status === 202) by.group.mergePendingCommit();
  else by.group.clearPendingCommit();
  return r;
}

/** POST /messages with raw MLS bytes. */
export function postMessage(s: RunningServer, by: Device, groupId: Uint8Array, bytes: Uint8Array) {
  return s.request<AcceptedResponse>("POST", groupPath(groupId, "/messages"), { token: by.token, headers: { "content-type": "message/mls" }, body: Buffer.from(bytes) });
}

/** What one adding commit did: the joiners' states, the commit bundle sent, and the DS's answer. */
export interface Added {
  readonly members: Member[];
  readonly pending: PendingCommitInfo;
  readonly reply: Reply<AcceptedResponse>;
}

/**
 * `by` adds the devices in one commit (their KeyPackages uploaded and claimed
 * through the DS); each joins from the Welcome with the tree the DS keeps.
 */
export async function addDevicesWithReply(s: RunningServer, by: Member, devices: readonly Device[]): Promise<Added> {
  const config = mlsConfigFor(s);
  const bundles = [];
  for (const d of devices) {
    const kp = await memberKeyPackage(d, config.clock!());
    expect((await uploadKeyPackages(s, d, [kp])).status).toBe(201);
    const c = await s.request("POST", `/v1/users/${d.user}/key-packages/claim`, { token: by.device.token, json: { cipherSuites: [d.cipherSuite] } });
    expect(c.status).toBe(200);
    bundles.push(kp);
  }
  const pending = await by.group.createCommit({ add: bundles.map((b) => b.message) });
  const reply = await commit(s, by, pending);
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  const members: Member[] = [];
  for (const [i, d] of devices.entries()) {
    const t = await s.request<GroupTreeResponse>("GET", `${groupPath(by.group.groupId, "/tree")}?epoch=${by.group.epoch}`, { token: d.token });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const group = await Group.join(pending.welcome!, { provider: crypto, keyPackages: [bundles[i]!], ratchetTree: fromBase64Url(t.body.tree), config });
    members.push({ device: d, group });
  }
  return { members, pending, reply };
}

/** {@link addDevicesWithReply}, for the joiners only. */
export async function addDevices(s: RunningServer, by: Member, devices: readonly Device[]): Promise<Member[]> {
  return (await addDevicesWithReply(s, by, devices)).members;
}

/** A group of `creator` and `others`, everyone holding real state at the same epoch. */
export async function groupOf(s: RunningServer, creator: Device, others: readonly Device[]): Promise<Member[]> {
  const first = await createGroup(s, creator);
  const rest = others.length === 0 ? [] : await addDevices(s, first, others);
  for (const m of rest) expect(m.group.epoch).toBe(first.group.epoch);
  return [first, ...rest];
}

/** Applies a handshake the DS accepted to the other members' states. */
export async function deliver(members: readonly Member[], from: Member, message: Uint8Array): Promise<void> {
  for (const m of members) {
    if (m === from || !m.group.isActive) continue;
    const r = await m.group.processMessage(message);
    if (r.kind === "commit") m.group.mergeStagedCommit(r.staged);
  }
}
