/**
 * What a Client reports to its application: received messages, joins,
 * membership changes and errors, with members named by their credential.
 */
import { fromBase64Url, toBase64Url } from "@conclave/api";
import { CredentialType, type GroupMember, type LeafIndex, type PendingCommitInfo } from "@conclave/mls";

/**
 * A device added to or revoked from this account (issue 23), from
 * Client.deviceChanges(): a device you do not know is an alarm. Not part of
 * ClientEvent, whose events all belong to a group.
 */
export type DeviceChangeEvent = {
  readonly type: "device";
  readonly change: "added" | "revoked";
  readonly device: string;
  /** "device:<id>" (approved or revoked by that device) or "recovery" (the recovery code). */
  readonly by: string;
  readonly at: number;
  /** The change's leaf in the AS transparency log. */
  readonly logIndex: number;
  readonly signatureKey: string;
  /** Whether the AS transparency log proves this change (leaf + inclusion proof under a consistent signed head); false is an alarm about the AS. */
  readonly inLog: boolean;
};

/**
 * What sync() and events() report, one group each: a decrypted `message`; `joined` (a Welcome brought
 * us in); `membership` (a commit added, removed or updated members); `error` (a queue entry that did
 * not process: skipped, never retried; `error` is the ApiError or MlsError); `untrusted` (see below).
 */
export type ClientEvent =
  | { readonly type: "message"; readonly groupId: string; readonly sender: string; readonly epoch: bigint; readonly data: Uint8Array; readonly text: string }
  | { readonly type: "joined"; readonly groupId: string; readonly epoch: bigint; readonly members: string[] }
  | {
      readonly type: "membership";
      readonly groupId: string;
      readonly epoch: bigint;
      readonly by: string;
      readonly added: string[];
      readonly removed: string[];
      readonly updated: string[];
      readonly selfRemoved: boolean;
    }
  | { readonly type: "error"; readonly groupId: string; readonly entryId: number; readonly error: Error }
  /** A member whose credential the AS does not vouch for (RFC 9750 §4): `reason` is the AS's ValidationFailure. */
  | { readonly type: "untrusted"; readonly groupId: string; readonly epoch: bigint; readonly member: string; readonly reason: string };

const dec = new TextDecoder();

/** The client identity ("user@domain#device") named by a member's basic credential. */
export function memberIdentity(m: GroupMember): string {
  return m.credential.credentialType === CredentialType.basic ? dec.decode(m.credential.identity) : `x509-leaf-${m.leafIndex}`;
}

/** memberIdentity of a leaf given by index and LeafNode (added, removed or external-joiner leaves). */
export const leafIdentity = (r: { leafIndex: LeafIndex; leafNode: GroupMember["leafNode"] }): string =>
  memberIdentity({ leafIndex: r.leafIndex, credential: r.leafNode.credential, signatureKey: r.leafNode.signatureKey, leafNode: r.leafNode });

/** The membership event of a commit we made ourselves (the DS does not echo it back to us). */
export function ownCommitEvent(groupId: string, by: string, pending: PendingCommitInfo): ClientEvent {
  return {
    type: "membership",
    groupId,
    epoch: pending.epoch,
    by,
    added: pending.added.map((a) => leafIdentity({ leafIndex: a.leafIndex, leafNode: a.keyPackage.leafNode })),
    removed: pending.removed.map(leafIdentity),
    updated: [],
    selfRemoved: false,
  };
}

/** A short decimal rendering of an epoch authenticator (RFC 9420 §8.7) for comparing out of band: six groups of five digits. */
export function safetyNumber(authenticator: Uint8Array): string {
  const a = authenticator;
  const groups: string[] = [];
  for (let i = 0; i + 4 <= Math.min(a.length, 24); i += 4)
    groups.push(
      String(((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0)
        .padStart(10, "0")
        .slice(-5),
    );
  return groups.join(" ");
}

/** An event as JSON, for the inbox journal (events decrypted but not yet handed to the application). */
export type StoredEvent =
  | { type: "message"; groupId: string; sender: string; epoch: string; data: string }
  | { type: "joined"; groupId: string; epoch: string; members: string[] }
  | { type: "membership"; groupId: string; epoch: string; by: string; added: string[]; removed: string[]; updated: string[]; selfRemoved: boolean }
  | { type: "error"; groupId: string; entryId: number; message: string; code?: string }
  | { type: "untrusted"; groupId: string; epoch: string; member: string; reason: string };

export function storeEvent(e: ClientEvent): StoredEvent {
  switch (e.type) {
    case "message":
      return { type: "message", groupId: e.groupId, sender: e.sender, epoch: String(e.epoch), data: toBase64Url(e.data) };
    case "joined":
      return { ...e, epoch: String(e.epoch) };
    case "membership":
    case "untrusted":
      return { ...e, epoch: String(e.epoch) };
    case "error": {
      const code = (e.error as { code?: unknown }).code;
      return { type: "error", groupId: e.groupId, entryId: e.entryId, message: e.error.message, ...(typeof code === "string" ? { code } : {}) };
    }
  }
}

export function loadEvent(s: StoredEvent): ClientEvent {
  switch (s.type) {
    case "message": {
      const data = fromBase64Url(s.data);
      return { type: "message", groupId: s.groupId, sender: s.sender, epoch: BigInt(s.epoch), data, text: dec.decode(data) };
    }
    case "joined":
      return { ...s, epoch: BigInt(s.epoch) };
    case "membership":
    case "untrusted":
      return { ...s, epoch: BigInt(s.epoch) };
    case "error":
      return { type: "error", groupId: s.groupId, entryId: s.entryId, error: Object.assign(new Error(s.message), s.code !== undefined ? { code: s.code } : {}) };
  }
}
