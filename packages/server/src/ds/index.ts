/**
 * The Delivery Service (RFC 9750 §5) plugged into the Conclave fastify app:
 * KeyPackage directory, groups, queues, the /v1/stream WebSocket and the
 * cross-process notifier.
 */
import type { FastifyInstance } from "fastify";
import type { ConclaveContext } from "../http/context.js";
import { GroupDelivery } from "./groupDelivery.js";
import { KeyPackageDirectory, type ClaimLimits } from "./keyPackageDirectory.js";
import { clientTopic, LocalNotifier, PostgresNotifier, type Notifier, type PostgresNotifierOptions } from "./notifier.js";
import type { HandshakeLimits } from "./publicState/index.js";
import { StateSeal } from "./publicState/stateSeal.js";
import { DsExternalSenders } from "./externalSender.js";
import { QueueDelivery } from "./queueDelivery.js";
import { deliveryServiceRoutes, type DsServices } from "./routes.js";
import { DEFAULT_RETENTION, RetentionJob, type RetentionOptions } from "./retention.js";
import { RevocationSweep, revocationSweepPeriod } from "./revocationSweep.js";
import { installStream } from "./stream.js";
import type { StoreConfig } from "../storage/index.js";

/** createConclaveServer's `ds` option: the Delivery Service's epochs, push, retention and limits. */
export interface DeliveryServiceOptions {
  /** Application messages are accepted for the current epoch and this many past ones (default 2). */
  readonly pastEpochs?: number;
  /**
   * Cross-process push: LISTEN/NOTIFY on this PostgreSQL. Default: on, on the
   * server's own database, whenever the server opens a PostgreSQL store itself;
   * false: this process only.
   */
  readonly postgresNotify?: PostgresNotifierOptions | false;
  /** Or a notifier of your own. */
  readonly notifier?: Notifier;
  /** Retention of group logs and direct queues (defaults in retention.ts); false: keep everything. */
  readonly retention?: Partial<RetentionOptions> | false;
  /** Ordinary KeyPackages claimable per claimer and per target device before the last-resort one is served (keyPackageDirectory.ts). */
  readonly keyPackageClaims?: ClaimLimits;
  /** Size limits of handshake messages and pending proposals per group (publicState/limits.ts). */
  readonly handshakeLimits?: Partial<HandshakeLimits>;
  /**
   * How often the revocation sweep (revocationSweep.ts) re-proposes the removal of revoked
   * devices still in groups, in ms (default 5 minutes; it also runs at start-up); false: never.
   * A RangeError at start-up for anything but a whole number in 1..86400000 or false.
   */
  readonly revocationSweepMs?: number | false;
  /** Seals the stored public group state at rest (the server's KEK; set by createConclaveServer). */
  readonly keyEncryptionKey?: Uint8Array;
}

/** Processes on one database and schema share one channel. */
function defaultNotify(store: StoreConfig | undefined): PostgresNotifierOptions | undefined {
  if (store?.engine !== "postgres") return undefined;
  return { connectionString: store.connectionString, channel: `conclave_ds_${(store.schema ?? "public").toLowerCase()}`.slice(0, 63) };
}

async function notifierFor(options: DeliveryServiceOptions, store: StoreConfig | undefined): Promise<Notifier> {
  if (options.notifier !== undefined) return options.notifier;
  const notify = options.postgresNotify === false ? undefined : (options.postgresNotify ?? defaultNotify(store));
  return notify !== undefined ? PostgresNotifier.connect(notify) : new LocalNotifier();
}

/** `storeConfig`: the store the server opened itself, if it did (its PostgreSQL carries the push between processes). */
export async function installDeliveryService(app: FastifyInstance, ctx: ConclaveContext, options: DeliveryServiceOptions = {}, storeConfig?: StoreConfig): Promise<DsServices> {
  const sweepMs = revocationSweepPeriod(options.revocationSweepMs);
  const notifier = await notifierFor(options, storeConfig);
  const queues = new QueueDelivery(ctx.store);
  const senders = new DsExternalSenders({
    store: ctx.store,
    crypto: ctx.crypto,
    clock: ctx.clock,
    domain: ctx.domain,
    ...(options.keyEncryptionKey === undefined ? {} : { keyEncryptionKey: options.keyEncryptionKey }),
  });
  const ds: DsServices = {
    keyPackages: new KeyPackageDirectory(ctx.store, ctx.crypto, ctx.clock, ctx.domain, options.keyPackageClaims),
    groups: new GroupDelivery({
      store: ctx.store,
      clock: ctx.clock,
      domain: ctx.domain,
      notifier,
      pastEpochs: options.pastEpochs ?? 2,
      provider: ctx.crypto,
      seal: new StateSeal(options.keyEncryptionKey),
      senders,
      ...(options.handshakeLimits === undefined ? {} : { limits: options.handshakeLimits }),
    }),
    queues,
  };
  deliveryServiceRoutes(ctx, ds);
  installStream({
    app,
    authenticate: (h) => ctx.as.auth.authenticate(h),
    queues,
    store: ctx.store,
    notifier,
    ...ctx.limiters,
    maxStreamsPerClient: ctx.limits.maxStreamsPerClient,
    ipOf: ctx.ipOf,
    devices: (client) => ctx.as.deviceFeed.watch(client),
  });
  // Device changes wake the streams of the account's clients (issue 23).
  const stopDevicePush = ctx.as.deviceFeed.subscribe((n) => notifier.publish(n.accountClients.map(clientTopic)));
  // Revocation reaches groups (issue 17 item 3): the DS proposes the revoked client's removal in each of them.
  const stopRevocation = ctx.as.deviceFeed.subscribe(async (n) => {
    if (n.kind !== "revoked") return;
    try {
      await ds.groups.revokeClient(n.client);
    } catch (err) {
      app.log.error({ err, client: n.client.id }, "proposing a revoked client's removal failed");
    }
  });
  app.addHook("preClose", async () => {
    stopDevicePush();
    stopRevocation();
  });
  if (sweepMs !== false) {
    const sweep = new RevocationSweep(ctx.store, ds.groups, sweepMs, (err) => app.log.error({ err }, "revocation sweep failed"));
    // First pass once the server is ready (a revocation whose fan-out a crash cut short), then periodically.
    app.addHook("onReady", async () => sweep.start());
    app.addHook("preClose", async () => sweep.stop());
  }
  if (options.notifier === undefined) app.addHook("onClose", async () => notifier.close());
  if (options.retention !== false) {
    const job = new RetentionJob(ctx.store, ctx.clock, { ...DEFAULT_RETENTION, ...options.retention }, (err) => app.log.error({ err }, "retention pass failed"));
    job.start();
    // Stopped before the store closes: preClose hooks run before any onClose hook.
    app.addHook("preClose", async () => job.stop());
  }
  return ds;
}
