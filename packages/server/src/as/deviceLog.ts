/**
 * Device changes on the record: each device added to or revoked from an
 * account appends a leaf to the AS transparency log and a row to the
 * account's device-change list (GET /v1/users/:user/device-changes), in the
 * caller's transaction. The leaf is a BindingLeaf (@conclave/api
 * transparency.ts) with a private-use credential_type (accounts.ts:
 * DEVICE_ADDED_LEAF_TYPE / DEVICE_REVOKED_LEAF_TYPE) and, as credential_hash,
 * SHA-256 of what authorised the change ("recovery", or the approving device
 * and its approval signature), so the leaves of every account stay auditable
 * with the tools that audit credentials.
 */
import { bindingLeafCodec, DEVICE_ADDED_LEAF_TYPE, DEVICE_REVOKED_LEAF_TYPE, formatClientIdentity } from "@conclave/api";
import { encode, Writer, utf8 } from "@conclave/mls";
import { sha256 } from "../crypto.js";
import type { ClientRecord, StoreTx } from "../storage/store.js";
import type { TransparencyLog } from "./transparencyLog.js";

export interface DeviceChangeInput {
  readonly kind: "added" | "revoked";
  readonly client: ClientRecord;
  /** "device:<id>" or "recovery" */
  readonly actor: string;
  /** The approval signature when a device approved it. */
  readonly evidence?: Uint8Array;
}

export async function recordDeviceChange(tx: StoreTx, log: TransparencyLog, domain: string, change: DeviceChangeInput, now: number): Promise<number> {
  const w = new Writer(64);
  w.opaque(utf8(change.actor));
  w.opaque(change.evidence ?? new Uint8Array(0));
  const leaf = encode(bindingLeafCodec, {
    timestamp: now,
    identity: formatClientIdentity({ user: change.client.user, domain, device: change.client.device }),
    cipherSuite: change.client.cipherSuite,
    signatureKey: change.client.signatureKey,
    credentialType: change.kind === "added" ? DEVICE_ADDED_LEAF_TYPE : DEVICE_REVOKED_LEAF_TYPE,
    credentialHash: sha256(w.finish()),
    notAfter: 0,
  });
  const { index } = await log.append(tx, leaf, now);
  await tx.accountSecurity.addDeviceEvent({
    user: change.client.user,
    device: change.client.device,
    kind: change.kind,
    signatureKey: change.client.signatureKey,
    actor: change.actor,
    logIndex: index,
    createdAt: now,
  });
  return index;
}
