/** RFC 9420 §12.4.3.1: PathSecret, GroupSecrets, EncryptedGroupSecrets, Welcome. */
import { vector, type Codec } from "../codec/tls.js";
import type { HpkeCiphertext } from "../crypto/cipherSuite.js";
import { MlsError } from "../errors.js";
import { preSharedKeyIdCodec, type PreSharedKeyId } from "./psk.js";
import { hpkeCiphertextCodec } from "./updatePath.js";

export interface PathSecret {
  pathSecret: Uint8Array;
}

export const pathSecretCodec: Codec<PathSecret> = {
  encode: (w, p) => w.opaque(p.pathSecret),
  decode: (r) => ({ pathSecret: r.opaque() }),
};

export interface GroupSecrets {
  joinerSecret: Uint8Array;
  pathSecret?: PathSecret;
  psks: PreSharedKeyId[];
}

const pskList = vector(preSharedKeyIdCodec);

export const groupSecretsCodec: Codec<GroupSecrets> = {
  encode(w, g) {
    w.opaque(g.joinerSecret);
    if (g.pathSecret === undefined) {
      w.u8(0);
    } else {
      w.u8(1);
      w.opaque(g.pathSecret.pathSecret);
    }
    // No PSKs (nearly every Welcome): the empty vector's one-byte header, without a closure per new member.
    if (g.psks.length === 0) w.varint(0);
    else pskList.encode(w, g.psks);
  },
  decode(r) {
    const joinerSecret = r.opaque();
    const present = r.u8();
    if (present > 1) throw new MlsError("DECODE_INVALID_OPTIONAL", `optional presence octet ${present}`);
    const pathSecret = present === 1 ? { pathSecret: r.opaque() } : undefined;
    const psks = pskList.decode(r);
    return pathSecret === undefined ? { joinerSecret, psks } : { joinerSecret, pathSecret, psks };
  },
};

export interface EncryptedGroupSecrets {
  /** KeyPackageRef of the new member this entry is for. */
  newMember: Uint8Array;
  encryptedGroupSecrets: HpkeCiphertext;
}

export const encryptedGroupSecretsCodec: Codec<EncryptedGroupSecrets> = {
  encode(w, e) {
    w.opaque(e.newMember);
    hpkeCiphertextCodec.encode(w, e.encryptedGroupSecrets);
  },
  decode(r) {
    const newMember = r.opaque();
    return { newMember, encryptedGroupSecrets: hpkeCiphertextCodec.decode(r) };
  },
};

/** A Welcome (RFC 9420 §12.4.3.1): the group secrets for each new member, and the encrypted GroupInfo. */
export interface Welcome {
  cipherSuite: number;
  secrets: EncryptedGroupSecrets[];
  encryptedGroupInfo: Uint8Array;
}

const secretsList = vector(encryptedGroupSecretsCodec);

/** TLS codec of {@link Welcome}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const welcomeCodec: Codec<Welcome> = {
  encode(w, m) {
    w.u16(m.cipherSuite);
    secretsList.encode(w, m.secrets);
    w.opaque(m.encryptedGroupInfo);
  },
  decode(r) {
    const cipherSuite = r.u16();
    const secrets = secretsList.decode(r);
    return { cipherSuite, secrets, encryptedGroupInfo: r.opaque() };
  },
};
