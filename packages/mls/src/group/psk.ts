/**
 * Finding the PSKs a commit or Welcome names (RFC 9420 §8.4): external PSKs
 * through the application's lookup, resumption PSKs (§8.6) of this group from
 * the epochs it keeps.
 */
import { bytesEqual } from "../codec/bytes.js";
import { MlsError } from "../errors.js";
import { PskType, ResumptionPskUsage } from "../messages/enums.js";
import type { PreSharedKeyId } from "../messages/psk.js";
import type { PskEntry } from "../schedule/pskSecret.js";
import type { PskLookup } from "../welcome/welcome.js";
import type { GroupConfig } from "./groupConfig.js";
import type { ResumptionPsk } from "./groupState.js";

/**
 * A lookup for this group: external PSKs from the configuration, and
 * application-usage resumption PSKs of `groupId` from `resumption`.
 */
export function groupPskLookup(config: GroupConfig, groupId: Uint8Array, resumption: readonly ResumptionPsk[]): PskLookup {
  return (id: PreSharedKeyId) => {
    if (id.pskType === PskType.external) return config.externalPsks?.(id.pskId);
    if (id.usage !== ResumptionPskUsage.application || !bytesEqual(id.pskGroupId, groupId)) return undefined;
    return resumption.find((r) => r.epoch === id.pskEpoch)?.psk;
  };
}

/** The PSK of each id, in order; PROPOSAL_PSK_NOT_FOUND for one we do not hold (§12.4.2: "verify that all PreSharedKey proposals ... are available"). */
export function resolvePsks(lookup: PskLookup, ids: readonly PreSharedKeyId[]): PskEntry[] {
  return ids.map((id) => {
    const psk = lookup(id);
    if (psk === undefined) {
      throw new MlsError(
        "PROPOSAL_PSK_NOT_FOUND",
        id.pskType === PskType.external ? "an external PSK named by the commit is not available" : `resumption PSK of epoch ${id.pskEpoch} is not available`,
      );
    }
    return { id, psk };
  });
}
