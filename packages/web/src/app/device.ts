/**
 * This browser's device: one Conclave client (the SDK on its encrypted
 * IndexedDB store) plus the app's conversation history, both sealed under
 * the passphrase the person chose. localStorage keeps only who the device is
 * (user and device name), never a secret, so a reload asks for the
 * passphrase and finds every group again.
 */
import { Client, IndexedDbStore } from "@conclave/client";
import { History } from "./history.js";

const PROFILE_KEY = "emojisonly.profile";
const CLIENT_STORE = "device";
const HISTORY_STORE = "history";

export interface Profile {
  readonly user: string;
  readonly device: string;
}

/** How this browser becomes a device on its own: a new account, or rejoining one with its recovery code (a link to an existing device is Device.link). */
export type Enrolment =
  | { readonly kind: "new"; readonly user: string; readonly device: string; readonly passphrase: string; readonly invite?: string }
  | { readonly kind: "recover"; readonly user: string; readonly device: string; readonly passphrase: string; readonly recoveryCode: string };

/** A link request waiting for another device of the account to approve it. */
export interface PendingLink {
  /** What the approving device takes (pasted, or scanned as a QR code). */
  readonly payload: string;
  /** Shown on both devices: the person checks they are equal. */
  readonly code: string;
  /** Resolves with the registered device once approved (polls the AS); rejects on a failure other than "not approved yet". */
  readonly done: Promise<Device>;
  cancel(): void;
}

const LINK_POLL_MS = 1500;

export class Device {
  private constructor(
    readonly client: Client,
    readonly history: History,
    private readonly stores: readonly IndexedDbStore[],
    private readonly release: () => void,
  ) {}

  static profile(): Profile | undefined {
    const raw = localStorage.getItem(PROFILE_KEY);
    if (raw === null) return undefined;
    try {
      const p = JSON.parse(raw) as Partial<Profile>;
      return typeof p.user === "string" && typeof p.device === "string" ? { user: p.user, device: p.device } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Registers a new account (the user name claimed with an invite token, or
   * none on an open server) or rejoins one with its recovery code. Returns the
   * account's recovery code, to show once.
   */
  static async enrol(e: Enrolment): Promise<{ device: Device; recoveryCode: string }> {
    return Device.#fresh(e.passphrase, async (device) => {
      const opts =
        e.kind === "recover"
          ? { recoveryCode: e.recoveryCode }
          : { proof: e.invite === undefined || e.invite === "" ? ({ kind: "none" } as const) : ({ kind: "invite", token: e.invite } as const) };
      const { recoveryCode } = await device.client.register(e.user, e.device, opts);
      device.#remember(e.device);
      return { device, recoveryCode };
    });
  }

  /** Starts linking this browser to an existing account: another device approves the payload. */
  static async link(user: string, deviceName: string, passphrase: string): Promise<PendingLink> {
    return Device.#fresh(passphrase, async (device) => {
      const { payload, code } = await device.client.requestLink(user, deviceName);
      let cancelled = false;
      const done = (async () => {
        for (;;) {
          if (cancelled) throw new Error("link cancelled");
          try {
            await device.client.completeLink();
            device.#remember(deviceName);
            return device;
          } catch (e) {
            if ((e as { code?: unknown }).code !== "DEVICE_NOT_APPROVED") throw e;
          }
          await new Promise((r) => setTimeout(r, LINK_POLL_MS));
        }
      })();
      // A link that fails or is cancelled leaves nothing behind either.
      done.catch(() => device.#discard());
      return {
        payload,
        code,
        done,
        cancel: () => {
          cancelled = true;
        },
      };
    });
  }

  /** Opens empty stores and runs `fn`; if it fails, nothing half-registered stays behind. */
  static async #fresh<T>(passphrase: string, fn: (d: Device) => Promise<T>): Promise<T> {
    const release = await holdDeviceLock();
    await forgetStores(); // a new identity starts from empty stores
    const device = await Device.#open(passphrase, release);
    try {
      return await fn(device);
    } catch (e) {
      await device.#discard();
      throw e;
    }
  }

  #remember(deviceName: string): void {
    localStorage.setItem(PROFILE_KEY, JSON.stringify({ user: this.client.user, device: deviceName } satisfies Profile));
  }

  /** Opens the stores of the registered device; a wrong passphrase throws STORE_UNREADABLE. */
  static async unlock(passphrase: string): Promise<Device> {
    const device = await Device.#open(passphrase);
    if (!device.client.registered) {
      device.lock();
      throw new Error("this browser holds no registered device");
    }
    return device;
  }

  /** Deletes this browser's device: its keys, groups and history. */
  static async forget(): Promise<void> {
    const release = await holdDeviceLock();
    try {
      await forgetStores();
    } finally {
      release();
    }
  }

  /** Opens the device's stores and its Client, holding the tab lock (taken here unless given). */
  static async #open(passphrase: string, held?: () => void): Promise<Device> {
    const release = held ?? (await holdDeviceLock());
    try {
      const [clientStore, historyStore] = await Promise.all([IndexedDbStore.open(CLIENT_STORE, passphrase), IndexedDbStore.open(HISTORY_STORE, passphrase)]);
      const client = await Client.open({ serverUrl: location.origin, store: clientStore });
      return new Device(client, new History(historyStore), [clientStore, historyStore], release);
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Closes this device and deletes its stores, still holding the tab lock (a release is not seen at once by the next request). */
  async #discard(): Promise<void> {
    for (const s of this.stores) s.close();
    try {
      await forgetStores();
    } finally {
      this.release();
    }
  }

  /** Closes the stores and lets another tab open the device. */
  lock(): void {
    for (const s of this.stores) s.close();
    this.release();
  }
}

async function forgetStores(): Promise<void> {
  localStorage.removeItem(PROFILE_KEY);
  await IndexedDbStore.destroy(CLIENT_STORE);
  await IndexedDbStore.destroy(HISTORY_STORE);
}

/** Thrown when another tab of this browser has the device open. */
export class DeviceBusyError extends Error {
  readonly code = "DEVICE_OPEN_ELSEWHERE";
}

/**
 * One tab at a time per device (Web Locks API): two Clients on one store
 * would both consume the DS queue and advance the same ratchets, so the
 * second tab is refused instead of corrupting the first one's state.
 */
function holdDeviceLock(): Promise<() => void> {
  return new Promise((resolve, reject) => {
    navigator.locks
      .request("emojisonly-device", { ifAvailable: true }, (lock) => {
        if (lock === null) {
          reject(new DeviceBusyError("EmojisOnly is already open in another tab of this browser: use that tab, or close it first"));
          return;
        }
        // Held until the returned promise settles, i.e. until release() is called.
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}
