/**
 * The follower side of hub fan-out (issue 22): `POST /federation/v1/deliver`
 * puts the entries a hub sends for one of this domain's users into that
 * user's queue, each entry once (federation_inbox records its key in the same
 * transaction), and remembers the hub of each group it hears of, so the
 * user's later requests for that group are forwarded there (groupRouter.ts).
 * A domain may deliver only for groups it is the hub of: not for a group this
 * server holds, nor one another domain is known to hold.
 */
import { ApiError, fromBase64Url, parseClientIdentity } from "@conclave/api";
import type { NewQueueEntry } from "../storage/dsStore.js";
import type { Store } from "../storage/store.js";
import { clientTopic, type Notifier } from "../ds/notifier.js";
import type { DeliveredEntry, DeliveryBatch } from "./hubPush.js";
import type { FederationService } from "./service.js";

const KINDS = new Set(["handshake", "application", "welcome"]);
const MAX_ENTRIES = 500;

function checkBatch(body: unknown): DeliveryBatch {
  const b = body as Partial<DeliveryBatch> | undefined;
  if (typeof b?.recipient !== "string" || !Array.isArray(b.entries) || b.entries.length > MAX_ENTRIES) throw new ApiError("BAD_REQUEST", "malformed delivery");
  for (const raw of b.entries as unknown[]) {
    const e = (typeof raw === "object" && raw !== null ? raw : {}) as Partial<Record<keyof DeliveredEntry, unknown>>;
    const ok =
      typeof e.key === "string" &&
      /^[0-9a-f]{64}$/.test(e.key) &&
      typeof e.kind === "string" &&
      KINDS.has(e.kind) &&
      typeof e.groupId === "string" &&
      typeof e.message === "string" &&
      Number.isSafeInteger(e.epoch) &&
      (e.epoch as number) >= 0 &&
      Number.isSafeInteger(e.createdAt);
    if (!ok) throw new ApiError("BAD_REQUEST", "malformed delivery entry");
  }
  return b as DeliveryBatch;
}

export async function acceptDelivery(fed: FederationService, store: Store, notifier: Notifier, origin: string, body: unknown): Promise<{ applied: number }> {
  const batch = checkBatch(body);
  let id;
  try {
    id = parseClientIdentity(batch.recipient);
  } catch {
    throw new ApiError("BAD_REQUEST", "malformed recipient");
  }
  if (id.domain !== fed.domain) throw new ApiError("FEDERATION_WRONG_DOMAIN", "a recipient of another domain");
  const client = (await store.clients.listByUser(id.user)).find((c) => c.device === id.device);
  // A device gone here: accept (the hub must not retry forever), deliver nothing.
  if (client === undefined || client.revokedAt !== null) {
    await fed.store.event(fed.clock(), origin, "delivery-dropped", `no device ${batch.recipient}`);
    return { applied: 0 };
  }
  const groups = new Map<string, Uint8Array>();
  for (const e of batch.entries) {
    const g = fromBase64Url(e.groupId, "groupId");
    if (g.length === 0 || g.length > 255) throw new ApiError("BAD_REQUEST", "groupId must be 1..255 bytes");
    groups.set(e.groupId, g);
  }
  for (const g of groups.values()) {
    if ((await store.groups.get(g)) !== undefined) throw new ApiError("FEDERATION_NOT_PARTICIPANT", "this server is the hub of that group");
    const hub = await fed.store.hubOf(g);
    if (hub !== undefined && hub !== origin) throw new ApiError("FEDERATION_NOT_PARTICIPANT", `${origin} is not the hub of that group`);
  }
  const now = fed.clock();
  const applied = await store.transaction(async (tx) => {
    let n = 0;
    for (const g of groups.values()) await fed.store.setHub(tx, g, origin, now);
    const fresh: NewQueueEntry[] = [];
    for (const e of batch.entries) {
      if (!(await fed.store.markReceived(tx, origin, e.key, now))) continue;
      fresh.push({ clientId: client.id, kind: e.kind, groupId: groups.get(e.groupId)!, epoch: e.epoch, message: fromBase64Url(e.message, "message"), createdAt: now });
      n++;
    }
    await tx.queues.enqueue(fresh);
    return n;
  });
  if (applied > 0) await notifier.publish([clientTopic(client.id)]).catch(() => undefined);
  return { applied };
}
