/** RFC 9420 §5.3: Credential. */
import { opaque, vector, type Codec } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { CredentialType } from "./enums.js";

/** A Credential (RFC 9420 §5.3): basic (an identity) or x509 (a certificate chain), or another type's opaque bytes. */
export type Credential = { credentialType: typeof CredentialType.basic; identity: Uint8Array } | { credentialType: typeof CredentialType.x509; certificates: Uint8Array[] };

const certificates = vector(opaque); // Certificate is struct { opaque cert_data<V>; }

/** TLS codec of {@link Credential}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const credentialCodec: Codec<Credential> = {
  encode(w, c) {
    w.u16(c.credentialType);
    if (c.credentialType === CredentialType.basic) w.opaque(c.identity);
    else certificates.encode(w, c.certificates);
  },
  decode(r) {
    const type = r.u16();
    switch (type) {
      case CredentialType.basic:
        return { credentialType: CredentialType.basic, identity: r.opaque() };
      case CredentialType.x509:
        return { credentialType: CredentialType.x509, certificates: certificates.decode(r) };
      default:
        // The body of an unknown credential type has no length prefix, so it cannot be skipped.
        throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown credential type ${type}`);
    }
  },
};
