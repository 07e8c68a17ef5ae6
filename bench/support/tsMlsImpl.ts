/**
 * ts-mls 1.6.4 (npm) behind the benchmark interface (the tree in the Welcome or out of band). Its states are
 * immutable values, so a member is a mutable holder of the latest one.
 * Used with its default crypto provider (what `getCiphersuiteImpl` picks).
 */
import {
  acceptAll,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processMessage,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type ClientState,
  type KeyPackage,
  type MLSMessage,
  type PrivateKeyPackage,
  type Proposal,
} from "ts-mls";
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js";
import type { MlsImpl } from "./mlsImpl.js";

export interface TsMember {
  state: ClientState;
}
export interface TsKeyPackage {
  readonly publicPackage: KeyPackage;
  readonly privatePackage: PrivateKeyPackage;
  /** MLSMessage(KeyPackage) bytes as a DS would hand them out. */
  readonly message: Uint8Array;
}

const SUITE_NAMES: Record<number, CiphersuiteName> = {
  1: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519",
  3: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519",
};
const enc = new TextEncoder();

function decodeMessage(bytes: Uint8Array): MLSMessage {
  const m = decodeMlsMessage(bytes, 0);
  if (m === undefined) throw new Error("ts-mls: undecodable MLSMessage");
  return m[0];
}

export async function tsMlsImpl(suiteId: number): Promise<MlsImpl<TsMember, TsKeyPackage>> {
  const name = SUITE_NAMES[suiteId];
  if (name === undefined) throw new Error(`no ts-mls name for suite ${suiteId}`);
  const cs: CiphersuiteImpl = await getCiphersuiteImpl(getCiphersuiteFromName(name));
  const kpFor = async (i: number): Promise<TsKeyPackage> => {
    const kp = await generateKeyPackage({ credentialType: "basic", identity: enc.encode(`member-${i}`) }, defaultCapabilities(), defaultLifetime, [], cs);
    return { ...kp, message: encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package", keyPackage: kp.publicPackage }) };
  };
  return {
    name: "ts-mls 1.6.4",
    treeDeliveries: ["welcome", "outOfBand"],
    concurrent: false,
    keyPackage: kpFor,
    async create() {
      const kp = await kpFor(0);
      return { state: await createGroup(cs.rng.randomBytes(32), kp.publicPackage, kp.privatePackage, [], cs) };
    },
    async add(g, kps, tree) {
      const proposals: Proposal[] = kps.map((k) => {
        const m = decodeMessage(k.message);
        if (m.wireformat !== "mls_key_package") throw new Error("expected a KeyPackage");
        return { proposalType: "add", add: { keyPackage: m.keyPackage } };
      });
      const inWelcome = tree === "welcome";
      const r = await createCommit({ state: g.state, cipherSuite: cs }, { extraProposals: proposals, ratchetTreeExtension: inWelcome });
      g.state = r.newState;
      if (r.welcome === undefined) throw new Error("no Welcome");
      const welcome = encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.welcome });
      return inWelcome ? { welcome } : { welcome, ratchetTree: encodeRatchetTree(r.newState.ratchetTree) };
    },
    async join(welcome, kp, ratchetTreeBytes) {
      const m = decodeMessage(welcome);
      if (m.wireformat !== "mls_welcome") throw new Error("expected a Welcome");
      const tree = ratchetTreeBytes === undefined ? undefined : decodeRatchetTree(ratchetTreeBytes, 0);
      if (ratchetTreeBytes !== undefined && tree === undefined) throw new Error("ts-mls: undecodable ratchet tree");
      // joinGroup validates the whole tree (validateRatchetTree: leaf signatures, parent hashes, tree hash).
      return { state: await joinGroup(m.welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, cs, tree?.[0]) };
    },
    async commit(g, remove) {
      const extraProposals: Proposal[] = (remove ?? []).map((removed) => ({ proposalType: "remove", remove: { removed } }));
      // An empty commit or one with removes carries a path in ts-mls.
      const r = await createCommit({ state: g.state, cipherSuite: cs }, { extraProposals, ratchetTreeExtension: false });
      g.state = r.newState;
      return encodeMlsMessage(r.commit);
    },
    async process(g, commit) {
      const m = decodeMessage(commit);
      if (m.wireformat !== "mls_private_message" && m.wireformat !== "mls_public_message") throw new Error("expected a handshake message");
      const r = await processMessage(m, g.state, emptyPskIndex, acceptAll, cs);
      if (r.kind !== "newState") throw new Error("expected a commit");
      g.state = r.newState;
    },
    async encrypt(g, data) {
      const r = await createApplicationMessage(g.state, data, cs);
      g.state = r.newState;
      return encodeMlsMessage({ version: "mls10", wireformat: "mls_private_message", privateMessage: r.privateMessage });
    },
    async decrypt(g, message) {
      const m = decodeMessage(message);
      if (m.wireformat !== "mls_private_message") throw new Error("expected a PrivateMessage");
      const r = await processMessage(m, g.state, emptyPskIndex, acceptAll, cs);
      g.state = r.newState;
      if (r.kind !== "applicationMessage") throw new Error("expected application data");
      return r.message;
    },
    stateSize(g) {
      return encodeGroupState(g.state).length;
    },
  };
}
