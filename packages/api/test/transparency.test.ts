import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { encode, MlsError } from "@conclave/mls";
import {
  bindingLeafCodec,
  decodeBindingLeaf,
  emptyRoot,
  encodeTreeHeadTBS,
  hashChildren,
  hashLeaf,
  merkleRoot,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
  type BindingLeaf,
} from "../src/transparency.js";

const sha256 = (d: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(d).digest());

// Reference proofs written straight from the RFC 9162 definitions, independent
// of the verifier (and of the server's generator, which is tested elsewhere).
function mth(leaves: Uint8Array[], lo: number, hi: number): Uint8Array {
  return merkleRoot(sha256, leaves.slice(lo, hi));
}
function path(m: number, leaves: Uint8Array[], lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = splitPoint(n);
  return m < k ? [...path(m, leaves, lo, lo + k), mth(leaves, lo + k, hi)] : [...path(m - k, leaves, lo + k, hi), mth(leaves, lo, lo + k)];
}
function subproof(m: number, leaves: Uint8Array[], lo: number, hi: number, b: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [mth(leaves, lo, hi)];
  const k = splitPoint(n);
  return m <= k ? [...subproof(m, leaves, lo, lo + k, b), mth(leaves, lo + k, hi)] : [...subproof(m - k, leaves, lo + k, hi, false), mth(leaves, lo, lo + k)];
}

const leafHashes = Array.from({ length: 40 }, (_, i) => hashLeaf(sha256, new TextEncoder().encode(`leaf ${i}`)));

function flip(b: Uint8Array, bit = 0): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

describe("Merkle tree hashing (RFC 9162 §2.1.1)", () => {
  it("prefixes leaves with 0x00 and nodes with 0x01", () => {
    const leaf = new Uint8Array([1, 2, 3]);
    expect(hashLeaf(sha256, leaf)).toEqual(sha256(new Uint8Array([0, 1, 2, 3])));
    const a = sha256(new Uint8Array([9]));
    const b = sha256(new Uint8Array([8]));
    expect(hashChildren(sha256, a, b)).toEqual(sha256(new Uint8Array([1, ...a, ...b])));
    expect(emptyRoot(sha256)).toEqual(sha256(new Uint8Array(0)));
  });

  it("splits at the largest power of two below n", () => {
    expect([2, 3, 4, 5, 8, 9, 17].map(splitPoint)).toEqual([1, 2, 2, 4, 4, 8, 16]);
  });

  it("computes the root of a 7-leaf tree by the definition", () => {
    const l = leafHashes.slice(0, 7);
    const h = (a: Uint8Array, b: Uint8Array): Uint8Array => hashChildren(sha256, a, b);
    const expected = h(h(h(l[0]!, l[1]!), h(l[2]!, l[3]!)), h(h(l[4]!, l[5]!), l[6]!));
    expect(merkleRoot(sha256, l)).toEqual(expected);
  });
});

describe("inclusion proofs (RFC 9162 §2.1.3)", () => {
  it("verifies every leaf of every tree up to 40 leaves", () => {
    for (let n = 1; n <= 40; n++) {
      const root = mth(leafHashes, 0, n);
      for (let m = 0; m < n; m++) {
        const proof = path(m, leafHashes, 0, n);
        expect(verifyInclusion(sha256, { leafIndex: m, treeSize: n, leafHash: leafHashes[m]!, proof, rootHash: root }), `${m}/${n}`).toBe(true);
      }
    }
  });

  it("rejects tampered proofs, leaves, indices, sizes and roots", () => {
    for (const n of [1, 2, 3, 5, 8, 13, 31, 32, 33]) {
      const root = mth(leafHashes, 0, n);
      for (let m = 0; m < n; m++) {
        const proof = path(m, leafHashes, 0, n);
        const ok = { leafIndex: m, treeSize: n, leafHash: leafHashes[m]!, proof, rootHash: root };
        const v = (c: Partial<typeof ok>): boolean => verifyInclusion(sha256, { ...ok, ...c });
        expect(v({ leafHash: flip(leafHashes[m]!) })).toBe(false);
        expect(v({ rootHash: flip(root, 255) })).toBe(false);
        expect(v({ leafIndex: m + 1 })).toBe(false);
        if (m > 0) expect(v({ leafIndex: m - 1 })).toBe(false);
        // (The tree size itself is authenticated by the signed tree head, not by the path.)
        expect(v({ leafIndex: n })).toBe(false);
        expect(v({ leafIndex: -1 })).toBe(false);
        expect(v({ leafIndex: 0.5 })).toBe(false);
        expect(v({ proof: [...proof, leafHashes[0]!] })).toBe(false);
        if (proof.length > 0) {
          expect(v({ proof: proof.slice(0, -1) })).toBe(false);
          if (proof.length > 1) expect(v({ proof: [...proof].reverse() })).toBe(false);
          for (let i = 0; i < proof.length; i++) {
            const bad = proof.slice();
            bad[i] = flip(bad[i]!, 77);
            expect(v({ proof: bad }), `${m}/${n} element ${i}`).toBe(false);
          }
          expect(v({ proof: [proof[0]!.subarray(0, 31), ...proof.slice(1)] })).toBe(false);
        }
        // a leaf hash given as a proof for another leaf's position
        if (n > 1) expect(v({ leafHash: leafHashes[(m + 1) % n]! })).toBe(false);
      }
    }
  });
});

