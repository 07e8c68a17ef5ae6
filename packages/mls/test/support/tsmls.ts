/**
 * A thin wrapper around ts-mls (an independent RFC 9420 implementation) for
 * the interoperability tests. Everything that crosses the boundary to our
 * library is MLSMessage bytes (or, where RFC 9420 §12.4.3.3 lets a joiner get
 * the tree out of band, the encoded ratchet_tree extension value): ts-mls
 * objects never leak into the test file.
 */
import {
  acceptAll,
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  decodeMlsMessage,
  defaultCapabilities,
  emptyPskIndex,
  encodeRequiredCapabilities,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  joinGroupExternal,
  makePskIndex,
  mlsExporter,
  processPrivateMessage,
  processPublicMessage,
  type CiphersuiteImpl,
  type ClientState,
  type KeyPackage,
  type PskIndex,
  type PrivateKeyPackage,
  type Proposal,
} from "ts-mls";
import { getCiphersuiteNameFromId, type CiphersuiteId } from "ts-mls/crypto/ciphersuite.js";
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js";

const impls = new Map<number, Promise<CiphersuiteImpl>>();

/** The ts-mls implementation of cipher suite `id` (cached: building one is not free). */
export function tsSuite(id: number): Promise<CiphersuiteImpl> {
  let p = impls.get(id);
  if (p === undefined) {
    p = getCiphersuiteImpl(getCiphersuiteFromName(getCiphersuiteNameFromId(id as CiphersuiteId)));
    impls.set(id, p);
  }
  return p;
}

/** A ts-mls KeyPackage with its private keys; `message` is the MLSMessage(KeyPackage) a DS would hand out. */
export interface TsKeyPackage {
  readonly message: Uint8Array;
  readonly publicPackage: KeyPackage;
  readonly privatePackage: PrivateKeyPackage;
}

/** Lifetime window (seconds since the epoch) of ts-mls KeyPackages; our receivers check it against their clock. */
export interface TsLifetime {
  readonly notBefore: bigint;
  readonly notAfter: bigint;
}

export async function tsKeyPackage(suiteId: number, name: string, lifetime: TsLifetime): Promise<TsKeyPackage> {
  const cs = await tsSuite(suiteId);
  const { publicPackage, privatePackage } = await generateKeyPackage(
    { credentialType: "basic", identity: new TextEncoder().encode(name) },
    defaultCapabilities(),
    { notBefore: lifetime.notBefore, notAfter: lifetime.notAfter },
    [],
    cs,
  );
  const message = encodeMlsMessage({ version: "mls10", wireformat: "mls_key_package", keyPackage: publicPackage });
  return { message, publicPackage, privatePackage };
}

/** What a ts-mls member made of an incoming handshake or application message. */
export type TsReceived = { readonly kind: "application"; readonly data: Uint8Array } | { readonly kind: "handshake" };

export interface TsCommitOptions {
  /** MLSMessage(KeyPackage) bytes to add. */
  readonly add?: readonly Uint8Array[];
  /** Leaf indices to remove. */
  readonly remove?: readonly number[];
  /** PreSharedKey proposals: an external PSK id, or a resumption PSK of this group's `epoch` (usage application). */
  readonly psks?: readonly ({ readonly external: Uint8Array } | { readonly resumptionEpoch: bigint })[];
  /** A GroupContextExtensions proposal setting required_capabilities to these credential types (nothing else required). */
  readonly requireCredentials?: readonly ("basic" | "x509")[];
  /** Send the commit as a PublicMessage instead of a PrivateMessage. */
  readonly publicMessage?: boolean;
  /** Put the ratchet tree in the Welcome's GroupInfo (ts-mls default: no). */
  readonly ratchetTreeExtension?: boolean;
}

export interface TsCommitResult {
  readonly commit: Uint8Array;
  readonly welcome?: Uint8Array;
  /** The new epoch's tree, ratchet_tree extension encoding, for joiners given it out of band. */
  readonly ratchetTree: Uint8Array;
}

function decodeMessage(bytes: Uint8Array) {
  const decoded = decodeMlsMessage(bytes, 0);
  if (decoded === undefined) throw new Error("ts-mls could not decode the MLSMessage");
  const [message, consumed] = decoded;
  if (consumed !== bytes.length) throw new Error(`ts-mls decoded ${consumed} of ${bytes.length} bytes`);
  return message;
}

