/**
 * Typed payloads of the RFC 9420 extensions (§17.3): application_id (§5.3.3),
 * required_capabilities (§11.1), external_pub (§12.4.3.2), external_senders
 * (§12.1.8.1). The ratchet_tree payload lives in ratchetTreeNodes.ts.
 * Use them with makeExtension/readExtension from extension.ts.
 */
import { vector, type Codec } from "../codec/tls.js";
import { uint16ListCodec } from "./capabilities.js";
import { credentialCodec, type Credential } from "./credential.js";

/** struct { opaque application_id<V>; } ApplicationId; */
export interface ApplicationId {
  applicationId: Uint8Array;
}

/** TLS codec of the application_id extension payload (RFC 9420 §5.3.3). Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const applicationIdCodec: Codec<ApplicationId> = {
  encode: (w, v) => w.opaque(v.applicationId),
  decode: (r) => ({ applicationId: r.opaque() }),
};

/** The required_capabilities extension payload (RFC 9420 §11.1). */
export interface RequiredCapabilities {
  extensionTypes: number[];
  proposalTypes: number[];
  credentialTypes: number[];
}

/** TLS codec of {@link RequiredCapabilities}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const requiredCapabilitiesCodec: Codec<RequiredCapabilities> = {
  encode(w, v) {
    uint16ListCodec.encode(w, v.extensionTypes);
    uint16ListCodec.encode(w, v.proposalTypes);
    uint16ListCodec.encode(w, v.credentialTypes);
  },
  decode(r) {
    const extensionTypes = uint16ListCodec.decode(r);
    const proposalTypes = uint16ListCodec.decode(r);
    return { extensionTypes, proposalTypes, credentialTypes: uint16ListCodec.decode(r) };
  },
};

/** struct { HPKEPublicKey external_pub; } ExternalPub; */
export interface ExternalPub {
  externalPub: Uint8Array;
}

/** TLS codec of the external_pub extension payload (RFC 9420 §12.4.3.2). Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const externalPubCodec: Codec<ExternalPub> = {
  encode: (w, v) => w.opaque(v.externalPub),
  decode: (r) => ({ externalPub: r.opaque() }),
};

/** One entry of the external_senders extension (RFC 9420 §12.1.8.1): a signature key and credential. */
export interface ExternalSender {
  signatureKey: Uint8Array;
  credential: Credential;
}

export const externalSenderCodec: Codec<ExternalSender> = {
  encode(w, v) {
    w.opaque(v.signatureKey);
    credentialCodec.encode(w, v.credential);
  },
  decode(r) {
    const signatureKey = r.opaque();
    return { signatureKey, credential: credentialCodec.decode(r) };
  },
};

/** ExternalSender external_senders<V>; Sender.sender_index indexes this list. */
export type ExternalSenders = ExternalSender[];

/** TLS codec of the external_senders extension payload. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const externalSendersCodec: Codec<ExternalSenders> = vector(externalSenderCodec);
