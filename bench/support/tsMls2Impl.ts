/**
 * ts-mls 2.0 (npm ts-mls@2.0.0-rc.10, installed as `ts-mls-2`) behind the
 * benchmark interface, with its default crypto provider. States are immutable
 * values, so a member is a mutable holder of the latest one. Its public API
 * has no ratchet-tree encoder, so the tree always travels in the Welcome.
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decode,
  defaultCapabilities,
  defaultCredentialTypes,
  defaultLifetime,
  defaultProposalTypes,
  encode,
  generateKeyPackage,
  getCiphersuiteImpl,
  groupStateEncoder,
  joinGroup,
  mlsMessageDecoder,
  mlsMessageEncoder,
  processMessage,
  protocolVersions,
  unsafeTestingAuthenticationService,
  wireformats,
  type CiphersuiteName,
  type ClientState,
  type KeyPackage,
  type MlsContext,
  type MlsMessage,
  type PrivateKeyPackage,
  type Proposal,
} from "ts-mls-2";
import type { MlsImpl } from "./mlsImpl.js";

export interface Ts2Member {
  state: ClientState;
}
export interface Ts2KeyPackage {
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

function decodeMessage(bytes: Uint8Array): MlsMessage {
  const m = decode(mlsMessageDecoder, bytes);
  if (m === undefined) throw new Error("ts-mls 2: undecodable MLSMessage");
  return m;
}

export async function tsMls2Impl(suiteId: number): Promise<MlsImpl<Ts2Member, Ts2KeyPackage>> {
  const name = SUITE_NAMES[suiteId];
  if (name === undefined) throw new Error(`no ts-mls name for suite ${suiteId}`);
  // The testing authentication service accepts every basic credential, as the other adapters do.
  const context: MlsContext = { cipherSuite: await getCiphersuiteImpl(name), authService: unsafeTestingAuthenticationService };
  const version = protocolVersions.mls10;
  const kpFor = async (i: number): Promise<Ts2KeyPackage> => {
    const kp = await generateKeyPackage({
      credential: { credentialType: defaultCredentialTypes.basic, identity: enc.encode(`member-${i}`) },
      capabilities: defaultCapabilities(),
      lifetime: defaultLifetime(),
      cipherSuite: context.cipherSuite,
    });
    return { ...kp, message: encode(mlsMessageEncoder, { version, wireformat: wireformats.mls_key_package, keyPackage: kp.publicPackage }) };
  };
  const framed = (bytes: Uint8Array) => {
    const m = decodeMessage(bytes);
    if (m.wireformat !== wireformats.mls_private_message && m.wireformat !== wireformats.mls_public_message) throw new Error("expected a framed message");
    return m;
  };
  return {
    name: "ts-mls 2.0",
    treeDeliveries: ["welcome"],
    concurrent: false,
    keyPackage: kpFor,
    async create() {
      const kp = await kpFor(0);
      return { state: await createGroup({ context, groupId: context.cipherSuite.rng.randomBytes(32), keyPackage: kp.publicPackage, privateKeyPackage: kp.privatePackage }) };
    },
    async add(g, kps, tree) {
      if (tree !== "welcome") throw new Error("ts-mls 2: the tree travels in the Welcome only");
      const extraProposals: Proposal[] = kps.map((k) => {
        const m = decodeMessage(k.message);
        if (m.wireformat !== wireformats.mls_key_package) throw new Error("expected a KeyPackage");
        return { proposalType: defaultProposalTypes.add, add: { keyPackage: m.keyPackage } };
      });
      const r = await createCommit({ context, state: g.state, extraProposals, ratchetTreeExtension: true });
      g.state = r.newState;
      if (r.welcome === undefined) throw new Error("no Welcome");
      return { welcome: encode(mlsMessageEncoder, r.welcome) };
    },
    async join(welcome, kp, ratchetTree) {
      if (ratchetTree !== undefined) throw new Error("ts-mls 2: the tree travels in the Welcome only");
      const m = decodeMessage(welcome);
      if (m.wireformat !== wireformats.mls_welcome) throw new Error("expected a Welcome");
      // joinGroup validates the whole tree (leaf signatures, parent hashes, tree hash).
      return { state: await joinGroup({ context, welcome: m.welcome, keyPackage: kp.publicPackage, privateKeys: kp.privatePackage }) };
    },
    async commit(g, remove) {
      const extraProposals = (remove ?? []).map((removed): Proposal => ({ proposalType: defaultProposalTypes.remove, remove: { removed } }));
      // An empty commit or one with removes carries a path.
      const r = await createCommit({ context, state: g.state, extraProposals, ratchetTreeExtension: false });
      g.state = r.newState;
      return encode(mlsMessageEncoder, r.commit);
    },
    async process(g, commit) {
      const r = await processMessage({ context, state: g.state, message: framed(commit) });
      if (r.kind !== "newState") throw new Error("expected a commit");
      g.state = r.newState;
    },
    async encrypt(g, data) {
      const r = await createApplicationMessage({ context, state: g.state, message: data });
      g.state = r.newState;
      return encode(mlsMessageEncoder, r.message);
    },
    async decrypt(g, message) {
      const r = await processMessage({ context, state: g.state, message: framed(message) });
      g.state = r.newState;
      if (r.kind !== "applicationMessage") throw new Error("expected application data");
      return r.message;
    },
    stateSize(g) {
      return encode(groupStateEncoder, g.state).length;
    },
  };
}
