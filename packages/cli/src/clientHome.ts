/**
 * The CLI's client state directory (--home): opening it, the server it talks
 * to, and keeping one bad record from taking every command down with it.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Client, FileStore, type ClientStore } from "@conclave/client";

/** A problem with the local state that the user must fix (exit 1, one line with this code). */
export class HomeError extends Error {
  constructor(
    readonly code: "STATE_SALT_MISSING" | "SERVER_URL_INVALID" | "AUTH_REQUIRED",
    message: string,
  ) {
    super(message);
  }
}

const GROUP_RECORD = "group:";

/**
 * The server URL as the client wants it: the origin (plus any path prefix)
 * without the API's `/v1`, which the server prints and users paste.
 */
export function normalizeServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HomeError("SERVER_URL_INVALID", `--server ${JSON.stringify(raw)} is not a URL (expected e.g. http://127.0.0.1:7300)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new HomeError("SERVER_URL_INVALID", `--server must be http:// or https://, not ${url.protocol}`);
  if (url.search !== "" || url.hash !== "") throw new HomeError("SERVER_URL_INVALID", "--server takes no query or fragment");
  const path = url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
  return `${url.origin}${path}`;
}

/**
 * The salt is what turns the passphrase into the key: without it no record
 * can be read again. FileStore would quietly make a new one, and every record
 * would then look like a wrong passphrase; here a missing salt beside
 * existing records is an error that says what is missing.
 */
export function checkSalt(home: string): void {
  if (!existsSync(home) || existsSync(join(home, "salt"))) return;
  if (hasRecords(home)) {
    throw new HomeError(
      "STATE_SALT_MISSING",
      `${join(home, "salt")} is missing, so the records in ${home} cannot be decrypted: restore that file from a backup (a new salt would not read them)`,
    );
  }
}

function hasRecords(home: string): boolean {
  return existsSync(home) && readdirSync(home).some((f) => f.endsWith(".rec"));
}

/**
 * Only setting a device up (register, devices link) may create the state
 * directory: any other command on a home with no state stops before writing
 * anything (a mistyped --home leaves no stray directory behind).
 */
export function checkRegistered(home: string): void {
  if (!hasRecords(home)) {
    throw new HomeError("AUTH_REQUIRED", `this device is not registered: no client state in ${home} (conclave register <user> <device> --server URL sets it up)`);
  }
}

/**
 * A store that isolates unreadable group records: the group is left out (as
 * if its state were lost) and `warn` says which file and how to rejoin, so
 * every other group and `conclave recover` still work. Any other record
 * (identity, keys, cursor) failing is still an error: without it the client
 * cannot work at all, and a wrong passphrase fails there first.
 */
export class IsolatingStore implements ClientStore {
  readonly unreadable: string[] = [];
  constructor(
    private readonly inner: ClientStore,
    private readonly home: string,
    private readonly warn: (line: string) => void,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await this.inner.get(key);
    } catch (e) {
      if (!key.startsWith(GROUP_RECORD) || (e as { code?: unknown }).code !== "STORE_UNREADABLE") throw e;
      const groupId = key.slice(GROUP_RECORD.length);
      const file = join(this.home, `${key.replace(/:/g, "~")}.rec`);
      this.unreadable.push(groupId);
      this.warn(`conclave: warning: STORE_UNREADABLE: ${file} cannot be read (${(e as Error).message}); group ${groupId} is skipped: run \`conclave recover ${groupId}\` to rejoin it`);
      return undefined;
    }
  }
  put(key: string, value: Uint8Array): Promise<void> {
    return this.inner.put(key, value);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  keys(prefix: string): Promise<string[]> {
    return this.inner.keys(prefix);
  }
}

export interface OpenClientOptions {
  readonly home: string;
  /** --server for this run. */
  readonly server?: string;
  /** Only the commands that set a device up (register, devices link) save --server for later runs. */
  readonly saveServer: boolean;
  readonly warn: (line: string) => void;
}

/** Opens the client in `home`: the server from --server or the one saved at setup. */
export async function openClient(opts: OpenClientOptions, passphrase: string): Promise<{ client: Client; store: ClientStore }> {
  checkSalt(opts.home);
  if (!opts.saveServer) checkRegistered(opts.home);
  const store = new IsolatingStore(new FileStore(opts.home, passphrase), opts.home, opts.warn);
  const given = opts.server === undefined ? undefined : normalizeServerUrl(opts.server);
  const saved = await store.get("server");
  const url = given ?? (saved === undefined ? undefined : normalizeServerUrl(new TextDecoder().decode(saved)));
  if (url === undefined) throw new NoServerError();
  if (given !== undefined && opts.saveServer) await store.put("server", new TextEncoder().encode(given));
  return { client: await Client.open({ serverUrl: url, store }), store };
}

/** Thrown when neither --server nor a saved server is known (main turns it into a usage error). */
export class NoServerError extends Error {
  constructor() {
    super("no server known: pass --server URL (register saves it for later commands)");
  }
}
