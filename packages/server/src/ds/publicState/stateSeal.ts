/**
 * The DS's stored public group state at rest (issue 17 item 4): the tree
 * holds every member's keys and credentials, so with a key-encryption key it
 * is sealed like the AS private keys (as/keyWrap.ts: AES-256-GCM), under a
 * key derived from the KEK for this purpose only, with the group id bound as
 * associated data so one group's state cannot be swapped into another's row.
 * Without a KEK it is stored as is (the server warns at start-up).
 */
import { hkdfSync } from "node:crypto";
import { ApiError } from "@conclave/api";
import { toHex } from "@conclave/mls";
import { openPrivateKey, sealPrivateKey } from "../../as/keyWrap.js";

const PURPOSE = "public-group-state";

export class StateSeal {
  readonly #key: Uint8Array | undefined;

  constructor(keyEncryptionKey?: Uint8Array) {
    this.#key = keyEncryptionKey === undefined ? undefined : new Uint8Array(hkdfSync("sha256", keyEncryptionKey, new Uint8Array(0), "conclave ds public group state v1", 32));
  }

  get sealed(): boolean {
    return this.#key !== undefined;
  }

  seal(groupId: Uint8Array, state: Uint8Array): Uint8Array {
    return this.#key === undefined ? state : sealPrivateKey(this.#key, PURPOSE, toHex(groupId), state);
  }

  /** INTERNAL when the row does not open (wrong KEK or tampering): the DS's own data is broken, not the request. */
  open(groupId: Uint8Array, stored: Uint8Array): Uint8Array {
    try {
      return openPrivateKey(this.#key, PURPOSE, toHex(groupId), stored);
    } catch (e) {
      throw new ApiError("INTERNAL", "the stored group state does not open", { cause: e });
    }
  }
}
