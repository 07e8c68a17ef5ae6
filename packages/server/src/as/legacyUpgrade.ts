/**
 * In-place upgrade of devices and accounts made before issue 23. Such a
 * device logged in with an Ed25519 signature by its MLS signature key and has
 * no X25519 auth key; its account had an account secret (retired by storage
 * migration 0005, which zeroes the stored hashes) and no recovery code.
 *
 * POST /v1/clients/upgrade lets the device bind an auth key, once:
 * - the deniable handshake (purpose upgrade) proves the new auth key, as at
 *   registration;
 * - SignWithLabel(sk, "Conclave auth", nonce || AuthContext{purpose: upgrade})
 *   by the signature key the device registered proves it is that device (the
 *   same proof its old login gave: the upgrade grants nothing the old login
 *   did not);
 * - an account without a recovery code gets one, returned once to the first
 *   device that upgrades (any device of the account may replace it later).
 * After that the device logs in with the handshake only, and this route
 * answers 409 AUTH_KEY_BOUND for it.
 */
import { ApiError, AuthPurpose, formatClientIdentity, type UpgradeClientRequest, type UpgradeClientResponse } from "@conclave/api";
import type { Clock } from "../crypto.js";
import type { ClientAuth } from "../auth/clientAuth.js";
import type { ClientRecord, Store } from "../storage/store.js";
import type { ResolvedAccountOptions } from "./accountOptions.js";
import { hashRecoveryCode, newRecoveryCode } from "./recoveryCode.js";
import { clientInfo, requireAuthKey } from "./registration.js";

export interface LegacyUpgradeDeps {
  readonly store: Store;
  readonly auth: ClientAuth;
  readonly clock: Clock;
  readonly options: ResolvedAccountOptions;
}

export class LegacyUpgrade {
  constructor(private readonly d: LegacyUpgradeDeps) {}

  /** Binds `req.authKey` to a device registered before auth keys; a token, and the account's first recovery code if it had none. */
  async upgrade(req: UpgradeClientRequest): Promise<UpgradeClientResponse> {
    formatClientIdentity({ user: req.user, domain: this.d.auth.domain, device: req.device }); // INVALID_NAME
    const authKey = requireAuthKey(req.authKey);
    const client = await this.d.store.clients.getByName(req.user, req.device);
    // The nonce is spent whatever follows: one try per challenge.
    const nonce = await this.d.auth.verifyHandshake(req, { purpose: AuthPurpose.upgrade, user: req.user, device: req.device, authKey });
    if (client === undefined) throw new ApiError("CLIENT_NOT_FOUND", `no client ${req.device} of ${req.user}`);
    await this.d.auth.verifyRegistrationSignature(nonce, req.signature, {
      purpose: AuthPurpose.upgrade,
      user: client.user,
      device: client.device,
      cipherSuite: client.cipherSuite,
      signatureKey: client.signatureKey,
      authKey,
    });
    if (client.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
    const hadCode = (await this.d.store.accountSecurity.getRecoveryHash(client.user)) !== undefined;
    const recoveryCode = hadCode ? undefined : newRecoveryCode();
    const codeHash = recoveryCode === undefined ? undefined : await hashRecoveryCode(recoveryCode, this.d.options.recoveryCodeCost);
    try {
      return await this.bind(client, authKey, recoveryCode, codeHash);
    } catch (e) {
      // Two upgrades racing on PostgreSQL: the loser's insert fails on the key; say what happened.
      if (!(e instanceof ApiError) && (await this.d.store.accountSecurity.getAuthKey(client.id)) !== undefined) throw bound();
      throw e;
    }
  }

  private bind(client: ClientRecord, authKey: Uint8Array, recoveryCode: string | undefined, codeHash: string | undefined): Promise<UpgradeClientResponse> {
    const now = this.d.clock();
    return this.d.store.transaction(async (tx) => {
      const current = await tx.clients.get(client.id);
      if (current === undefined || current.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
      if ((await tx.accountSecurity.getAuthKey(client.id)) !== undefined) throw bound();
      await tx.accountSecurity.putAuthKey(client.id, authKey);
      let issued: string | undefined;
      if (recoveryCode !== undefined && codeHash !== undefined && (await tx.accountSecurity.getRecoveryHash(client.user)) === undefined) {
        await tx.accountSecurity.putRecoveryHash(client.user, codeHash, now);
        issued = recoveryCode;
      }
      const token = await this.d.auth.issueToken(tx, client.id);
      return { ...token, client: clientInfo(current, this.d.auth.domain), ...(issued !== undefined ? { recoveryCode: issued } : {}) };
    });
  }
}

function bound(): ApiError {
  return new ApiError("AUTH_KEY_BOUND", "this device already has an auth key: it logs in with the handshake");
}
