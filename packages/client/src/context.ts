/** What the parts of a Client share: its store, crypto, AS session and groups. */
import type { CryptoProvider } from "@conclave/mls";
import type { GroupBook } from "./groupBook.js";
import type { Session } from "./session.js";
import type { ClientStore } from "./store.js";

export interface ClientContext {
  readonly store: ClientStore;
  readonly provider: CryptoProvider;
  readonly session: Session;
  readonly groups: GroupBook;
}
