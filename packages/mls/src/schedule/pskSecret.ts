/**
 * psk_secret (RFC 9420 §8.4): the PSKs named by a Commit's PreSharedKey
 * proposals (or a Welcome's GroupSecrets), chained in the order listed.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { encode } from "../codec/tls.js";
import { zeroize } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import { pskLabelCodec, type PreSharedKeyId } from "../messages/psk.js";

/** One PSK to inject: its id as it appears on the wire and the secret it names. */
export interface PskEntry {
  readonly id: PreSharedKeyId;
  readonly psk: Uint8Array;
}

/** §8.4: struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel. */
export function encodePskLabel(id: PreSharedKeyId, index: number, count: number): Uint8Array {
  return encode(pskLabelCodec, { id, index, count });
}

/**
 * §8.4:
 *   psk_extracted_[i] = KDF.Extract(0, psk_[i])
 *   psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, Nh)
 *   psk_secret_[0]    = 0
 *   psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
 * With no PSKs the result is Nh zero bytes.
 */
export function derivePskSecret(cs: CipherSuite, psks: readonly PskEntry[]): Uint8Array {
  const nh = cs.params.nh;
  const count = psks.length;
  if (count > 0xffff) throw new MlsError("PSK_INVALID", `too many PSKs: ${count} (PSKLabel.count is a uint16)`);
  const zero = new Uint8Array(nh);
  let secret: Uint8Array = new Uint8Array(nh);
  for (let i = 0; i < count; i++) {
    const entry = psks[i]!;
    const extracted = cs.kdfExtract(zero, entry.psk);
    const input = cs.expandWithLabel(extracted, "derived psk", encodePskLabel(entry.id, i, count), nh);
    const next = cs.kdfExtract(input, secret);
    zeroize(extracted);
    zeroize(input);
    zeroize(secret);
    secret = next;
  }
  return secret;
}