describe("consistency proofs (RFC 9162 §2.1.4)", () => {
  it("verifies every pair of sizes up to 40", () => {
    for (let second = 1; second <= 40; second++) {
      const secondRoot = mth(leafHashes, 0, second);
      for (let first = 1; first <= second; first++) {
        const proof = first === second ? [] : subproof(first, leafHashes, 0, second, true);
        const firstRoot = mth(leafHashes, 0, first);
        expect(verifyConsistency(sha256, { first, second, firstRoot, secondRoot, proof }), `${first}->${second}`).toBe(true);
      }
    }
  });

  it("rejects proofs that do not link the two roots", () => {
    for (const [first, second] of [
      [1, 2],
      [3, 7],
      [4, 8],
      [5, 6],
      [7, 33],
      [16, 17],
      [6, 40],
    ] as [number, number][]) {
      const proof = subproof(first, leafHashes, 0, second, true);
      const firstRoot = mth(leafHashes, 0, first);
      const secondRoot = mth(leafHashes, 0, second);
      const ok = { first, second, firstRoot, secondRoot, proof };
      const v = (c: Partial<typeof ok>): boolean => verifyConsistency(sha256, { ...ok, ...c });
      expect(v({})).toBe(true);
      expect(v({ firstRoot: flip(firstRoot) })).toBe(false);
      expect(v({ secondRoot: flip(secondRoot) })).toBe(false);
      expect(v({ first: first + 1 })).toBe(false);
      // (Like inclusion, the sizes are bound to the roots by the signed tree heads.)
      expect(v({ first: second, second: first })).toBe(false);
      expect(v({ proof: [] })).toBe(false);
      expect(v({ proof: proof.slice(0, -1) })).toBe(false);
      expect(v({ proof: [...proof, proof[0]!] })).toBe(false);
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.slice();
        bad[i] = flip(bad[i]!, 3);
        expect(v({ proof: bad }), `${first}->${second} element ${i}`).toBe(false);
      }
      // a history rewrite: same sizes, one earlier leaf changed
      const forged = leafHashes.slice();
      forged[0] = flip(forged[0]!);
      expect(v({ secondRoot: mth(forged, 0, second), proof: subproof(first, forged, 0, second, true) })).toBe(false);
    }
  });

  it("handles the edge cases: equal sizes, the empty tree", () => {
    const r5 = mth(leafHashes, 0, 5);
    expect(verifyConsistency(sha256, { first: 5, second: 5, firstRoot: r5, secondRoot: r5, proof: [] })).toBe(true);
    expect(verifyConsistency(sha256, { first: 5, second: 5, firstRoot: r5, secondRoot: flip(r5), proof: [] })).toBe(false);
    expect(verifyConsistency(sha256, { first: 5, second: 5, firstRoot: r5, secondRoot: r5, proof: [r5] })).toBe(false);
    expect(verifyConsistency(sha256, { first: 0, second: 5, firstRoot: emptyRoot(sha256), secondRoot: r5, proof: [] })).toBe(true);
    expect(verifyConsistency(sha256, { first: 0, second: 5, firstRoot: emptyRoot(sha256), secondRoot: r5, proof: [r5] })).toBe(false);
  });
});

