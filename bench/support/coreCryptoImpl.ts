/**
 * @wireapp/core-crypto 10.3 (OpenMLS compiled to WebAssembly, its browser
 * build, loaded by coreCryptoLoader.ts) behind the benchmark interface.
 *
 * core-crypto is a client, not a library of pure functions: each member is
 * its own CoreCrypto instance over an in-memory database (Database.inMemory,
 * no IndexedDB), and every commit leaves through the MlsTransport, which here
 * just keeps the last CommitBundle so the adapter can hand its bytes back.
 * Every call runs in a transaction, as core-crypto requires. The tree always
 * travels in the Welcome (core-crypto offers nothing else for a new member).
 */
import type { CipherSuite as CcSuite, ClientId, CommitBundle, ConversationId, CredentialRef } from "@wireapp/core-crypto/browser";
import { loadCoreCrypto, type CoreCryptoModule } from "./coreCryptoLoader.js";
import type { MlsImpl } from "./mlsImpl.js";

type CoreCryptoInstance = Awaited<ReturnType<CoreCryptoModule["CoreCrypto"]["new"]>>;

export interface CcClient {
  readonly id: ClientId;
  readonly core: CoreCryptoInstance;
  readonly credential: CredentialRef;
  /** The last commit bundle this client's transport was given. */
  bundle: CommitBundle | undefined;
}
export interface CcKeyPackage {
  readonly client: CcClient;
  /** The KeyPackage as a DS would hand it out. */
  readonly bytes: Uint8Array;
  readonly leaf: number;
}
export interface CcMember {
  readonly client: CcClient;
  readonly conversation: ConversationId;
  /** Client ids by leaf index (members are added in leaf order), for removes. */
  readonly roster: Map<number, ClientId>;
}

const DOMAIN = "bench.example";

export async function coreCryptoImpl(suiteId: number): Promise<MlsImpl<CcMember, CcKeyPackage>> {
  const cc = await loadCoreCrypto();
  const suite = cc.cipherSuiteFromU16(suiteId) as CcSuite;
  const conversationId = new cc.ConversationId(new TextEncoder().encode("bench-conversation"));
  const roster = new Map<number, ClientId>();

  const newClient = async (i: number): Promise<CcClient> => {
    const uuid = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    const id = new cc.ClientId(new cc.Uuid(uuid), new cc.DeviceId(BigInt(i + 1)), DOMAIN);
    const core = cc.CoreCrypto.new(await cc.Database.inMemory());
    const holder: { bundle: CommitBundle | undefined } = { bundle: undefined };
    const transport = {
      sendCommitBundle: async (b: CommitBundle) => {
        holder.bundle = b;
      },
      prepareForTransport: async () => new Uint8Array(0),
    };
    await core.transaction((ctx) => ctx.mlsInit(id, transport));
    const credential = await core.transaction((ctx) => ctx.addCredential(cc.Credential.basic(suite, id)));
    return {
      id,
      core,
      credential,
      get bundle() {
        return holder.bundle;
      },
      set bundle(b) {
        holder.bundle = b;
      },
    };
  };
  const takeBundle = (c: CcClient): CommitBundle => {
    const b = c.bundle;
    if (b === undefined) throw new Error("core-crypto: no commit was sent");
    c.bundle = undefined;
    return b;
  };

  return {
    name: "core-crypto 10.3",
    treeDeliveries: ["welcome"],
    concurrent: false,
    async keyPackage(i) {
      const client = await newClient(i);
      roster.set(i, client.id);
      const kp = await client.core.transaction((ctx) => ctx.generateKeyPackage(client.credential));
      return { client, bytes: kp.serialize(), leaf: i };
    },
    async create() {
      const client = await newClient(0);
      await client.core.transaction((ctx) => ctx.createConversation(conversationId, client.credential));
      return { client, conversation: conversationId, roster };
    },
    async add(g, kps, tree) {
      if (tree !== "welcome") throw new Error("core-crypto: the tree travels in the Welcome only");
      await g.client.core.transaction((ctx) =>
        ctx.addClientsToConversation(
          g.conversation,
          kps.map((k) => new cc.KeyPackage(k.bytes)),
        ),
      );
      const welcome = takeBundle(g.client).welcome;
      if (welcome === undefined) throw new Error("core-crypto: no Welcome");
      return { welcome: welcome.serialize() };
    },
    async join(welcome, kp, ratchetTree) {
      if (ratchetTree !== undefined) throw new Error("core-crypto: the tree travels in the Welcome only");
      const conversation = await kp.client.core.transaction((ctx) => ctx.processWelcomeMessage(new cc.Welcome(welcome)));
      return { client: kp.client, conversation, roster };
    },
    async commit(g, remove) {
      await g.client.core.transaction((ctx) =>
        remove === undefined || remove.length === 0
          ? ctx.updateKeyingMaterial(g.conversation)
          : ctx.removeClientsFromConversation(
              g.conversation,
              remove.map((l) => g.roster.get(l)!),
            ),
      );
      return takeBundle(g.client).commit;
    },
    async process(g, commit) {
      const r = await g.client.core.transaction((ctx) => ctx.decryptMessage(g.conversation, commit));
      if (!cc.DecryptedMessage.Commit.instanceOf(r)) throw new Error(`core-crypto: expected a commit, got ${String(r.tag)}`);
    },
    encrypt(g, data) {
      return g.client.core.transaction((ctx) => ctx.encryptMessage(g.conversation, data));
    },
    async decrypt(g, message) {
      const r = await g.client.core.transaction((ctx) => ctx.decryptMessage(g.conversation, message));
      if (!cc.DecryptedMessage.Text.instanceOf(r)) throw new Error("core-crypto: expected application data");
      return r.inner.plaintext;
    },
  };
}
