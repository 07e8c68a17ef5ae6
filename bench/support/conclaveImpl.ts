/** Conclave (packages/mls, node provider) behind the benchmark interface. */
import { nodeCryptoProvider, nodeSignatureStats } from "../../packages/mls/src/crypto/node/index.js";
import type { CipherSuiteId } from "../../packages/mls/src/crypto/cipherSuite.js";
import { createKeyPackage, Group, lifetimeFrom, type GroupConfig, type KeyPackageBundle } from "../../packages/mls/src/group/index.js";
import { CredentialType } from "../../packages/mls/src/messages/enums.js";
import { leafIndex } from "../../packages/mls/src/tree/treeMath.js";
import { PublicRatchetTree } from "../../packages/mls/src/tree/ratchetTree.js";
import type { MlsImpl } from "./mlsImpl.js";
import type { PathCost } from "./scenario.js";

const provider = nodeCryptoProvider;
const now = (): bigint => BigInt(Math.floor(Date.now() / 1000));
const config: Partial<GroupConfig> = { clock: now };
const enc = new TextEncoder();

export function conclaveImpl(suiteId: CipherSuiteId): MlsImpl<Group, KeyPackageBundle> {
  const suite = provider.suite(suiteId);
  const identityOf = async (i: number) => {
    const kp = await suite.signatureGenerateKeyPair();
    return { credential: { credentialType: CredentialType.basic, identity: enc.encode(`member-${i}`) }, signaturePrivateKey: kp.privateKey, signaturePublicKey: kp.publicKey };
  };
  return {
    // CONCLAVE_SIGNATURE_WORKER=0 (set by bench/mls.ts for its second Conclave run) keeps every signature on the main thread.
    name: nodeSignatureStats() === undefined ? "Conclave (1 thread)" : "Conclave",
    treeDeliveries: ["welcome", "outOfBand"],
    concurrent: true,
    async keyPackage(i) {
      return createKeyPackage({ suite, identity: await identityOf(i), lifetime: lifetimeFrom(now() - 60n, 30n * 24n * 3600n) });
    },
    async create() {
      return Group.create({ provider, cipherSuite: suiteId, identity: await identityOf(0), config });
    },
    async add(g, kps, tree) {
      // The peers send no path with an add-only commit; ask for the same so all do the same work.
      const inWelcome = tree === "welcome";
      const p = await g.createCommit({ add: kps.map((k) => k.message), path: "whenRequired", ratchetTreeExtension: inWelcome, externalPub: false });
      g.mergePendingCommit();
      if (p.welcome === undefined) throw new Error("no Welcome");
      return inWelcome ? { welcome: p.welcome, commit: p.commit } : { welcome: p.welcome, ratchetTree: p.ratchetTree, commit: p.commit };
    },
    join(welcome, kp, ratchetTree) {
      return Group.join(welcome, { provider, keyPackages: [kp], ...(ratchetTree === undefined ? {} : { ratchetTree }), config });
    },
    async commit(g, remove) {
      const p = await g.createCommit({ ...(remove === undefined ? {} : { remove: remove.map(leafIndex) }), path: "always", ratchetTreeExtension: false, externalPub: false });
      g.mergePendingCommit();
      return p.commit;
    },
    async process(g, commit) {
      const r = await g.processMessage(commit);
      if (r.kind !== "commit") throw new Error(`expected a commit, got ${r.kind}`);
      g.mergeStagedCommit(r.staged);
    },
    encrypt(g, data) {
      return g.encryptApplicationMessage(data);
    },
    async decrypt(g, message) {
      const r = await g.processMessage(message);
      if (r.kind !== "application") throw new Error(`expected application data, got ${r.kind}`);
      return r.data;
    },
    stateSize(g) {
      return g.serialize().length;
    },
  };
}

/** Leaf 0's path cost in g's current tree: HPKE encryptions to the copath resolution, filtered direct path length (§4.1.2, §7.5). */
export function conclavePathCost(g: Group): PathCost {
  const tree = PublicRatchetTree.decode(provider.suite(g.cipherSuite), g.ratchetTree());
  let encryptions = 0;
  const steps = tree.filteredPath(leafIndex(0));
  for (const s of steps) encryptions += tree.resolution(s.copathChild).length;
  return { encryptions, pathNodes: steps.length };
}
