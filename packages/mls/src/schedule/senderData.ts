/**
 * Sender data key and nonce (RFC 9420 §6.3.2): derived from the epoch's
 * sender_data_secret and a sample of the PrivateMessage ciphertext, so each
 * message's SenderData gets its own key.
 */
import { ByteSlab } from "../codec/byteSlab.js";
import type { CipherSuite } from "../crypto/cipherSuite.js";

/** Keys and nonces used at once and zeroized: 2 KiB slabs hold ~50 pairs. */
const senderDataKeys = new ByteSlab(2048, 128);

/**
 * ciphertext_sample = ciphertext[0..KDF.Nh-1] (the whole ciphertext when shorter);
 * sender_data_key   = ExpandWithLabel(sender_data_secret, "key", ciphertext_sample, AEAD.Nk)
 * sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", ciphertext_sample, AEAD.Nn)
 */
export function senderDataKeyAndNonce(cs: CipherSuite, senderDataSecret: Uint8Array, ciphertext: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const sample = ciphertext.length > cs.params.nh ? ciphertext.subarray(0, cs.params.nh) : ciphertext;
  const { nk, nn } = cs.params;
  const e = cs.kdfExpander(senderDataSecret);
  // Both carved from a shared buffer (codec/byteSlab.ts): the callers use them at once and zeroize them.
  const buf = senderDataKeys.take(nk + nn);
  const out = { key: e.expandWithLabel("key", sample, nk, buf.subarray(0, nk)), nonce: e.expandWithLabel("nonce", sample, nn, buf.subarray(nk)) };
  e.destroy();
  return out;
}
