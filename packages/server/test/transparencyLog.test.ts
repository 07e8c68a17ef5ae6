import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeTreeHeadTBS, hashLeaf, isApiError, merkleRoot, verifyConsistency, verifyInclusion } from "@conclave/api";
import { sha256 } from "../src/crypto.js";
import { TransparencyLog } from "../src/as/transparencyLog.js";
import type { Store } from "../src/storage/index.js";
import { ENGINES, type TestStore } from "./support/engines.js";

// The signature is the AS's business (tested with real keys in as.test.ts); here a stand-in.
const log = new TransparencyLog(async (head) => sha256(encodeTreeHeadTBS(head)));
const leafBytes = (i: number): Uint8Array => new TextEncoder().encode(`binding ${i}`);

function flip(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[0]! ^= 1;
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "none";
  } catch (e) {
    return isApiError(e) ? e.code : String(e);
  }
}

describe.each(ENGINES)("transparency log [$name]", (engine) => {
  let t: TestStore;
  let store: Store;
  const N = 21;
  const roots: Uint8Array[] = [];

  beforeEach(async () => {
    if (!engine.available) return;
    t = await engine.open();
    store = t.store;
    await store.transaction((tx) => log.initialise(tx, 1));
    roots.length = 0;
    roots.push((await log.treeHead(store, 0)).rootHash);
    for (let i = 0; i < N; i++) {
      const { index, head } = await store.transaction((tx) => log.append(tx, leafBytes(i), 100 + i));
      expect(index).toBe(i);
      roots.push(head.rootHash);
    }
  });
  afterEach(async () => {
    await t?.dispose();
  });

  describe.skipIf(!engine.available)("", () => {
    it("signs a head per size whose root is MTH of the leaves so far", async () => {
      const leafHashes = Array.from({ length: N }, (_, i) => hashLeaf(sha256, leafBytes(i)));
      for (let n = 0; n <= N; n++) {
        const head = await log.treeHead(store, n);
        expect(head.rootHash).toEqual(merkleRoot(sha256, leafHashes.slice(0, n)));
        expect(head.signature).toEqual(sha256(encodeTreeHeadTBS(head)));
        expect(head.timestamp).toBe(n === 0 ? 1 : 100 + n - 1);
      }
      expect((await log.treeHead(store)).treeSize).toBe(N);
      expect(await log.size(store)).toBe(N);
      expect((await log.leaves(store, 3, 6)).map((l) => new TextDecoder().decode(l.leaf))).toEqual(["binding 3", "binding 4", "binding 5"]);
    });

    it("serves inclusion proofs that verify for every leaf and size, and fail when tampered", async () => {
      for (let n = 1; n <= N; n++) {
        for (let m = 0; m < n; m++) {
          const { leafHash, proof } = await log.inclusionProof(store, m, n);
          expect(leafHash).toEqual(hashLeaf(sha256, leafBytes(m)));
          const check = { leafIndex: m, treeSize: n, leafHash, proof, rootHash: roots[n]! };
          expect(verifyInclusion(sha256, check), `${m}/${n}`).toBe(true);
          expect(verifyInclusion(sha256, { ...check, leafHash: hashLeaf(sha256, leafBytes(m + 1)) })).toBe(false);
          if (proof.length > 0) expect(verifyInclusion(sha256, { ...check, proof: [flip(proof[0]!), ...proof.slice(1)] })).toBe(false);
          if (n > 1) expect(verifyInclusion(sha256, { ...check, rootHash: roots[n - 1]! })).toBe(false);
        }
      }
    });

    it("serves consistency proofs between every pair of sizes, which fail when tampered", async () => {
      for (let second = 0; second <= N; second++) {
        for (let first = 0; first <= second; first++) {
          const proof = await log.consistencyProof(store, first, second);
          const check = { first, second, firstRoot: roots[first]!, secondRoot: roots[second]!, proof };
          expect(verifyConsistency(sha256, check), `${first}->${second}`).toBe(true);
          if (proof.length > 0) {
            expect(verifyConsistency(sha256, { ...check, proof: [...proof.slice(0, -1), flip(proof.at(-1)!)] })).toBe(false);
            expect(verifyConsistency(sha256, { ...check, firstRoot: flip(roots[first]!) })).toBe(false);
          }
        }
      }
    });

    it("rejects sizes and indices outside the log", async () => {
      expect(await codeOf(log.inclusionProof(store, 0, N + 1))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.inclusionProof(store, 0, 0))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.inclusionProof(store, 5, 5))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.inclusionProof(store, -1, 5))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.consistencyProof(store, 3, N + 1))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.consistencyProof(store, 4, 3))).toBe("TREE_SIZE_INVALID");
      expect(await codeOf(log.treeHead(store, N + 1))).toBe("TREE_SIZE_INVALID");
    });

    it("leaves no trace of an append whose transaction fails", async () => {
      await expect(
        store.transaction(async (tx) => {
          await log.append(tx, new TextEncoder().encode("doomed"), 999);
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await log.size(store)).toBe(N);
      expect(await codeOf(log.treeHead(store, N + 1))).toBe("TREE_SIZE_INVALID");
      const { index, head } = await store.transaction((tx) => log.append(tx, leafBytes(N), 1000));
      expect(index).toBe(N);
      const all = Array.from({ length: N + 1 }, (_, i) => hashLeaf(sha256, leafBytes(i)));
      expect(head.rootHash).toEqual(merkleRoot(sha256, all));
    });

    it("keeps the tree consistent under concurrent appends", async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.transaction((tx) => log.append(tx, leafBytes(1000 + i), 2000))));
      expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 8 }, (_, i) => N + i));
      const leaves = await log.leaves(store, 0, N + 8);
      const head = await log.treeHead(store);
      expect(head.treeSize).toBe(N + 8);
      expect(head.rootHash).toEqual(
        merkleRoot(
          sha256,
          leaves.map((l) => hashLeaf(sha256, l.leaf)),
        ),
      );
      const proof = await log.consistencyProof(store, N, N + 8);
      expect(verifyConsistency(sha256, { first: N, second: N + 8, firstRoot: roots[N]!, secondRoot: head.rootHash, proof })).toBe(true);
    });
  });
});
