/** The DS's validated public state of each group (issue 17): pure functions the delivery routes call. */
export type { HandshakeLimits } from "./limits.js";
export { loadPublicGroup, validateHandshake, validateHandshakeWith, type HandshakeContext, type RosterDelta, type ValidatedHandshake } from "./validateHandshake.js";
export { createPublicState } from "./createState.js";
export { groupInfoOf, treeView, treeViewOf, type TreeViewRequest } from "./treeView.js";
export { revocationProposal, type DsSigningKey } from "./revocation.js";
