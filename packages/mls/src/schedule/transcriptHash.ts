/**
 * Transcript hashes (RFC 9420 §8.2).
 *
 *   confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
 *   interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
 *
 * Both inputs are taken as bytes (or as the encoded pieces they are made of),
 * so this file does not depend on the framing structs.
 */
import type { CipherSuite } from "../crypto/cipherSuite.js";
import { Writer } from "../codec/tls.js";

/**
 * struct { WireFormat wire_format; FramedContent content; opaque signature<V>; } ConfirmedTranscriptHashInput
 * from its pieces: the wire format value, the encoded FramedContent (content_type commit) and the signature.
 */
export function encodeConfirmedTranscriptHashInput(wireFormat: number, framedContent: Uint8Array, signature: Uint8Array): Uint8Array {
  const w = new Writer(2 + framedContent.length + signature.length + 4);
  w.u16(wireFormat);
  w.raw(framedContent);
  w.opaque(signature);
  return w.finish();
}

/** confirmed_transcript_hash_[n] from interim_transcript_hash_[n-1] and the encoded ConfirmedTranscriptHashInput. */
export function confirmedTranscriptHash(cs: CipherSuite, interimTranscriptHashBefore: Uint8Array, confirmedInput: Uint8Array): Uint8Array {
  const buf = new Uint8Array(interimTranscriptHashBefore.length + confirmedInput.length);
  buf.set(interimTranscriptHashBefore, 0);
  buf.set(confirmedInput, interimTranscriptHashBefore.length);
  return cs.hash(buf);
}

/**
 * confirmed_transcript_hash_[n] from interim_transcript_hash_[n-1] and the
 * pieces of the ConfirmedTranscriptHashInput (see
 * encodeConfirmedTranscriptHashInput), hashed where they are written: no
 * copy of the commit's encoding is made.
 */
export function confirmedTranscriptHashOf(cs: CipherSuite, interimTranscriptHashBefore: Uint8Array, wireFormat: number, framedContent: Uint8Array, signature: Uint8Array): Uint8Array {
  const w = new Writer(interimTranscriptHashBefore.length + 2 + framedContent.length + signature.length + 4);
  w.raw(interimTranscriptHashBefore);
  w.u16(wireFormat);
  w.raw(framedContent);
  w.opaque(signature);
  return w.consume((b) => cs.hash(b));
}

/** interim_transcript_hash_[n] = Hash(confirmed_transcript_hash_[n] || struct { MAC confirmation_tag; }). */
export function interimTranscriptHash(cs: CipherSuite, confirmedTranscriptHash: Uint8Array, confirmationTag: Uint8Array): Uint8Array {
  const w = new Writer(confirmedTranscriptHash.length + confirmationTag.length + 4);
  w.raw(confirmedTranscriptHash);
  w.opaque(confirmationTag); // MAC is opaque<V> (§6.1)
  return w.consume((b) => cs.hash(b));
}

/** Both hashes of the epoch a Commit creates, the interim one needing the Commit's confirmation tag. */
export function nextTranscriptHashes(
  cs: CipherSuite,
  interimTranscriptHashBefore: Uint8Array,
  confirmedInput: Uint8Array,
  confirmationTag: Uint8Array,
): { confirmedTranscriptHash: Uint8Array; interimTranscriptHash: Uint8Array } {
  const confirmed = confirmedTranscriptHash(cs, interimTranscriptHashBefore, confirmedInput);
  return { confirmedTranscriptHash: confirmed, interimTranscriptHash: interimTranscriptHash(cs, confirmed, confirmationTag) };
}
