/**
 * Devices approved by devices (issue 23): an existing device signs an
 * approval of a new device's keys (DeviceApprovalTBS, @conclave/api
 * accounts.ts); revocation only by another device of the account or with the
 * recovery code; the recovery code can be replaced from a device; the
 * account's other devices read every change from the device-change list.
 */
import {
  ApiError,
  formatClientIdentity,
  fromBase64Url,
  toBase64Url,
  verifyDeviceApproval,
  type DeviceApprovalRequest,
  type DeviceApprovalResponse,
  type DeviceChange,
  type RevokeClientResponse,
  type RotateRecoveryCodeResponse,
} from "@conclave/api";
import { CIPHER_SUITES, isMlsError, type CryptoProvider } from "@conclave/mls";
import type { Clock } from "../crypto.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { ClientRecord, Store, StoreTx } from "../storage/store.js";
import type { ResolvedAccountOptions } from "./accountOptions.js";
import { deviceChangeJson, type DeviceFeed } from "./deviceFeed.js";
import { recordDeviceChange } from "./deviceLog.js";
import { clientInfo, requireAuthKey, requireCipherSuite, type Registrar } from "./registration.js";
import { hashRecoveryCode, newRecoveryCode } from "./recoveryCode.js";
import { hasSignatureKeyShape } from "./spki.js";
import type { TransparencyLog } from "./transparencyLog.js";

const MAX_CHANGES_PER_PAGE = 200;

export interface DeviceManagerDeps {
  readonly store: Store;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly domain: string;
  readonly log: TransparencyLog;
  readonly options: ResolvedAccountOptions;
  readonly registrar: Registrar;
  readonly feed: DeviceFeed;
}

function sameAccount(caller: AuthenticatedClient, user: string, what: string): void {
  if (caller.user !== user) throw new ApiError("FORBIDDEN", `only a device of ${user} may ${what}`);
}

export class DeviceManager {
  constructor(private readonly d: DeviceManagerDeps) {}

  /** An existing device approves a new one's keys; the new device then registers with `{ kind: "approval" }`. */
  async approve(caller: AuthenticatedClient, user: string, req: DeviceApprovalRequest): Promise<DeviceApprovalResponse> {
    sameAccount(caller, user, "approve its devices");
    formatClientIdentity({ user, domain: this.d.domain, device: req.device });
    const cipherSuite = requireCipherSuite(req.cipherSuite);
    const signatureKey = fromBase64Url(req.signatureKey, "signatureKey");
    if (!hasSignatureKeyShape(CIPHER_SUITES[cipherSuite].signature, signatureKey)) throw new ApiError("INVALID_SIGNATURE_KEY", `not a ${CIPHER_SUITES[cipherSuite].signature} public key`);
    const authKey = requireAuthKey(req.authKey);
    const signature = fromBase64Url(req.signature, "signature");
    let ok: boolean;
    try {
      ok = await verifyDeviceApproval(
        this.d.crypto.suite(caller.cipherSuite),
        caller.signatureKey,
        { domain: this.d.domain, user, device: req.device, cipherSuite, signatureKey, authKey, approver: caller.device },
        signature,
      );
    } catch (e) {
      if (isMlsError(e)) ok = false;
      else throw e;
    }
    if (!ok) throw new ApiError("AUTH_SIGNATURE_INVALID", "the approval is not signed by the approving device's signature key");
    if ((await this.d.store.clients.getByName(user, req.device)) !== undefined) throw new ApiError("CLIENT_EXISTS", `device ${req.device} of ${user} is already registered`);
    const now = this.d.clock();
    const expiresAt = now + this.d.options.approvalTtlMs;
    await this.d.store.accountSecurity.putApproval({ user, device: req.device, cipherSuite, signatureKey, authKey, approverClientId: caller.id, signature, createdAt: now, expiresAt });
    return { approvedBy: caller.identity, expiresAt };
  }

  /** Revokes `device` of the caller's account: never the caller itself (a device that may be stolen cannot make itself the last one standing). */
  async revokeByDevice(caller: AuthenticatedClient, user: string, device: string): Promise<RevokeClientResponse> {
    sameAccount(caller, user, "revoke its devices");
    if (caller.device === device) throw new ApiError("FORBIDDEN", "a device is revoked by another device of the account or with the recovery code");
    const r = await this.d.store.transaction(async (tx) => {
      const self = await tx.clients.get(caller.id);
      if (self === undefined || self.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
      return this.revoke(tx, user, device, `device:${caller.device}`, caller.id);
    });
    return this.reported(r);
  }

  async revokeWithRecovery(user: string, device: string, recoveryCode: string): Promise<RevokeClientResponse> {
    await this.d.registrar.checkRecoveryCode(user, recoveryCode);
    return this.reported(await this.d.store.transaction((tx) => this.revoke(tx, user, device, "recovery", null)));
  }

  /** Once committed: the account's devices hear of a first revocation (deviceFeed.ts). */
  private async reported(r: RevokeClientResponse & { first?: boolean; record?: ClientRecord }): Promise<RevokeClientResponse> {
    const { first, record, ...response } = r;
    if (first === true && record !== undefined) await this.d.feed.publish("revoked", record);
    return response;
  }

  /** The client, all its credentials and tokens, atomically; logged and listed as a device change. */
  private async revoke(
    tx: StoreTx,
    user: string,
    device: string,
    actor: string,
    by: AuthenticatedClient["id"] | null,
  ): Promise<RevokeClientResponse & { first: boolean; record: ClientRecord }> {
    const now = this.d.clock();
    const target = await tx.clients.getByName(user, device);
    if (target === undefined) throw new ApiError("CLIENT_NOT_FOUND", `no client ${device} of ${user}`);
    const first = await tx.clients.revoke(target.id, now);
    let revokedCredentials = 0;
    const seen = new Set<string>();
    for (const cred of await tx.credentials.listByClient(target.id)) {
      const key = toBase64Url(cred.credentialHash);
      if (seen.has(key)) continue;
      seen.add(key);
      if (await tx.credentials.revoke({ credentialHash: cred.credentialHash, revokedAt: now, reason: "client revoked", revokedBy: by })) revokedCredentials++;
    }
    await tx.auth.deleteClientTokens(target.id);
    if (first) await recordDeviceChange(tx, this.d.log, this.d.domain, { kind: "revoked", client: target, actor }, now);
    const after = (await tx.clients.get(target.id))!;
    return { client: clientInfo(after, this.d.domain), revokedCredentials, first, record: after };
  }

  /** A new recovery code for the caller's account; the old one stops working. */
  async rotateRecoveryCode(caller: AuthenticatedClient, user: string): Promise<RotateRecoveryCodeResponse> {
    sameAccount(caller, user, "replace its recovery code");
    const recoveryCode = newRecoveryCode();
    await this.d.store.accountSecurity.putRecoveryHash(user, await hashRecoveryCode(recoveryCode, this.d.options.recoveryCodeCost), this.d.clock());
    return { recoveryCode };
  }

  /** Device changes of the caller's account after `after` (a seq), oldest first. */
  async changes(caller: AuthenticatedClient, user: string, after: number): Promise<DeviceChange[]> {
    sameAccount(caller, user, "read its device changes");
    const rows = await this.d.store.accountSecurity.listDeviceEvents(user, after, MAX_CHANGES_PER_PAGE);
    return rows.map(deviceChangeJson);
  }
}
