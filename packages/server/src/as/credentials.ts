/**
 * Credential issuance, status and revocation (RFC 9750 §4 (1), §7 "Issuing new
 * credentials with a relevant credential lifetime ... Optionally revoking").
 *
 * A client obtains credentials only for its own registered signature key, and
 * only while authenticated by a token it earned by proving possession of that
 * key (auth/clientAuth.ts). Every issuance appends a BindingLeaf to the
 * transparency log in the same transaction as the credential row.
 *
 * - basic: Credential.identity = UTF-8 "user@domain#device". The bytes are the
 *   same on every issuance, so while one is valid it is handed out again
 *   (HTTP 200, no new leaf); after it expires a new record (and leaf) extends
 *   it; once revoked it is never issued again (the client must re-register).
 * - x509: a fresh end-entity certificate from the AS CA each time (chain = [leaf]).
 *
 * credentialId = base64url(SHA-256(TLS-encoded Credential)).
 */
import {
  ApiError,
  bindingLeafCodec,
  formatClientIdentity,
  fromBase64Url,
  toBase64Url,
  type CredentialKind,
  type CredentialStatus,
  type CredentialStatusResponse,
  type IssueCredentialResponse,
  type IssuedCredential,
} from "@conclave/api";
import { CIPHER_SUITES, CredentialType, credentialCodec, encode, utf8, type Credential } from "@conclave/mls";
import { sha256, type Clock } from "../crypto.js";
import type { AuthenticatedClient } from "../auth/clientAuth.js";
import type { ClientRecord, CredentialRecord, IssuedCredentialType, Repositories, Store } from "../storage/store.js";
import type { CertificateAuthority } from "./ca.js";
import type { TransparencyLog } from "./transparencyLog.js";
import { treeHeadJson } from "./json.js";

/** Certificates start a minute early so a client whose clock is slightly behind accepts them. */
const CLOCK_SKEW_MS = 60_000;

export interface CredentialServiceOptions {
  readonly store: Store;
  readonly ca: CertificateAuthority;
  readonly log: TransparencyLog;
  readonly clock: Clock;
  readonly domain: string;
  /** Lifetime of issued credentials (both kinds). */
  readonly credentialTtlMs: number;
}

const kindOf = (t: IssuedCredentialType): CredentialKind => (t === CredentialType.basic ? "basic" : "x509");

export function statusOf(record: CredentialRecord, revoked: boolean, now: number): CredentialStatus {
  if (revoked) return "revoked";
  return now >= record.notAfter ? "expired" : "valid";
}

export class CredentialService {
  constructor(private readonly o: CredentialServiceOptions) {}

  private issuedJson(rec: CredentialRecord, client: ClientRecord, status: CredentialStatus): IssuedCredential {
    return {
      credentialId: toBase64Url(rec.credentialHash),
      type: kindOf(rec.credentialType),
      credential: toBase64Url(rec.credential),
      identity: formatClientIdentity({ user: client.user, domain: this.o.domain, device: client.device }),
      cipherSuite: client.cipherSuite,
      signatureKey: toBase64Url(client.signatureKey),
      notBefore: rec.notBefore,
      notAfter: rec.notAfter,
      issuedAt: rec.issuedAt,
      logIndex: rec.logIndex,
      status,
    };
  }

