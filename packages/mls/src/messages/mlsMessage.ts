/** RFC 9420 §6: MLSMessage, the envelope every MLS message travels in. */
import type { Codec, Reader } from "../codec/tls.js";
import { MlsError } from "../errors.js";
import { protocolVersionCodec, ProtocolVersion, WireFormat } from "./enums.js";
import { groupInfoCodec, type GroupInfo } from "./groupInfo.js";
import { keyPackageCodec, type KeyPackage } from "./keyPackage.js";
import { privateMessageCodec, type PrivateMessage } from "./privateMessage.js";
import { publicMessageCodec, type PublicMessage } from "./framing.js";
import { welcomeCodec, type Welcome } from "./welcome.js";

/**
 * `version` is fixed to mls10 (decoding anything else is DECODE_UNKNOWN_VALUE),
 * so it is not carried in the object.
 */
export type MLSMessage =
  | { wireFormat: typeof WireFormat.publicMessage; publicMessage: PublicMessage }
  | { wireFormat: typeof WireFormat.privateMessage; privateMessage: PrivateMessage }
  | { wireFormat: typeof WireFormat.welcome; welcome: Welcome }
  | { wireFormat: typeof WireFormat.groupInfo; groupInfo: GroupInfo }
  | { wireFormat: typeof WireFormat.keyPackage; keyPackage: KeyPackage };

/**
 * The head of an MLSMessage (§6) read in place: the version, which must be
 * mls10 (DECODE_UNKNOWN_VALUE otherwise), then the wire format, returned
 * unchecked for the caller to dispatch on.
 */
export function readMlsMessageHead(r: Reader): number {
  if (r.u16() !== ProtocolVersion.mls10) throw new MlsError("DECODE_UNKNOWN_VALUE", "unknown protocol version");
  return r.u16();
}

/** TLS codec of MLSMessage (RFC 9420 §6): version, wire format and the message. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const mlsMessageCodec: Codec<MLSMessage> = {
  encode(w, m) {
    protocolVersionCodec.encode(w, ProtocolVersion.mls10);
    w.u16(m.wireFormat);
    switch (m.wireFormat) {
      case WireFormat.publicMessage:
        return publicMessageCodec.encode(w, m.publicMessage);
      case WireFormat.privateMessage:
        return privateMessageCodec.encode(w, m.privateMessage);
      case WireFormat.welcome:
        return welcomeCodec.encode(w, m.welcome);
      case WireFormat.groupInfo:
        return groupInfoCodec.encode(w, m.groupInfo);
      case WireFormat.keyPackage:
        return keyPackageCodec.encode(w, m.keyPackage);
      default:
        throw new MlsError("ENCODE_INVALID", `unknown wire format ${(m as { wireFormat: number }).wireFormat}`);
    }
  },
  decode(r) {
    protocolVersionCodec.decode(r);
    const wf = r.u16();
    switch (wf) {
      case WireFormat.publicMessage:
        return { wireFormat: wf, publicMessage: publicMessageCodec.decode(r) };
      case WireFormat.privateMessage:
        return { wireFormat: wf, privateMessage: privateMessageCodec.decode(r) };
      case WireFormat.welcome:
        return { wireFormat: wf, welcome: welcomeCodec.decode(r) };
      case WireFormat.groupInfo:
        return { wireFormat: wf, groupInfo: groupInfoCodec.decode(r) };
      case WireFormat.keyPackage:
        return { wireFormat: wf, keyPackage: keyPackageCodec.decode(r) };
      default:
        // The body has no length prefix: an unknown wire format cannot be skipped.
        throw new MlsError("DECODE_UNKNOWN_VALUE", `unknown WireFormat ${wf}`);
    }
  },
};
