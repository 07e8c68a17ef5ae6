/** The DS's validated public state of each group (issue 17): pure functions the delivery routes call. */
export { DEFAULT_HANDSHAKE_LIMITS, resolveLimits, type HandshakeLimits } from "./limits.js";
export {
  loadPublicGroup,
  rosterDeltaOf,
  validateHandshake,
  validateHandshakeWith,
  type HandshakeContext,
  type RosterDelta,
  type RosterLeaf,
  type ValidatedHandshake,
} from "./validateHandshake.js";
export { createPublicState, type CreateStateContext } from "./createState.js";
export { groupInfoOf, treeView, treeViewOf, type TreeView, type TreeViewRequest } from "./treeView.js";
export { revocationProposal, type DsSigningKey, type RevocationProposal } from "./revocation.js";
