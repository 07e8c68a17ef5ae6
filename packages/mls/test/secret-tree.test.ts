import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { SecretTree, type RatchetType } from "../src/schedule/secretTree.js";
import { senderDataKeyAndNonce } from "../src/schedule/senderData.js";
import { toHex } from "../src/codec/bytes.js";
import { leafIndex } from "../src/tree/treeMath.js";
import type { CipherSuite, CryptoProvider } from "../src/crypto/cipherSuite.js";
import { nodeCryptoProvider } from "../src/crypto/node/index.js";
import { webCryptoProvider } from "../src/crypto/web/index.js";
import { MlsError } from "../src/errors.js";
import { haveVectors, hex, loadVectors, VectorTally } from "./support/vectors.js";
import { errorCode } from "./support/errors.js";

interface SecretTreeVector {
  cipher_suite: number;
  encryption_secret: string;
  sender_data: { sender_data_secret: string; ciphertext: string; key: string; nonce: string };
  leaves: { generation: number; handshake_key: string; handshake_nonce: string; application_key: string; application_nonce: string }[][];
}

const providers: CryptoProvider[] = [nodeCryptoProvider, webCryptoProvider];

describe.skipIf(!haveVectors).each(providers.map((p) => [p.name, p] as const))("secret-tree.json (RFC 9420 §9, §6.3.2) with the %s provider", (name, provider) => {
  const tally = new VectorTally(`secret-tree.json [${name}]`);
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<SecretTreeVector[]>("secret-tree") : [];

  it.each(vectors.map((v) => [v.cipher_suite, v.leaves.length, v] as const))("cipher suite %i, %i leaves", (_id, n, v) => {
    const cs = provider.suite(v.cipher_suite);
    const sd = senderDataKeyAndNonce(cs, hex(v.sender_data.sender_data_secret), hex(v.sender_data.ciphertext));
    expect(toHex(sd.key), "sender_data key").toBe(v.sender_data.key);
    expect(toHex(sd.nonce), "sender_data nonce").toBe(v.sender_data.nonce);

    // Receiver path: fetch each listed generation (skipping the ones between).
    const tree = new SecretTree(cs, hex(v.encryption_secret), n);
    // Sender path on a second tree: step the ratchet one generation at a time.
    const sender = new SecretTree(cs, hex(v.encryption_secret), n);
    for (let i = 0; i < n; i++) {
      const leaf = leafIndex(i);
      let sent = 0;
      for (const g of v.leaves[i]!) {
        const hs = tree.keyForGeneration(leaf, "handshake", g.generation);
        const app = tree.keyForGeneration(leaf, "application", g.generation);
        const got = [hs.generation, toHex(hs.key), toHex(hs.nonce), app.generation, toHex(app.key), toHex(app.nonce)];
        const want = [g.generation, g.handshake_key, g.handshake_nonce, g.generation, g.application_key, g.application_nonce];
        expect(got, `leaf ${i} generation ${g.generation}`).toEqual(want);

        let k = sender.nextKey(leaf, "application");
        while (k.generation < g.generation) k = sender.nextKey(leaf, "application");
        sent = k.generation;
        expect(toHex(k.key), `sender leaf ${i} generation ${g.generation}`).toBe(g.application_key);
        expect(toHex(k.nonce)).toBe(g.application_nonce);
      }
      expect(sent).toBe(v.leaves[i]!.at(-1)!.generation);
    }
    tally.pass();
  });
});