  /** Issues (or hands out again) a credential for the caller's own key. `created` is false for a re-handed basic credential. */
  async issue(caller: AuthenticatedClient, kind: CredentialKind): Promise<{ created: boolean; body: IssueCredentialResponse }> {
    const now = this.o.clock();
    const notBefore = now - CLOCK_SKEW_MS;
    const notAfter = now + this.o.credentialTtlMs;
    let credential: Credential;
    let serial: string | null = null;
    if (kind === "basic") {
      credential = { credentialType: CredentialType.basic, identity: utf8(caller.identity) };
    } else {
      // Signed before the transaction: WebCrypto work need not hold the log lock.
      const cert = await this.o.ca.issue({
        identity: caller.identity,
        signatureAlgorithm: CIPHER_SUITES[caller.cipherSuite].signature,
        signatureKey: caller.signatureKey,
        notBefore,
        notAfter,
      });
      serial = cert.serial;
      credential = { credentialType: CredentialType.x509, certificates: [cert.der] };
    }
    const bytes = encode(credentialCodec, credential);
    const credentialHash = sha256(bytes);

    const outcome = await this.o.store.transaction(async (tx) => {
      await tx.transparency.lockForAppend(); // one issuer at a time: the re-use check below cannot race
      const client = await tx.clients.get(caller.id);
      if (client === undefined || client.revokedAt !== null) throw new ApiError("CLIENT_REVOKED", "this client was revoked");
      if (kind === "basic") {
        if ((await tx.credentials.getRevocation(credentialHash)) !== undefined) {
          throw new ApiError("CREDENTIAL_REVOKED", "this client's basic credential was revoked; register a new client");
        }
        const newest = (await tx.credentials.listByHash(credentialHash))[0];
        if (newest !== undefined && newest.notAfter > now) return { created: false, record: newest, client };
      }
      const leaf = encode(bindingLeafCodec, {
        timestamp: now,
        identity: caller.identity,
        cipherSuite: client.cipherSuite,
        signatureKey: client.signatureKey,
        credentialType: credential.credentialType,
        credentialHash,
        notAfter,
      });
      const { index } = await this.o.log.append(tx, leaf, now);
      const record = await tx.credentials.insert({
        credentialHash,
        clientId: client.id,
        credentialType: credential.credentialType as IssuedCredentialType,
        credential: bytes,
        x509Serial: serial,
        notBefore,
        notAfter,
        issuedAt: now,
        logIndex: index,
      });
      return { created: true, record, client };
    });

    const head = await this.o.log.treeHead(this.o.store);
    const { proof } = await this.o.log.inclusionProof(this.o.store, outcome.record.logIndex, head.treeSize);
    return {
      created: outcome.created,
      body: {
        credential: this.issuedJson(outcome.record, outcome.client, "valid"),
        treeHead: treeHeadJson(head),
        inclusionProof: proof.map(toBase64Url),
      },
    };
  }

  /** Every credential of the caller's user, oldest first (a user's own audit of what the AS issued). */
  async listForUser(caller: AuthenticatedClient): Promise<IssuedCredential[]> {
    const now = this.o.clock();
    const clients = new Map((await this.o.store.clients.listByUser(caller.user)).map((c) => [c.id, c]));
    const out: IssuedCredential[] = [];
    for (const rec of await this.o.store.credentials.listByUser(caller.user)) {
      const revoked = (await this.o.store.credentials.getRevocation(rec.credentialHash)) !== undefined;
      out.push(this.issuedJson(rec, clients.get(rec.clientId)!, statusOf(rec, revoked, now)));
    }
    return out;
  }

  private async newestRecord(r: Repositories, credentialId: string): Promise<{ hash: Uint8Array; record: CredentialRecord }> {
    const hash = fromBase64Url(credentialId, "credentialId");
    const record = hash.length === 32 ? (await r.credentials.listByHash(hash))[0] : undefined;
    if (record === undefined) throw new ApiError("CREDENTIAL_NOT_FOUND", "no credential with this id");
    return { hash, record };
  }

  async status(credentialId: string): Promise<CredentialStatusResponse> {
    const { hash, record } = await this.newestRecord(this.o.store, credentialId);
    const revocation = await this.o.store.credentials.getRevocation(hash);
    return {
      credentialId,
      status: statusOf(record, revocation !== undefined, this.o.clock()),
      notAfter: record.notAfter,
      revokedAt: revocation?.revokedAt ?? null,
      reason: revocation?.reason ?? null,
    };
  }

  /** Revokes a credential of the caller's own user; revoking twice keeps the first revocation. */
  async revoke(caller: AuthenticatedClient, credentialId: string, reason: string): Promise<CredentialStatusResponse> {
    await this.o.store.transaction(async (tx) => {
      const { hash, record } = await this.newestRecord(tx, credentialId);
      const owner = await tx.clients.get(record.clientId);
      if (owner === undefined || owner.user !== caller.user) throw new ApiError("FORBIDDEN", "clients can only revoke credentials of their own user");
      await tx.credentials.revoke({ credentialHash: hash, revokedAt: this.o.clock(), reason, revokedBy: caller.id });
    });
    return this.status(credentialId);
  }
}
