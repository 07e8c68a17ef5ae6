/**
 * The credential types of a tree's members (RFC 9420 §7.3): which are in use,
 * and which every member's capabilities list. Every commit checks new and
 * changed leaves against both, so they are kept as counts updated per leaf
 * change instead of walking all members once per epoch.
 */
import type { LeafNode } from "../messages/leafNode.js";

export interface CredentialTypes {
  /** Credential types some member uses. */
  readonly inUse: ReadonlySet<number>;
  /** Credential types every member supports (empty when there is no member). */
  readonly supportedByAll: ReadonlySet<number>;
}

function bump(m: Map<number, number>, k: number, by: number): void {
  const v = (m.get(k) ?? 0) + by;
  if (v === 0) m.delete(k);
  else m.set(k, v);
}

export class CredentialTally {
  #members = 0;
  /** Credential type -> members using it. */
  readonly #using = new Map<number, number>();
  /** Credential type -> members whose capabilities list it (each member once). */
  readonly #supporting = new Map<number, number>();
  #summary: CredentialTypes | undefined;

  static of(leaves: Iterable<LeafNode>): CredentialTally {
    const t = new CredentialTally();
    for (const l of leaves) t.add(l);
    return t;
  }

  copy(): CredentialTally {
    const t = new CredentialTally();
    t.#members = this.#members;
    for (const [k, v] of this.#using) t.#using.set(k, v);
    for (const [k, v] of this.#supporting) t.#supporting.set(k, v);
    t.#summary = this.#summary;
    return t;
  }

  add(leaf: LeafNode): void {
    this.#change(leaf, 1);
  }

  remove(leaf: LeafNode): void {
    this.#change(leaf, -1);
  }

  #change(leaf: LeafNode, by: 1 | -1): void {
    this.#members += by;
    bump(this.#using, leaf.credential.credentialType, by);
    for (const c of new Set(leaf.capabilities.credentials)) bump(this.#supporting, c, by);
    this.#summary = undefined;
  }

  get types(): CredentialTypes {
    if (this.#summary === undefined) {
      const supportedByAll = new Set<number>();
      if (this.#members > 0) for (const [k, v] of this.#supporting) if (v === this.#members) supportedByAll.add(k);
      this.#summary = { inUse: new Set(this.#using.keys()), supportedByAll };
    }
    return this.#summary;
  }
}
