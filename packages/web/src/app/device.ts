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

export interface Registration {
  readonly user: string;
  readonly device: string;
  readonly passphrase: string;
  /** Given: this browser becomes a further device of an existing account. */
  readonly accountSecret?: string;
}

export class Device {
  private constructor(
    readonly client: Client,
    readonly history: History,
    private readonly stores: readonly IndexedDbStore[],
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

  /** Registers a new account, or a further device of one; returns the account secret to show once. */
  static async register(r: Registration): Promise<{ device: Device; accountSecret: string }> {
    await Device.forget(); // a new identity starts from empty stores
    const device = await Device.#open(r.passphrase);
    try {
      const { accountSecret } = await device.client.register(r.user, r.device, r.accountSecret === undefined ? {} : { accountSecret: r.accountSecret });
      localStorage.setItem(PROFILE_KEY, JSON.stringify({ user: device.client.user, device: r.device } satisfies Profile));
      return { device, accountSecret };
    } catch (e) {
      // Nothing half-registered stays behind: the person can simply try again.
      device.lock();
      await Device.forget();
      throw e;
    }
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
    localStorage.removeItem(PROFILE_KEY);
    await IndexedDbStore.destroy(CLIENT_STORE);
    await IndexedDbStore.destroy(HISTORY_STORE);
  }

  static async #open(passphrase: string): Promise<Device> {
    const [clientStore, historyStore] = await Promise.all([IndexedDbStore.open(CLIENT_STORE, passphrase), IndexedDbStore.open(HISTORY_STORE, passphrase)]);
    const client = await Client.open({ serverUrl: location.origin, store: clientStore });
    return new Device(client, new History(historyStore), [clientStore, historyStore]);
  }

  lock(): void {
    for (const s of this.stores) s.close();
  }
}
