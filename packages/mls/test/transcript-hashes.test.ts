import { afterAll, describe, expect, it } from "vitest";
import { confirmedTranscriptHash, encodeConfirmedTranscriptHashInput, interimTranscriptHash, nextTranscriptHashes } from "../src/schedule/transcriptHash.js";
import { confirmationTag, verifyConfirmationTag } from "../src/schedule/keySchedule.js";
import { Reader } from "../src/codec/tls.js";
import { concatBytes, toHex } from "../src/codec/bytes.js";
import type { CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";

interface TranscriptVector {
  cipher_suite: number;
  confirmation_key: string;
  authenticated_content: string;
  interim_transcript_hash_before: string;
  confirmed_transcript_hash_after: string;
  interim_transcript_hash_after: string;
}

/**
 * Just enough of RFC 9420 §6 to split an encoded commit AuthenticatedContent
 * into the pieces of ConfirmedTranscriptHashInput, independent of the framing codecs:
 *   uint16 wire_format || FramedContent || opaque signature<V> || MAC confirmation_tag<V>
 * The FramedContent header is read to check content_type = commit, the tag is
 * the trailing Nh-byte MAC<V>.
 */
function splitCommit(bytes: Uint8Array, nh: number): { wireFormat: number; framedContent: Uint8Array; signature: Uint8Array; tag: Uint8Array } {
  const r = new Reader(bytes);
  const wireFormat = r.u16();
  r.opaque(); // group_id
  r.u64(); // epoch
  const senderType = r.u8();
  if (senderType === 1 || senderType === 2) r.u32(); // member leaf_index / external sender_index
  r.opaque(); // authenticated_data
  const contentType = r.u8();
  expect(contentType, "content_type must be commit").toBe(3);
  // Commit: ProposalOrRef proposals<V>; optional<UpdatePath> path; then signature<V>, confirmation_tag<V>.
  const tagHeader = nh < 64 ? 1 : 2;
  const tagStart = bytes.length - nh - tagHeader;
  const tagLen = new Reader(bytes.subarray(tagStart, tagStart + tagHeader)).varint();
  expect(tagLen).toBe(nh);
  const tag = bytes.subarray(tagStart + tagHeader);
  // Walk the commit body forward to where the signature starts. The vectors' commits
  // carry proposals by reference and no UpdatePath, which is all this parser handles.
  r.opaque(); // proposals
  expect(r.u8(), "minimal parser: commit without UpdatePath").toBe(0);
  const sigStart = r.offset;
  const sr = new Reader(bytes.subarray(sigStart, tagStart));
  const signature = sr.opaque();
  sr.expectEnd();
  return { wireFormat, framedContent: bytes.subarray(2, sigStart), signature, tag };
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("transcript-hashes.json (RFC 9420 §8.2) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`transcript-hashes.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<TranscriptVector[]>("transcript-hashes") : [];

  it.each(vectors.map((v) => [v.cipher_suite, v] as const))("cipher suite %i", (_id, v) => {
    const cs = provider.suite(v.cipher_suite);
    const ac = hex(v.authenticated_content);
    const { wireFormat, framedContent, signature, tag } = splitCommit(ac, cs.params.nh);
    const input = encodeConfirmedTranscriptHashInput(wireFormat, framedContent, signature);
    // ConfirmedTranscriptHashInput is the AuthenticatedContent minus its trailing confirmation_tag.
    expect(toHex(concatBytes(input, ac.subarray(input.length)))).toBe(v.authenticated_content);

    const before = hex(v.interim_transcript_hash_before);
    const confirmed = confirmedTranscriptHash(cs, before, input);
    expect(toHex(confirmed), "confirmed_transcript_hash_after").toBe(v.confirmed_transcript_hash_after);

    // The commit's confirmation_tag is MAC(confirmation_key, confirmed_transcript_hash_after).
    const key = hex(v.confirmation_key);
    expect(toHex(confirmationTag(cs, key, confirmed))).toBe(toHex(tag));
    expect(verifyConfirmationTag(cs, key, confirmed, tag)).toBe(true);

    expect(toHex(interimTranscriptHash(cs, confirmed, tag)), "interim_transcript_hash_after").toBe(v.interim_transcript_hash_after);
    const both = nextTranscriptHashes(cs, before, input, tag);
    expect([toHex(both.confirmedTranscriptHash), toHex(both.interimTranscriptHash)]).toEqual([v.confirmed_transcript_hash_after, v.interim_transcript_hash_after]);
    tally.pass();
  });
});

describe("transcript hash encoding", () => {
  const cs = nodeCryptoProvider.suite(1);

  it("ConfirmedTranscriptHashInput is uint16 wire_format || content || signature<V>", () => {
    expect(toHex(encodeConfirmedTranscriptHashInput(2, new Uint8Array([0xaa, 0xbb]), new Uint8Array([0xcc])))).toBe("0002aabb01cc");
  });

  it("InterimTranscriptHashInput length-prefixes the tag, and the first epoch starts from empty hashes", () => {
    const tag = new Uint8Array(32).fill(5);
    expect(toHex(interimTranscriptHash(cs, new Uint8Array(0), tag))).toBe(toHex(cs.hash(concatBytes(new Uint8Array([32]), tag))));
    expect(toHex(confirmedTranscriptHash(cs, new Uint8Array(0), new Uint8Array([1, 2])))).toBe(toHex(cs.hash(new Uint8Array([1, 2]))));
  });
});
