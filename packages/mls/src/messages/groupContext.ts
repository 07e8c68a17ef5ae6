/** RFC 9420 §8.1: GroupContext. */
import { opaque, struct, uint16, uint64, type Codec } from "../codec/tls.js";
import { protocolVersionCodec, type ProtocolVersion } from "./enums.js";
import { extensionsCodec, type Extension } from "./extension.js";

/** The GroupContext (RFC 9420 §8.1): what every member agrees on in an epoch. */
export interface GroupContext {
  version: ProtocolVersion;
  cipherSuite: number;
  groupId: Uint8Array;
  epoch: bigint;
  treeHash: Uint8Array;
  confirmedTranscriptHash: Uint8Array;
  extensions: Extension[];
}

/** TLS codec of {@link GroupContext}. Decoding throws a `DECODE_*` MlsError for malformed bytes. */
export const groupContextCodec: Codec<GroupContext> = struct<GroupContext>({
  version: protocolVersionCodec,
  cipherSuite: uint16,
  groupId: opaque,
  epoch: uint64,
  treeHash: opaque,
  confirmedTranscriptHash: opaque,
  extensions: extensionsCodec,
});
