/**
 * The benchmark's crypto floor (bench/support/cryptoFloor.ts) must not count
 * more of any primitive than Conclave really calls for the same operation:
 * a floor above the work a real implementation does would flatter every
 * ratio printed against it. The bench's scenario at 16 members is replayed
 * on a provider that counts its calls, and each operation's floor counts are
 * compared with them, primitive by primitive.
 */
import { describe, expect, it } from "vitest";
import { add, join, messagePair, pathCommit, processCommit, type Floor, type Primitive } from "../../bench/support/cryptoFloor.js";
import type { PrimitiveCosts } from "../../bench/support/primitiveCosts.js";
import { conclavePathCost } from "../../bench/support/conclaveImpl.js";
import { fillerLeaves } from "../../bench/support/scenario.js";
import { Group, type KeyPackageBundle } from "../../packages/mls/src/group/index.js";
import { baseConfig, deliverCommit, keyPackageFor, makeClient, processAndMerge } from "../../packages/mls/test/group-support.js";
import { countingProvider, type CryptoTally } from "../../packages/mls/test/support/countingProvider.js";

const N = 16;
const free = { fixed: 0, perByte: 0 };
/** Counts do not depend on prices. */
const ZERO: PrimitiveCosts = { deriveKeyPair: 0, hpkeSeal: 0, hpkeOpen: 0, kdf: 0, sign: free, verify: free, aeadSeal: free, aeadOpen: free, hash: free, mac: free };

/** The calls of `t` that can stand for each primitive the floor counts. */
function available(t: CryptoTally): Record<Primitive, number> {
  return {
    derive: t.derive,
    seal: t.seal,
    open: t.open,
    sign: t.sign,
    verify: t.verify,
    KDF: t.kdf,
    // HPKE's info_hash (RFC 9180 §5.1), which the floor prices as a MAC, runs inside a sealer or an open.
    MAC: t.mac + t.sealers + t.open,
    hash: t.hash,
    AEAD: t.aead,
  };
}

function expectWithin(name: string, floor: Floor, t: CryptoTally): void {
  const have = available(t);
  expect(floor.counts, name).toBeDefined();
  for (const [primitive, count] of floor.counts!) {
    expect(count, `${name}: the floor counts ${count} ${primitive}, Conclave calls ${have[primitive]}`).toBeLessThanOrEqual(have[primitive]);
  }
}

describe("bench crypto floor: never more than Conclave does (counted at 16 members)", () => {
  it("add, join, path commits in a blank and a filled tree, their processing, a message", async () => {
    const { provider, reset, take } = countingProvider();
    const config = { ...baseConfig, handshakeWireFormat: "private" as const };
    const clients = await Promise.all(Array.from({ length: N }, (_, i) => makeClient(provider, 1, `member-${i}`)));
    const creator = await Group.create({ provider, cipherSuite: 1, identity: clients[0]!.identity, config });
    const bundles: KeyPackageBundle[] = await Promise.all(clients.slice(1).map((c) => keyPackageFor(c)));

    // The add, as the bench makes it: no path, the tree in the Welcome, no external_pub.
    reset();
    const added = await creator.createCommit({ add: bundles.map((b) => b.message), path: "whenRequired", ratchetTreeExtension: true, externalPub: false });
    const addTally = take();
    creator.mergePendingCommit();
    expectWithin("add", add(ZERO, N, added.commit.length, added.welcome!.length), addTally);

    reset();
    const b = await Group.join(added.welcome!, { provider, keyPackages: [bundles[0]!], config });
    expectWithin("join", join(ZERO, N, added.welcome!.length), take());
    const fillers = new Map<number, Group>();
    for (const l of fillerLeaves(N)) fillers.set(l, await Group.join(added.welcome!, { provider, keyPackages: [bundles[l - 1]!], config }));

    const pathCommitCounted = async (shape: string) => {
      const cost = conclavePathCost(creator);
      reset();
      const p = await creator.createCommit({ path: "always", ratchetTreeExtension: false, externalPub: false });
      const commitTally = take();
      creator.mergePendingCommit();
      expectWithin(`${shape} commit`, pathCommit(ZERO, N, cost, p.commit.length), commitTally);
      reset();
      await processAndMerge(b, p.commit);
      expectWithin(`${shape} process`, processCommit(ZERO, N, cost, p.commit.length), take());
      return p.commit;
    };

    const blank = await pathCommitCounted("blank-tree");
    for (const f of fillers.values()) await processAndMerge(f, blank);
    // Fill leaf 0's copath, largest filler first (bench/support/scenario.ts).
    const pending = [...fillers.keys()];
    while (pending.length > 0) {
      const f = fillers.get(pending.shift()!)!;
      const p = await f.createCommit({ path: "always", ratchetTreeExtension: false, externalPub: false });
      await deliverCommit(f, p.commit, [creator, b, ...pending.map((l) => fillers.get(l)!)]);
    }
    expect(conclavePathCost(creator).encryptions).toBe(Math.log2(N));
    await pathCommitCounted("filled-tree");

    reset();
    const message = await creator.encryptApplicationMessage(new Uint8Array(1024).fill(7));
    const r = await b.processMessage(message);
    expect(r.kind).toBe("application");
    expectWithin("message pair", messagePair(ZERO), take());
  });
});
