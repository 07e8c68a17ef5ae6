/**
 * The Delivery Service (RFC 9750 §5) plugged into the Conclave fastify app:
 * KeyPackage directory, groups, queues, the /v1/stream WebSocket and the
 * cross-process notifier.
 */
import type { FastifyInstance } from "fastify";
import type { ConclaveContext } from "../http/context.js";
import { GroupDelivery } from "./groupDelivery.js";
import { KeyPackageDirectory } from "./keyPackageDirectory.js";
import { LocalNotifier, PostgresNotifier, type Notifier, type PostgresNotifierOptions } from "./notifier.js";
import { QueueDelivery } from "./queueDelivery.js";
import { deliveryServiceRoutes, type DsServices } from "./routes.js";
import { installStream } from "./stream.js";

export interface DeliveryServiceOptions {
  /** Application messages are accepted for the current epoch and this many past ones (default 2). */
  readonly pastEpochs?: number;
  /** Cross-process fan-out: LISTEN/NOTIFY on this PostgreSQL (default: this process only). */
  readonly postgresNotify?: PostgresNotifierOptions;
  /** Or a notifier of your own. */
  readonly notifier?: Notifier;
}

export async function installDeliveryService(app: FastifyInstance, ctx: ConclaveContext, options: DeliveryServiceOptions = {}): Promise<DsServices> {
  const notifier = options.notifier ?? (options.postgresNotify !== undefined ? await PostgresNotifier.connect(options.postgresNotify) : new LocalNotifier());
  const queues = new QueueDelivery(ctx.store);
  const ds: DsServices = {
    keyPackages: new KeyPackageDirectory(ctx.store, ctx.crypto, ctx.clock, ctx.domain),
    groups: new GroupDelivery({ store: ctx.store, clock: ctx.clock, domain: ctx.domain, notifier, pastEpochs: options.pastEpochs ?? 2 }),
    queues,
  };
  deliveryServiceRoutes(ctx, ds);
  installStream({
    app,
    authenticate: (h) => ctx.as.auth.authenticate(h),
    queues,
    notifier,
    ...ctx.limiters,
    maxStreamsPerClient: ctx.limits.maxStreamsPerClient,
    ipOf: ctx.ipOf,
  });
  if (options.notifier === undefined) app.addHook("onClose", async () => notifier.close());
  return ds;
}

export { LocalNotifier, PostgresNotifier, type Notifier } from "./notifier.js";
export type { DsServices } from "./routes.js";