describe("BindingLeaf and TreeHeadTBS encodings", () => {
  const arbLeaf: fc.Arbitrary<BindingLeaf> = fc.record({
    timestamp: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    identity: fc.string(),
    cipherSuite: fc.integer({ min: 0, max: 0xffff }),
    signatureKey: fc.uint8Array({ maxLength: 133 }),
    credentialType: fc.integer({ min: 0, max: 0xffff }),
    credentialHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    notAfter: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  });

  it("round-trips and re-encodes byte for byte", () => {
    fc.assert(
      fc.property(arbLeaf, (leaf) => {
        const bytes = encode(bindingLeafCodec, leaf);
        const back = decodeBindingLeaf(bytes);
        expect(back).toEqual(leaf);
        expect(encode(bindingLeafCodec, back)).toEqual(bytes);
      }),
    );
  });

  it("has the documented layout", () => {
    const bytes = encode(bindingLeafCodec, {
      timestamp: 0x0102,
      identity: "a@b#c",
      cipherSuite: 1,
      signatureKey: new Uint8Array([0xaa, 0xbb]),
      credentialType: 2,
      credentialHash: new Uint8Array([0xcc]),
      notAfter: 0x03,
    });
    const expected = [1, 0, 0, 0, 0, 0, 0, 1, 2, 5, ...new TextEncoder().encode("a@b#c"), 0, 1, 2, 0xaa, 0xbb, 0, 2, 1, 0xcc, 0, 0, 0, 0, 0, 0, 0, 3];
    expect([...bytes]).toEqual(expected);
    expect([...encodeTreeHeadTBS({ treeSize: 7, timestamp: 9, rootHash: new Uint8Array([0xee]) })]).toEqual([0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9, 1, 0xee]);
  });

  it("rejects malformed leaves with MlsError codes", () => {
    const good = encode(bindingLeafCodec, {
      timestamp: 1,
      identity: "x",
      cipherSuite: 1,
      signatureKey: new Uint8Array(32),
      credentialType: 1,
      credentialHash: new Uint8Array(32),
      notAfter: 2,
    });
    const codeOf = (b: Uint8Array): string => {
      try {
        decodeBindingLeaf(b);
        return "none";
      } catch (e) {
        expect(e).toBeInstanceOf(MlsError);
        return (e as MlsError).code;
      }
    };
    expect(codeOf(good.subarray(0, good.length - 1))).toBe("DECODE_TRUNCATED");
    expect(codeOf(new Uint8Array([...good, 0]))).toBe("DECODE_TRAILING_BYTES");
    const v2 = good.slice();
    v2[0] = 2;
    expect(codeOf(v2)).toBe("DECODE_UNKNOWN_VALUE");
    const bigTs = good.slice();
    bigTs[1] = 0xff;
    expect(codeOf(bigTs)).toBe("DECODE_INVALID");
  });
});

describe("signed tree heads", async () => {
  const { nodeCryptoProvider } = await import("@conclave/mls/node");
  const { toBase64Url } = await import("../src/base64url.js");
  const { verifySignedTreeHead, TREE_HEAD_LABEL } = await import("../src/transparency.js");
  const suite = nodeCryptoProvider.suite(1);
  const keys = await suite.signatureGenerateKeyPair();
  const head = { treeSize: 12, timestamp: 1_700_000_000_000, rootHash: sha256(new Uint8Array([1])) };
  const signature = await suite.signWithLabel(keys.privateKey, TREE_HEAD_LABEL, encodeTreeHeadTBS(head));
  const sth = { treeSize: 12, timestamp: head.timestamp, rootHash: toBase64Url(head.rootHash), signature: toBase64Url(signature) };

  it("accepts the log key's signature and returns the head", async () => {
    expect(await verifySignedTreeHead(suite, keys.publicKey, sth)).toEqual(head);
  });

  it("rejects any change, another key, another suite and malformed fields", async () => {
    const other = await suite.signatureGenerateKeyPair();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, treeSize: 13 })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, timestamp: sth.timestamp + 1 })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, rootHash: toBase64Url(sha256(new Uint8Array([2]))) })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, other.publicKey, sth)).toBeUndefined();
    expect(await verifySignedTreeHead(nodeCryptoProvider.suite(3), keys.publicKey, sth)).toBeUndefined();
    expect(await verifySignedTreeHead(suite, new Uint8Array(5), sth)).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, rootHash: "A" })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, rootHash: toBase64Url(new Uint8Array(31)) })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, treeSize: -1 })).toBeUndefined();
    expect(await verifySignedTreeHead(suite, keys.publicKey, { ...sth, signature: sth.signature.slice(0, -2) })).toBeUndefined();
  });
});
