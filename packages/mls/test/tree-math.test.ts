import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  commonAncestor,
  copath,
  directPath,
  isAncestorOrSelf,
  isLeaf,
  leafIndex,
  leafToNode,
  left,
  level,
  nodeIndex,
  nodeToLeaf,
  nodeWidth,
  parent,
  right,
  root,
  sibling,
} from "../src/tree/treeMath.js";
import { MlsError } from "../src/errors.js";
import { haveVectors, loadVectors, VectorTally } from "./support/vectors.js";

interface TreeMathVector {
  n_leaves: number;
  n_nodes: number;
  root: number;
  left: (number | null)[];
  right: (number | null)[];
  parent: (number | null)[];
  sibling: (number | null)[];
}

/** null where the operation is undefined (the function throws INVALID_ARGUMENT). */
function orNull(f: () => number): number | null {
  try {
    return f();
  } catch (e) {
    expect(e).toBeInstanceOf(MlsError);
    expect((e as MlsError).code).toBe("INVALID_ARGUMENT");
    return null;
  }
}

describe.skipIf(!haveVectors)("tree-math.json (RFC 9420 Appendix C)", () => {
  const tally = new VectorTally("tree-math.json");
  afterAll(() => tally.report());
  const vectors = haveVectors ? loadVectors<TreeMathVector[]>("tree-math") : [];

  it.each(vectors.map((v) => [v.n_leaves, v] as const))("n_leaves = %i", (_n, v) => {
    expect(nodeWidth(v.n_leaves)).toBe(v.n_nodes);
    expect(root(v.n_leaves)).toBe(v.root);
    expect(v.left.length).toBe(v.n_nodes);
    for (let i = 0; i < v.n_nodes; i++) {
      const x = nodeIndex(i);
      expect(
        orNull(() => left(x)),
        `left(${i})`,
      ).toBe(v.left[i]);
      expect(
        orNull(() => right(x)),
        `right(${i})`,
      ).toBe(v.right[i]);
      expect(
        orNull(() => parent(x, v.n_leaves)),
        `parent(${i})`,
      ).toBe(v.parent[i]);
      expect(
        orNull(() => sibling(x, v.n_leaves)),
        `sibling(${i})`,
      ).toBe(v.sibling[i]);
    }
    tally.pass();
  });
});

/** Appendix C's direct_path / copath / common_ancestor_semantic, written naively as the reference. */
function refDirectPath(x: number, n: number): number[] {
  const r = root(n);
  const d: number[] = [];
  while (x !== r) {
    x = parent(nodeIndex(x), n);
    d.push(x);
  }
  return d;
}

function refCommonAncestor(x: number, y: number, n: number): number {
  const dx = new Set([x, ...refDirectPath(x, n)]);
  const common = [y, ...refDirectPath(y, n)].filter((a) => dx.has(a));
  return common.reduce((best, a) => (level(nodeIndex(a)) < level(nodeIndex(best)) ? a : best));
}

const fullTree = fc.integer({ min: 0, max: 12 }).map((k) => 2 ** k);

describe("tree math properties", () => {
  it("directPath and copath follow parent/sibling from the node to the root", () => {
    fc.assert(
      fc.property(
        fullTree.chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: nodeWidth(n) - 1 }))),
        ([n, i]) => {
          const x = nodeIndex(i);
          const dp = directPath(x, n);
          expect(dp).toEqual(refDirectPath(i, n));
          // Appendix C: copath = siblings of [x, ...directPath minus the root].
          const below = dp.length === 0 ? [] : [x, ...dp.slice(0, -1)];
          expect(copath(x, n)).toEqual(below.map((y) => sibling(y, n)));
          expect(dp.length).toBe(Math.log2(n) - level(x));
        },
      ),
    );
  });

  it("commonAncestor matches the semantic definition", () => {
    fc.assert(
      fc.property(
        fullTree.chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: nodeWidth(n) - 1 }), fc.integer({ min: 0, max: nodeWidth(n) - 1 }))),
        ([n, a, b]) => {
          const ca = commonAncestor(nodeIndex(a), nodeIndex(b));
          expect(ca).toBe(refCommonAncestor(a, b, n));
          expect(isAncestorOrSelf(ca, nodeIndex(a))).toBe(true);
          expect(isAncestorOrSelf(ca, nodeIndex(b))).toBe(true);
        },
      ),
    );
  });

  it("isAncestorOrSelf agrees with the direct path", () => {
    const n = 64;
    for (let a = 0; a < nodeWidth(n); a++) {
      for (let x = 0; x < nodeWidth(n); x++) {
        const expected = a === x || refDirectPath(x, n).includes(a);
        expect(isAncestorOrSelf(nodeIndex(a), nodeIndex(x))).toBe(expected);
      }
    }
  });

  it("converts between leaf and node indices", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (l) => {
        const node = leafToNode(leafIndex(l));
        expect(node).toBe(2 * l);
        expect(isLeaf(node)).toBe(true);
        expect(nodeToLeaf(node)).toBe(l);
      }),
    );
    expect(() => nodeToLeaf(nodeIndex(3))).toThrow(MlsError);
    expect(isLeaf(nodeIndex(5))).toBe(false);
  });

  it("stays unsigned at the uint32 edge (2^31 leaves)", () => {
    const n = 2 ** 31;
    const r = root(n);
    expect(r).toBe(2 ** 31 - 1);
    expect(right(r)).toBe(2 ** 31 - 1 + 2 ** 30);
    const lastLeaf = leafToNode(leafIndex(n - 1));
    expect(lastLeaf).toBe(2 ** 32 - 2);
    const dp = directPath(lastLeaf, n);
    expect(dp.length).toBe(31);
    expect(dp.at(-1)).toBe(r);
    expect(dp.every((x) => x >= 0)).toBe(true);
    expect(commonAncestor(nodeIndex(0), lastLeaf)).toBe(r);
    expect(sibling(right(r), n)).toBe(left(r));
  });

  it("rejects what has no answer, with INVALID_ARGUMENT", () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return (e as MlsError).code;
      }
      return undefined;
    };
    expect(code(() => left(nodeIndex(4)))).toBe("INVALID_ARGUMENT");
    expect(code(() => parent(root(8), 8))).toBe("INVALID_ARGUMENT");
    expect(code(() => parent(nodeIndex(40), 8))).toBe("INVALID_ARGUMENT");
    expect(code(() => root(0))).toBe("INVALID_ARGUMENT");
    expect(code(() => leafIndex(-1))).toBe("INVALID_ARGUMENT");
    expect(code(() => leafIndex(1.5))).toBe("INVALID_ARGUMENT");
    expect(directPath(root(4), 4)).toEqual([]);
    expect(copath(root(4), 4)).toEqual([]);
  });
});
