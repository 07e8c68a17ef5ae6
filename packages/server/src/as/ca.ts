/**
 * The AS's X.509 certificate authority (RFC 9750 §4: "A PKI could be used as
 * an AS"). One self-signed root (ECDSA P-256 / SHA-256, WebCrypto through
 * @peculiar/x509) issues end-entity certificates whose subjectPublicKeyInfo is
 * the client's MLS signature key itself (RFC 9420 §5.3) and whose
 * subjectAltName URI carries the client identity ("conclave:user@domain#device").
 *
 * No intermediates: an X509Credential's chain is [leaf] or [leaf, root]
 * (RFC 9420 §5.3 lets a chain omit certificates peers already have).
 */
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { bytesEqual, type SignatureAlgorithm } from "@conclave/mls";
import { IDENTITY_URI_SCHEME } from "@conclave/api";
import { randomBytes } from "../crypto.js";
import { rawKeyFromSpki, spkiFromRawKey } from "./spki.js";

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const CA_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
export const CA_KEY_ALGORITHM_NAME = "ECDSA-P256-SHA256";
const ROOT_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;

/** Stored form of the CA: PKCS#8 private key, SPKI public key, root certificate DER. */
export interface CaKeyMaterial {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly certificate: Uint8Array;
}

export interface LeafCertificateRequest {
  readonly identity: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signatureKey: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface IssuedCertificate {
  readonly der: Uint8Array;
  /** Lowercase hex, as parsed back from the certificate. */
  readonly serial: string;
}

/** What a certificate chain says, once it has been checked to come from this CA. */
export interface VerifiedLeaf {
  readonly serial: string;
  /** Identities from subjectAltName URIs "conclave:..." (scheme stripped). */
  readonly identities: string[];
  readonly signatureAlgorithm: SignatureAlgorithm;
  readonly signatureKey: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
}

export type ChainCheck = { readonly ok: true; readonly leaf: VerifiedLeaf } | { readonly ok: false; readonly why: "malformed" | "untrusted" };

/** Our byte arrays are never backed by a SharedArrayBuffer; WebCrypto's types want that said. */
const bs = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

function toBytes(b: ArrayBuffer | Uint8Array): Uint8Array {
  return new Uint8Array(b instanceof Uint8Array ? b : new Uint8Array(b));
}

/** A positive serial of 16 random bytes (RFC 5280 §4.1.2.2: positive, at most 20 octets). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString("hex");
}

/**
 * The client identities ("conclave:" subjectAltName URIs) a certificate names,
 * without checking who signed it; undefined when it does not parse. For the DS,
 * which only needs to know whose name a KeyPackage carries.
 */
export function certificateIdentities(der: Uint8Array): string[] | undefined {
  try {
    const cert = new x509.X509Certificate(bs(der));
    const identities: string[] = [];
    for (const san of cert.getExtensions(x509.SubjectAlternativeNameExtension)) {
      for (const name of san.names.toJSON()) {
        if (name.type === "url" && name.value.startsWith(IDENTITY_URI_SCHEME)) identities.push(name.value.slice(IDENTITY_URI_SCHEME.length));
      }
    }
    return identities;
  } catch {
    return undefined;
  }
}

export class CertificateAuthority {
  private constructor(
    private readonly signingKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    private readonly root: x509.X509Certificate,
    readonly material: CaKeyMaterial,
  ) {}

  /** The root certificate DER clients pin. */
  get rootCertificate(): Uint8Array {
    return this.material.certificate;
  }

  /** A new CA with a fresh key and self-signed root valid from `now`. */
  static async create(domain: string, now: number): Promise<CertificateAuthority> {
    const keys = (await crypto.subtle.generateKey(CA_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=Conclave AS ${domain}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + ROOT_VALIDITY_MS),
      signingAlgorithm: CA_ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const material = {
      privateKey: toBytes(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
      publicKey: toBytes(await crypto.subtle.exportKey("spki", keys.publicKey)),
      certificate: toBytes(root.rawData),
    };
    return CertificateAuthority.load(material);
  }

  static async load(material: CaKeyMaterial): Promise<CertificateAuthority> {
    const signingKey = await crypto.subtle.importKey("pkcs8", bs(material.privateKey), CA_ALGORITHM, false, ["sign"]);
    const publicKey = await crypto.subtle.importKey("spki", bs(material.publicKey), CA_ALGORITHM, true, ["verify"]);
    const root = new x509.X509Certificate(bs(material.certificate));
    return new CertificateAuthority(signingKey, publicKey, root, material);
  }

  /** An end-entity certificate for a client signature key (proof of possession is the caller's job). */
  async issue(req: LeafCertificateRequest): Promise<IssuedCertificate> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${req.identity}`,
      issuer: this.root.subject,
      notBefore: new Date(req.notBefore),
      notAfter: new Date(req.notAfter),
      signingAlgorithm: CA_ALGORITHM,
      publicKey: bs(spkiFromRawKey(req.signatureAlgorithm, req.signatureKey)),
      signingKey: this.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: IDENTITY_URI_SCHEME + req.identity }], false),
        await x509.AuthorityKeyIdentifierExtension.create(this.publicKey),
      ],
    });
    return { der: toBytes(cert.rawData), serial: cert.serialNumber.toLowerCase() };
  }

  /**
   * Checks that `chain` is [leaf] or [leaf, our root], that the leaf is signed
   * by our root key and is an end-entity certificate with an MLS signature key.
   * Validity dates and revocation are left to the caller (it has the clock and
   * the records).
   */
  async verifyChain(chain: readonly Uint8Array[]): Promise<ChainCheck> {
    if (chain.length < 1 || chain.length > 2) return { ok: false, why: chain.length === 0 ? "malformed" : "untrusted" };
    if (chain.length === 2 && !bytesEqual(chain[1]!, this.material.certificate)) return { ok: false, why: "untrusted" };
    let leaf: x509.X509Certificate;
    try {
      leaf = new x509.X509Certificate(bs(chain[0]!));
    } catch {
      return { ok: false, why: "malformed" };
    }
    try {
      if (leaf.issuer !== this.root.subject) return { ok: false, why: "untrusted" };
      if (!(await leaf.verify({ publicKey: this.publicKey, signatureOnly: true }, crypto))) return { ok: false, why: "untrusted" };
      if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca === true) return { ok: false, why: "untrusted" };
      const key = rawKeyFromSpki(toBytes(leaf.publicKey.rawData));
      if (key === undefined) return { ok: false, why: "malformed" };
      const identities: string[] = [];
      for (const san of leaf.getExtensions(x509.SubjectAlternativeNameExtension)) {
        for (const name of san.names.toJSON()) {
          if (name.type === "url" && name.value.startsWith(IDENTITY_URI_SCHEME)) identities.push(name.value.slice(IDENTITY_URI_SCHEME.length));
        }
      }
      return {
        ok: true,
        leaf: {
          serial: leaf.serialNumber.toLowerCase(),
          identities,
          signatureAlgorithm: key.algorithm,
          signatureKey: key.key,
          notBefore: leaf.notBefore.getTime(),
          notAfter: leaf.notAfter.getTime(),
        },
      };
    } catch {
      // Any parse failure inside a certificate that did decode at the top level.
      return { ok: false, why: "malformed" };
    }
  }
}