describe("secret tree behaviour", () => {
  const cs: CipherSuite = nodeCryptoProvider.suite(1);
  const root = new Uint8Array(32).fill(0x42);
  const L = leafIndex;

  /** Straight from §9 with the suite's labelled functions, no caching: the reference. */
  function reference(leaf: number, leafCount: number, type: RatchetType, generation: number): { key: string; nonce: string } {
    let node = 2 ** Math.floor(Math.log2(2 * (leafCount - 1) + 1)) - 1;
    let secret: Uint8Array = root;
    const target = 2 * leaf;
    while (node !== target) {
      const k = Math.log2((~node & (node + 1)) >>> 0);
      const goLeft = target < node;
      secret = cs.expandWithLabel(secret, "tree", new TextEncoder().encode(goLeft ? "left" : "right"), 32);
      node = goLeft ? node ^ (1 << (k - 1)) : node ^ (3 << (k - 1));
    }
    secret = cs.expandWithLabel(secret, type, new Uint8Array(0), 32);
    for (let j = 0; j < generation; j++) secret = cs.deriveTreeSecret(secret, "secret", j, 32);
    return {
      key: toHex(cs.deriveTreeSecret(secret, "key", generation, cs.params.nk)),
      nonce: toHex(cs.deriveTreeSecret(secret, "nonce", generation, cs.params.nn)),
    };
  }

  it("matches the unoptimised §9 derivation for any leaf and generation (lazy order does not matter)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 16),
        fc.array(fc.tuple(fc.nat(15), fc.constantFrom<RatchetType>("handshake", "application"), fc.nat(40)), { minLength: 1, maxLength: 6 }),
        (n, requests) => {
          const tree = new SecretTree(cs, root, n, { outOfOrderWindow: 1000 });
          const done = new Set<string>();
          for (const [l, type, g] of requests) {
            const leaf = l % n;
            const id = `${leaf}/${type}/${g}`;
            if (done.has(id)) {
              expect(errorCode(() => tree.keyForGeneration(L(leaf), type, g))).toBe("SECRET_TREE_GENERATION_CONSUMED");
              continue;
            }
            done.add(id);
            const k = tree.keyForGeneration(L(leaf), type, g);
            expect({ key: toHex(k.key), nonce: toHex(k.nonce) }).toEqual(reference(leaf, n, type, g));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("deletes a key once consumed, and only then with consume = false", () => {
    const tree = new SecretTree(cs, root, 4);
    const k = tree.keyForGeneration(L(1), "application", 3, false);
    const again = tree.keyForGeneration(L(1), "application", 3, false);
    expect(toHex(again.key)).toBe(toHex(k.key));
    expect(tree.consumeKey(L(1), "application", 3)).toBe(true);
    expect(k.key.every((b) => b === 0)).toBe(true); // zeroized in place
    expect(tree.consumeKey(L(1), "application", 3)).toBe(false);
    expect(errorCode(() => tree.keyForGeneration(L(1), "application", 3))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    // Skipped generations stay available (out of order), once each.
    expect(toHex(tree.keyForGeneration(L(1), "application", 1).key)).toBe(reference(1, 4, "application", 1).key);
    expect(errorCode(() => tree.keyForGeneration(L(1), "application", 1))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    // The handshake ratchet of the same leaf is independent.
    expect(toHex(tree.keyForGeneration(L(1), "handshake", 0).key)).toBe(reference(1, 4, "handshake", 0).key);
  });

  it("openWith consumes a key when the decryption returns and keeps it when it throws", () => {
    const tree = new SecretTree(cs, root, 4);
    const boom = new MlsError("CRYPTO_DECRYPT_FAILED", "forged");
    // A forged message for generation 2: the key is derived, kept for the real message, in its own buffer.
    let seen: Uint8Array | undefined;
    expect(
      errorCode(() =>
        tree.openWith(L(1), "application", 2, (k) => {
          seen = k.key;
          throw boom;
        }),
      ),
    ).toBe("CRYPTO_DECRYPT_FAILED");
    expect(seen!.every((b) => b === 0)).toBe(true); // the transient copy is wiped
    const kept = tree.keyForGeneration(L(1), "application", 2, false);
    expect(toHex(kept.key)).toBe(reference(1, 4, "application", 2).key);
    expect(kept.key.buffer.byteLength).toBe(cs.params.nk + cs.params.nn);
    tree.releaseKey(L(1), "application", 2);
    // The real message: opened with the kept key, which is then gone.
    expect(tree.openWith(L(1), "application", 2, (k) => toHex(k.nonce))).toBe(reference(1, 4, "application", 2).nonce);
    expect(errorCode(() => tree.openWith(L(1), "application", 2, () => 0))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    // In order: consumed, and the key handed to `open` wiped after it returns.
    let inOrder: Uint8Array | undefined;
    expect(
      tree.openWith(L(1), "application", 3, (k) => {
        inOrder = k.key;
        return toHex(k.key);
      }),
    ).toBe(reference(1, 4, "application", 3).key);
    expect(inOrder!.every((b) => b === 0)).toBe(true);
    expect(errorCode(() => tree.keyForGeneration(L(1), "application", 3))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    // Skipped generations 0 and 1 stay for late messages; the same errors as keyForGeneration.
    expect(tree.openWith(L(1), "application", 0, (k) => toHex(k.key))).toBe(reference(1, 4, "application", 0).key);
    expect(errorCode(() => tree.openWith(L(1), "application", 4 + tree.maxForwardDistance + 1, () => 0))).toBe("SECRET_TREE_TOO_FAR_AHEAD");
    expect(errorCode(() => tree.openWith(L(1), "application", -1, () => 0))).toBe("INVALID_ARGUMENT");
    expect(errorCode(() => tree.openWith(L(9), "application", 0, () => 0))).toBe("SECRET_TREE_INVALID_LEAF");
  });

  it("a key given back after a failed decryption moves to a buffer of its own", () => {
    const tree = new SecretTree(cs, root, 4);
    const held = tree.keyForGeneration(L(2), "handshake", 0, false);
    // Used at once, it is carved from a buffer shared with other keys (codec/byteSlab.ts).
    expect(held.key.buffer.byteLength).toBeGreaterThan(cs.params.nk + cs.params.nn);
    tree.releaseKey(L(2), "handshake", 0);
    expect(held.key.every((b) => b === 0)).toBe(true);
    const later = tree.keyForGeneration(L(2), "handshake", 0);
    expect(toHex(later.key)).toBe(reference(2, 4, "handshake", 0).key);
    expect(later.key.buffer.byteLength).toBe(cs.params.nk + cs.params.nn);
  });

  it("keeps skipped keys only within the out-of-order window", () => {
    const tree = new SecretTree(cs, root, 2, { outOfOrderWindow: 3 });
    tree.keyForGeneration(L(0), "application", 10);
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 6))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(toHex(tree.keyForGeneration(L(0), "application", 7).key)).toBe(reference(0, 2, "application", 7).key);
    // Moving ahead evicts what falls behind the window.
    tree.keyForGeneration(L(0), "application", 12);
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 8))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(toHex(tree.keyForGeneration(L(0), "application", 9).key)).toBe(reference(0, 2, "application", 9).key);
    const none = new SecretTree(cs, root, 2, { outOfOrderWindow: 0 });
    none.keyForGeneration(L(0), "handshake", 2);
    expect(errorCode(() => none.keyForGeneration(L(0), "handshake", 1))).toBe("SECRET_TREE_GENERATION_CONSUMED");
  });

  it("does not evict a key whose decryption is under way; a released key falls out of the window as usual", () => {
    const tree = new SecretTree(cs, root, 2, { outOfOrderWindow: 3 });
    // Two decryptions of generation 0 under way (a forgery and the real message), then the ratchet runs far ahead.
    const k0 = tree.keyForGeneration(L(0), "application", 0, false);
    tree.keyForGeneration(L(0), "application", 0, false);
    tree.keyForGeneration(L(0), "application", 20);
    // The forgery fails and gives its hold back: the real message still holds the key.
    tree.releaseKey(L(0), "application", 0);
    expect(k0.key.some((b) => b !== 0)).toBe(true);
    expect(tree.consumeKey(L(0), "application", 0)).toBe(true);
    // A held key that is released with no other holder, once behind the window, is deleted then.
    const k5 = tree.keyForGeneration(L(0), "application", 21, false);
    tree.keyForGeneration(L(0), "application", 30);
    expect(k5.key.some((b) => b !== 0)).toBe(true);
    tree.releaseKey(L(0), "application", 21);
    expect(k5.key.every((b) => b === 0)).toBe(true);
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 21))).toBe("SECRET_TREE_GENERATION_CONSUMED");
  });

  it("refuses to jump further than maxForwardDistance", () => {
    const tree = new SecretTree(cs, root, 2, { maxForwardDistance: 5 });
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 6))).toBe("SECRET_TREE_TOO_FAR_AHEAD");
    expect(toHex(tree.keyForGeneration(L(0), "application", 5).key)).toBe(reference(0, 2, "application", 5).key);
    expect(toHex(tree.keyForGeneration(L(0), "application", 11).key)).toBe(reference(0, 2, "application", 11).key);
    expect(errorCode(() => new SecretTree(cs, root, 2).keyForGeneration(L(1), "handshake", 1001))).toBe("SECRET_TREE_TOO_FAR_AHEAD");
  });

  it("rejects leaves outside the tree and bad arguments", () => {
    const tree = new SecretTree(cs, root, 4);
    expect(errorCode(() => tree.nextKey(L(4), "application"))).toBe("SECRET_TREE_INVALID_LEAF");
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", -1))).toBe("INVALID_ARGUMENT");
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 2 ** 32))).toBe("INVALID_ARGUMENT");
    expect(errorCode(() => new SecretTree(cs, root.subarray(1), 4))).toBe("INVALID_ARGUMENT");
    expect(errorCode(() => new SecretTree(cs, root, 0))).toBe("INVALID_ARGUMENT");
    expect(errorCode(() => new SecretTree(cs, root, 4, { outOfOrderWindow: -1 }))).toBe("INVALID_ARGUMENT");
  });

  it("does not alias or modify the caller's encryption secret", () => {
    const secret = root.slice();
    const tree = new SecretTree(cs, secret, 2);
    tree.nextKey(L(0), "handshake");
    expect(toHex(secret)).toBe(toHex(root));
    tree.destroy();
    expect(errorCode(() => tree.nextKey(L(0), "handshake"))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(errorCode(() => tree.keyForGeneration(L(0), "application", 3))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(errorCode(() => tree.keyForGeneration(L(1), "application", 0))).toBe("SECRET_TREE_GENERATION_CONSUMED");
  });

  it("exports and imports its state, continuing exactly where it was", () => {
    const a = new SecretTree(cs, root, 8, { outOfOrderWindow: 4 });
    a.keyForGeneration(L(3), "application", 5);
    a.nextKey(L(6), "handshake");
    const state = a.exportState();
    const b = SecretTree.importState(cs, state, { outOfOrderWindow: 4 });
    expect(toHex(b.exportState())).toBe(toHex(state));
    for (const t of [a, b]) {
      expect(toHex(t.keyForGeneration(L(3), "application", 2).key)).toBe(reference(3, 8, "application", 2).key);
      expect(errorCode(() => t.keyForGeneration(L(3), "application", 5))).toBe("SECRET_TREE_GENERATION_CONSUMED");
      expect(toHex(t.nextKey(L(6), "handshake").key)).toBe(reference(6, 8, "handshake", 1).key);
      expect(toHex(t.keyForGeneration(L(7), "application", 0).key)).toBe(reference(7, 8, "application", 0).key);
    }
    expect(errorCode(() => SecretTree.importState(nodeCryptoProvider.suite(3), state))).toBe("DECODE_INVALID");
    expect(errorCode(() => SecretTree.importState(cs, state.subarray(0, state.length - 1)))).toMatch(/^DECODE_/);
  });

  it("stops a ratchet after generation 2^32 - 1", () => {
    const t = new SecretTree(cs, root, 1);
    t.nextKey(L(0), "handshake");
    const state = t.exportState();
    // version(1) suite(2) leafCount(4) nodes<V>=00 (1) ratchets<V> header (2) leaf(4), then the handshake ratchet's uint64 next.
    const view = new DataView(state.buffer, state.byteOffset);
    expect(view.getBigUint64(14)).toBe(1n);
    view.setBigUint64(14, 0xffffffffn);
    const u = SecretTree.importState(cs, state);
    expect(u.nextKey(L(0), "handshake").generation).toBe(0xffffffff);
    expect(errorCode(() => u.nextKey(L(0), "handshake"))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(errorCode(() => u.keyForGeneration(L(0), "handshake", 0xffffffff))).toBe("SECRET_TREE_GENERATION_CONSUMED");
    expect(u.nextKey(L(0), "application").generation).toBe(0);
    const exhausted = u.exportState();
    expect(toHex(SecretTree.importState(cs, exhausted).exportState())).toBe(toHex(exhausted));
  });

  it("importState throws only MlsError on arbitrary bytes", () => {
    const valid = new SecretTree(cs, root, 4).exportState();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(valid.length), (junk, cut) => {
        for (const input of [junk, Uint8Array.from([...valid.subarray(0, cut), ...junk])]) {
          try {
            SecretTree.importState(cs, input);
          } catch (e) {
            expect(e).toBeInstanceOf(MlsError);
          }
        }
      }),
    );
  });
});