function decodeKeyPackageMessage(bytes: Uint8Array): KeyPackage {
  const m = decodeMessage(bytes);
  if (m.wireformat !== "mls_key_package") throw new Error(`expected a KeyPackage, got ${m.wireformat}`);
  return m.keyPackage;
}

/** One ts-mls member; its state moves forward with every call (ts-mls commits apply at once). */
export class TsMember {
  /** External PSKs this member knows, by base64 of the psk_id (how ts-mls's makePskIndex looks them up). */
  private readonly externalPsks: Record<string, Uint8Array> = {};

  private constructor(
    private state: ClientState,
    private readonly cs: CiphersuiteImpl,
  ) {}

  addExternalPsk(pskId: Uint8Array, secret: Uint8Array): void {
    this.externalPsks[Buffer.from(pskId).toString("base64")] = secret;
  }

  private pskIndex(): PskIndex {
    return makePskIndex(this.state, this.externalPsks);
  }

  static async create(suiteId: number, name: string, lifetime: TsLifetime, groupId: Uint8Array): Promise<TsMember> {
    const cs = await tsSuite(suiteId);
    const kp = await tsKeyPackage(suiteId, name, lifetime);
    return new TsMember(await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], cs), cs);
  }

  /** Joins from MLSMessage(Welcome) bytes; `ratchetTree` when the GroupInfo does not carry it. */
  static async join(suiteId: number, welcome: Uint8Array, kp: TsKeyPackage, ratchetTree?: Uint8Array): Promise<TsMember> {
    const cs = await tsSuite(suiteId);
    const m = decodeMessage(welcome);
    if (m.wireformat !== "mls_welcome") throw new Error(`expected a Welcome, got ${m.wireformat}`);
    let tree;
    if (ratchetTree !== undefined) {
      const d = decodeRatchetTree(ratchetTree, 0);
      if (d === undefined || d[1] !== ratchetTree.length) throw new Error("ts-mls could not decode the ratchet tree");
      tree = d[0];
    }
    return new TsMember(await joinGroup(m.welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, cs, tree), cs);
  }

  /**
   * External join (RFC 9420 §12.4.3.2) from MLSMessage(GroupInfo) bytes that
   * carry external_pub and the ratchet tree. Returns the member and the
   * MLSMessage(PublicMessage) commit the group must process.
   */
  static async joinExternal(suiteId: number, groupInfo: Uint8Array, kp: TsKeyPackage): Promise<{ member: TsMember; commit: Uint8Array }> {
    const cs = await tsSuite(suiteId);
    const m = decodeMessage(groupInfo);
    if (m.wireformat !== "mls_group_info") throw new Error(`expected a GroupInfo, got ${m.wireformat}`);
    const { publicMessage, newState } = await joinGroupExternal(m.groupInfo, kp.publicPackage, kp.privatePackage, false, cs);
    const commit = encodeMlsMessage({ version: "mls10", wireformat: "mls_public_message", publicMessage });
    return { member: new TsMember(newState, cs), commit };
  }

  /** A second handle on the current state (ts-mls states are immutable and we never zero consumed keys), to try two continuations of one epoch. */
  fork(): TsMember {
    return new TsMember(this.state, this.cs);
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }

  get epochAuthenticator(): Uint8Array {
    return this.state.keySchedule.epochAuthenticator;
  }

  get ownLeafIndex(): number {
    return this.state.privatePath.leafIndex;
  }

  get isActive(): boolean {
    return this.state.groupActiveState.kind === "active";
  }

  /** Leaf indices of the occupied leaves. */
  get memberLeaves(): number[] {
    const out: number[] = [];
    this.state.ratchetTree.forEach((n, i) => {
      if (i % 2 === 0 && n !== undefined && n.nodeType === "leaf") out.push(i / 2);
    });
    return out;
  }

  ratchetTree(): Uint8Array {
    return encodeRatchetTree(this.state.ratchetTree);
  }

  /** RFC 9420 §8.5 MLS-Exporter. */
  exportSecret(label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
    return mlsExporter(this.state.keySchedule.exporterSecret, label, context, length, this.cs);
  }

  /** A signed MLSMessage(GroupInfo) with external_pub and ratchet_tree, for external joiners. */
  async groupInfo(): Promise<Uint8Array> {
    const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(this.state, [], this.cs);
    return encodeMlsMessage({ version: "mls10", wireformat: "mls_group_info", groupInfo });
  }

  async commit(opts: TsCommitOptions = {}): Promise<TsCommitResult> {
    const extraProposals: Proposal[] = [
      ...(opts.add ?? []).map((b): Proposal => ({ proposalType: "add", add: { keyPackage: decodeKeyPackageMessage(b) } })),
      ...(opts.remove ?? []).map((removed): Proposal => ({ proposalType: "remove", remove: { removed } })),
      ...(opts.requireCredentials === undefined
        ? []
        : [
            {
              proposalType: "group_context_extensions",
              groupContextExtensions: {
                extensions: [
                  {
                    extensionType: "required_capabilities",
                    extensionData: encodeRequiredCapabilities({ extensionTypes: [], proposalTypes: [], credentialTypes: [...opts.requireCredentials] }),
                  },
                ],
              },
            } satisfies Proposal,
          ]),
      ...(opts.psks ?? []).map((p): Proposal => {
        const pskNonce = crypto.getRandomValues(new Uint8Array(this.cs.kdf.size));
        return {
          proposalType: "psk",
          psk: {
            preSharedKeyId:
              "external" in p
                ? { psktype: "external", pskId: p.external, pskNonce }
                : { psktype: "resumption", usage: "application", pskGroupId: this.state.groupContext.groupId, pskEpoch: p.resumptionEpoch, pskNonce },
          },
        };
      }),
    ];
    const r = await createCommit(
      { state: this.state, cipherSuite: this.cs, pskIndex: this.pskIndex() },
      { extraProposals, wireAsPublicMessage: opts.publicMessage ?? false, ratchetTreeExtension: opts.ratchetTreeExtension ?? false },
    );
    this.state = r.newState;
    const commit = encodeMlsMessage(r.commit);
    const welcome = r.welcome === undefined ? undefined : encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.welcome });
    return { commit, ...(welcome === undefined ? {} : { welcome }), ratchetTree: this.ratchetTree() };
  }

  /** A standalone Add (MLSMessage(KeyPackage) bytes) or Remove (leaf index) proposal. */
  async propose(p: { readonly add: Uint8Array } | { readonly remove: number }, publicMessage = false): Promise<Uint8Array> {
    const proposal: Proposal = "add" in p ? { proposalType: "add", add: { keyPackage: decodeKeyPackageMessage(p.add) } } : { proposalType: "remove", remove: { removed: p.remove } };
    const r = await createProposal(this.state, publicMessage, proposal, this.cs);
    this.state = r.newState;
    return encodeMlsMessage(r.message);
  }

  /** The raw extension_data of the GroupInfo extensions ts-mls puts in an external-join GroupInfo, by type. */
  async externalGroupInfoExtensions(): Promise<Map<string | number, Uint8Array>> {
    const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(this.state, [], this.cs);
    return new Map(groupInfo.extensions.map((e) => [e.extensionType, e.extensionData]));
  }

  async send(data: Uint8Array, authenticatedData?: Uint8Array): Promise<Uint8Array> {
    const r = await createApplicationMessage(this.state, data, this.cs, authenticatedData);
    this.state = r.newState;
    return encodeMlsMessage({ version: "mls10", wireformat: "mls_private_message", privateMessage: r.privateMessage });
  }

  /** Processes a PublicMessage or PrivateMessage; commits are accepted (and applied) at once. */
  async receive(bytes: Uint8Array): Promise<TsReceived> {
    const m = decodeMessage(bytes);
    if (m.wireformat !== "mls_private_message" && m.wireformat !== "mls_public_message") throw new Error(`expected a framed message, got ${m.wireformat}`);
    // Not ts-mls's processMessage: in 1.6.4 it hands PrivateMessages an empty PSK index, so PSK commits would fail.
    if (m.wireformat === "mls_public_message") {
      const r = await processPublicMessage(this.state, m.publicMessage, this.pskIndex(), this.cs, acceptAll);
      this.state = r.newState;
      if (r.actionTaken !== "accept") throw new Error("ts-mls rejected the message");
      return { kind: "handshake" };
    }
    const r = await processPrivateMessage(this.state, m.privateMessage, this.pskIndex(), this.cs, acceptAll);
    this.state = r.newState;
    if (r.kind === "applicationMessage") return { kind: "application", data: r.message };
    if (r.actionTaken !== "accept") throw new Error("ts-mls rejected the message");
    return { kind: "handshake" };
  }
}
