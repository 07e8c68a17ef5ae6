/**
 * Sender data key and nonce (RFC 9420 §6.3.2): derived from the epoch's
 * sender_data_secret and a sample of the PrivateMessage ciphertext, so each
 * message's SenderData gets its own key.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";

/**
 * ciphertext_sample = ciphertext[0..KDF.Nh-1] (the whole ciphertext when shorter);
 * sender_data_key   = ExpandWithLabel(sender_data_secret, "key", ciphertext_sample, AEAD.Nk)
 * sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", ciphertext_sample, AEAD.Nn)
 */
export function senderDataKeyAndNonce(cs: CipherSuite, senderDataSecret: Uint8Array, ciphertext: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const sample = ciphertext.length > cs.params.nh ? ciphertext.subarray(0, cs.params.nh) : ciphertext;
  const { nk, nn } = cs.params;
  const e = cs.kdfExpander(senderDataSecret);
  // One off-heap buffer for both (see secretTree.ts: TreeKdf.generation).
  const buf = new ArrayBuffer(nk + nn);
  const out = { key: e.expandWithLabel("key", sample, nk, new Uint8Array(buf, 0, nk)), nonce: e.expandWithLabel("nonce", sample, nn, new Uint8Array(buf, nk, nn)) };
  e.destroy();
  return out;
}
