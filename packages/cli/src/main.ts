/**
 * The `conclave` command. Arguments are parsed with node:util parseArgs.
 *
 *   conclave serve [--db FILE] [--host H] [--port P] [--domain D] [--key-file F] [--no-rate-limit] [--log-level L]
 *                  [--open-registration] [--admin-token T]
 *   conclave demo [--server URL] [--federated]
 *   conclave register <user> <device> --server URL [--invite=T | --recovery-code=C]
 *   conclave devices link <user> <device> --server URL | approve <payload> | complete | revoke <device> | changes
 *   conclave group create | list
 *   conclave group add <groupId> <user>
 *   conclave group remove <groupId> <user|identity>
 *   conclave devices add          (bring this user's other devices into all groups)
 *   conclave update <groupId>
 *   conclave leave <groupId>      (SelfRemove: another member's client commits it)
 *   conclave recover <groupId>    (rejoin by external commit after losing local state)
 *   conclave send <groupId> <message> | send <groupId> --file F | send <groupId> -   (stdin)
 *   conclave listen [--once]
 *   conclave safety <groupId>
 *
 * Client commands keep their state in --home (default $CONCLAVE_HOME or
 * ./.conclave-client), encrypted with $CONCLAVE_PASSPHRASE.
 *
 * stdout carries results only (group ids, "sent", events), for scripts; long
 * steps show progress on stderr (--quiet: none). Errors are one stderr line,
 * "conclave: CODE: message": exit 2 for bad usage, 1 for everything else.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { isApiError } from "@conclave/api";
import type { Client } from "@conclave/client";
import { readBody } from "./messageBody.js";
import { Progress, type ProgressSink } from "./progress.js";
import { UsageError } from "./usage.js";

export { UsageError };

const USAGE = `usage: conclave <command> [options]

commands:
  serve [--db FILE] [--host H] [--port P] [--domain D] [--key-file F] [--no-rate-limit] [--log-level L]
                                  run the DS+AS on SQLite (--no-rate-limit: for local tests,
                                  where every client shares 127.0.0.1; --log-level: warn by
                                  default, info logs every request, secrets redacted)
        [--open-registration] [--admin-token T]
                                  user names: against invites made with the admin token
                                  (POST /v1/admin/invites; also CONCLAVE_ADMIN_TOKEN), or to
                                  whoever asks first with --open-registration (local use)
  demo [--server URL]                                     RFC 9750 §3 walk-through
  demo --federated                two domains on this machine: a group across them (hub, follower)
  register <user> <device> --server URL [--invite=T | --recovery-code=C]
                                  a new account (prints its recovery code once), or a device
                                  of an account whose devices are all lost
  devices link <user> <device> --server URL   on a new device: show the link request and code
  devices approve <payload>       on an existing device: approve it (compare the codes)
  devices complete                on the new device, once approved: register it
  devices revoke <device>         revoke another device of my account
  devices changes                 devices added to or revoked from my account since last time
  group create | group list
  group add <groupId> <user>
  group remove <groupId> <user|identity>
  devices add                     add my other devices to all my groups
  update <groupId>
  leave <groupId>                 propose my removal; another member commits it
  recover <groupId>               rejoin a group whose local state was lost
  send <groupId> <message>        or --file F, or - to read the message from stdin
  listen [--once]
  safety <groupId>

client options: --home DIR (or CONCLAVE_HOME), passphrase in CONCLAVE_PASSPHRASE,
  --server URL (with or without /v1; saved by register and devices link, used once elsewhere)
other: --version, --help
output: results on stdout; progress on stderr (--quiet to hide); errors exit non-zero`;

const OPTIONS = {
  db: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  domain: { type: "string" },
  server: { type: "string" },
  home: { type: "string" },
  invite: { type: "string" },
  "recovery-code": { type: "string" },
  "open-registration": { type: "boolean" },
  "admin-token": { type: "string" },
  once: { type: "boolean" },
  federated: { type: "boolean" },
  "no-rate-limit": { type: "boolean" },
  "key-file": { type: "string" },
  "log-level": { type: "string" },
  file: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

type Out = { log(s: string): void; err(s: string): void; progress?: ProgressSink };
const stdio: Out = {
  log: (s) => console.log(s),
  err: (s) => console.error(s),
  progress: { write: (s) => void process.stderr.write(s), isTTY: process.stderr.isTTY === true },
};

/** This package's version (package.json is one level above both src/ and dist/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** --port / CONCLAVE_PORT: digits only, 0..65535 (0: any free port). An empty value is an error, not port 0. */
export function parsePort(raw: string): number {
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`bad --port ${JSON.stringify(raw)}: expected a number from 0 to 65535`);
  return port;
}

function need(args: string[], n: number, what: string): string[] {
  if (args.length !== n) throw new UsageError(`expected ${what}`);
  return args;
}

const SHORT_OPTIONS = new Set(Object.values(OPTIONS).flatMap((o) => ("short" in o ? [`-${o.short}`] : [])));
/** A group id as the client prints it: 32 bytes, unpadded base64url (it may start with "--"). */
const GROUP_ID = /^-[A-Za-z0-9_-]{42}$/;
/** What parseArgs should see as a long option (known or not: unknown ones are usage errors). */
const OPTION_LIKE = /^--[a-z][a-z0-9-]*(=[\s\S]*)?$/;
const STRING_OPTIONS = new Set(Object.entries(OPTIONS).flatMap(([name, o]) => (o.type === "string" ? [`--${name}`] : [])));

/**
 * Group ids, account secrets and messages are base64url or free text and may
 * start with "-", which parseArgs would take for an option. Before parsing, a
 * string option's separate value is joined to it ("--home=-x"), and any other
 * token starting with "-" is held back as a positional (a placeholder keeps
 * its place) unless it is a known short option or has the shape of a long
 * option ("--name", "--name=value"), so an unknown option is still a usage
 * error. A group id has that shape at times and is always a positional.
 */
export function parseCommandLine(argv: readonly string[]): ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>> {
  const held: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      args.push(...argv.slice(i));
      break;
    }
    if (STRING_OPTIONS.has(a) && i + 1 < argv.length) {
      args.push(`${a}=${argv[++i]!}`);
    } else if (GROUP_ID.test(a) || (a.startsWith("-") && a !== "-" && !SHORT_OPTIONS.has(a) && !OPTION_LIKE.test(a))) {
      args.push(`\u0000${held.length}`);
      held.push(a);
    } else {
      args.push(a);
    }
  }
  const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const restore = (p: string): string => (p.startsWith("\u0000") ? held[Number(p.slice(1))]! : p);
  return { ...parsed, positionals: parsed.positionals.map(restore) };
}

/**
 * Runs one command line; returns the exit code. Never throws: an error is one line on `out.err`,
 * `conclave: CODE: message` (the ApiError/MlsError/StoreError code, `USAGE` with exit code 2, `KEY_ENCRYPTION_KEY`
 * for a wrong or missing KEK), and exit code 1.
 */
export async function main(argv: string[], out: Out = stdio): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseCommandLine(argv);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const {
      values: o,
      positionals: [cmd, ...rest],
    } = parsed;
    if (o.version === true) {
      out.log(`conclave ${version()}`);
      return 0;
    }
    if (o.help === true || cmd === undefined || cmd === "help") {
      out.log(USAGE);
      return cmd === undefined && o.help !== true ? 2 : 0;
    }
    const home = o.home ?? process.env.CONCLAVE_HOME ?? ".conclave-client";
    const progress = new Progress(o.quiet === true ? undefined : out.progress);
    const step = <T>(label: string, fn: () => Promise<T>) => progress.step(label, fn);
    /** The client in --home; only commands that set a device up save --server (a typo elsewhere changes nothing on disk). */
    const open = async (saveServer = false) => {
      const pass = process.env.CONCLAVE_PASSPHRASE;
      if (pass === undefined || pass === "") throw new UsageError("set CONCLAVE_PASSPHRASE: the client state is encrypted with it");
      // Loaded on first use: --help and --version never load the client SDK and the MLS library.
      const { NoServerError, openClient } = await import("./clientHome.js");
      try {
        return await openClient({ home, ...(o.server !== undefined ? { server: o.server } : {}), saveServer, warn: out.err }, pass);
      } catch (e) {
        if (e instanceof NoServerError) throw new UsageError(e.message);
        throw e;
      }
    };
    /** The client, caught up with its DS queue (a group we were just added to is known). */
    const synced = async () => {
      const { client } = await open();
      await step("catching up with the DS", () => client.sync());
      return client;
    };
    switch (cmd) {
      case "serve": {
        const port = parsePort(o.port ?? process.env.CONCLAVE_PORT ?? "7300");
        // Loaded on demand: the server stack is only for these commands (--help stays fast).
        const { serve } = await import("./serve.js");
        const { federationOptionsFromEnv } = await import("@conclave/server");
        const host = o.host ?? process.env.CONCLAVE_HOST ?? "127.0.0.1";
        // Federation from CONCLAVE_PUBLIC_URL / CONCLAVE_FEDERATION_* (docs/federation.md), as for `npm run main`.
        const federation = federationOptionsFromEnv(process.env, `http://${host}:${port}`);
        const s = await serve({
          db: o.db ?? process.env.CONCLAVE_DB ?? ".conclave/conclave.sqlite",
          host,
          port,
          ...(federation === undefined ? {} : { federation }),
          domain: o.domain ?? process.env.CONCLAVE_DOMAIN ?? "localhost",
          ...(o["no-rate-limit"] === true ? { rateLimits: false } : {}),
          ...(o["open-registration"] === true ? { openRegistration: true } : {}),
          ...((o["admin-token"] ?? process.env.CONCLAVE_ADMIN_TOKEN) ? { adminToken: (o["admin-token"] ?? process.env.CONCLAVE_ADMIN_TOKEN)! } : {}),
          ...(o["log-level"] !== undefined ? { logLevel: o["log-level"] } : {}),
          // One KEK story for every entry point: --key-file, else CONCLAVE_KEK, else CONCLAVE_KEY_FILE, else conclave.kek beside the database.
          ...(o["key-file"] !== undefined
            ? { keyFile: o["key-file"] }
            : process.env.CONCLAVE_KEK
              ? { kek: process.env.CONCLAVE_KEK }
              : process.env.CONCLAVE_KEY_FILE
                ? { keyFile: process.env.CONCLAVE_KEY_FILE }
                : {}),
        });
        out.log(`conclave: DS+AS listening on ${s.url}/v1; OpenAPI at ${s.url}/v1/openapi.json`);
        await new Promise<void>((resolve) => {
          for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
        });
        await s.close();
        return 0;
      }
      case "demo": {
        need(rest, 0, "demo [--server URL] [--federated]");
        if (o.federated === true) {
          const { runFederatedDemo } = await import("./federatedDemo.js");
          await runFederatedDemo(out.log, { progress });
          return 0;
        }
        const { runDemo } = await import("./demo.js");
        await runDemo(out.log, { ...(o.server !== undefined ? { server: o.server } : {}), progress });
        return 0;
      }
      case "register": {
        const [user, device] = need(rest, 2, "register <user> <device>");
        const { client } = await open(true);
        const recoveryCode = o["recovery-code"];
        const r = await step(`registering ${user}/${device} with the AS and publishing KeyPackages`, () =>
          client.register(user!, device!, recoveryCode !== undefined ? { recoveryCode } : o.invite !== undefined ? { proof: { kind: "invite", token: o.invite } } : {}),
        );
        out.log(`registered ${client.identity}`);
        if (recoveryCode === undefined) out.log(`recovery code (shown once: keep it offline; it recovers the account): ${r.recoveryCode}`);
        return 0;
      }
      case "group": {
        const [sub, ...args] = rest;
        const arity: Record<string, [number, string]> = {
          create: [0, "group create"],
          list: [0, "group list"],
          add: [2, "group add <groupId> <user>"],
          remove: [2, "group remove <groupId> <user|identity>"],
        };
        const spec = sub !== undefined ? arity[sub] : undefined;
        if (spec === undefined) throw new UsageError("expected group create|list|add|remove");
        need(args, spec[0], spec[1]);
        if (sub === "create") {
          const { client } = await open();
          out.log(await step("creating a group", () => client.createGroup()));
        } else if (sub === "list") {
          const { client } = await open();
          for (const g of client.groups) out.log(`${g} epoch ${client.group(g).epoch} members ${client.members(g).join(", ")}`);
        } else if (sub === "add") {
          const [g, user] = args;
          const client = await synced();
          const added = await step(`adding every device of ${user}`, () => client.addUser(g!, user!));
          out.log(added.length > 0 ? `added ${added.join(", ")} (epoch ${client.group(g!).epoch})` : `${user} is already in the group`);
        } else {
          const [g, who] = args;
          const client = await synced();
          const gone = await step(`removing ${who}`, () => client.removeMember(g!, who!));
          out.log(`removed ${gone.join(", ")} (epoch ${client.group(g!).epoch})`);
        }
        return 0;
      }
      case "devices": {
        const [sub, ...args] = rest;
        if (sub === "link") {
          const [user, device] = need(args, 2, "devices link <user> <device>");
          const { client } = await open(true);
          const { payload, code } = await client.requestLink(user!, device!);
          out.log(`link request: ${payload}`);
          out.log(`code: ${code}`);
          return 0;
        }
        if (sub === "approve") {
          const [payload] = need(args, 1, "devices approve <payload>");
          const { client } = await open();
          const r = await step("approving the new device", () => client.approveDevice(payload!));
          out.log(`approved ${r.device}: check that it shows code ${r.code}`);
          return 0;
        }
        if (sub === "complete") {
          need(args, 0, "devices complete");
          const { client } = await open();
          await step("registering this device with its approval and publishing KeyPackages", () => client.completeLink());
          out.log(`registered ${client.identity}`);
          return 0;
        }
        if (sub === "revoke") {
          const [device] = need(args, 1, "devices revoke <device>");
          const { client } = await open();
          const r = await step(`revoking ${device}`, () => client.revokeDevice(device!));
          out.log(`revoked ${r.client.identity} (${r.revokedCredentials} credentials)`);
          return 0;
        }
        if (sub === "changes") {
          need(args, 0, "devices changes");
          const { client } = await open();
          for (const e of await client.deviceChanges())
            out.log(`${e.change} ${e.device} by ${e.by} at ${new Date(e.at).toISOString()} (log leaf ${e.logIndex}${e.inLog ? "" : ", NOT PROVEN BY THE TRANSPARENCY LOG"})`);
          return 0;
        }
        if (sub !== "add" || args.length !== 0) throw new UsageError("expected devices add|link|approve|complete|revoke|changes");
        const client = await synced();
        const added = await step("adding my other devices to my groups", () => client.addOwnDevices());
        for (const [g, ids] of Object.entries(added)) out.log(`${g}: ${ids.length > 0 ? `added ${ids.join(", ")}` : "nothing to add"}`);
        return 0;
      }
      case "update": {
        const [g] = need(rest, 1, "update <groupId>");
        const client = await synced();
        out.log(`epoch ${await step("updating my keys", () => client.update(g!))}`);
        return 0;
      }
      case "leave": {
        const [g] = need(rest, 1, "leave <groupId>");
        const client = await synced();
        await step("proposing to leave", () => client.leave(g!));
        out.log(`leaving ${g}: another member's client commits the removal; until then this device stays a member`);
        return 0;
      }
      case "recover": {
        const [g] = need(rest, 1, "recover <groupId>");
        const { client } = await open();
        const epoch = await step("rejoining by external commit", () => client.recover(g!));
        out.log(`rejoined ${g} at epoch ${epoch}`);
        return 0;
      }
      case "send": {
        const usage = "send <groupId> <message> | send <groupId> --file F | send <groupId> -";
        const [g, msg] = o.file !== undefined ? [need(rest, 1, usage)[0], undefined] : need(rest, 2, usage);
        const text = await readBody(msg, o.file);
        const client = await synced();
        await client.send(g!, text);
        out.log("sent");
        return 0;
      }
      case "safety": {
        const [g] = need(rest, 1, "safety <groupId>");
        const client = await synced();
        out.log(client.safetyNumber(g!));
        return 0;
      }
      case "listen": {
        need(rest, 0, "listen");
        const { client } = await open();
        const print = (e: Awaited<ReturnType<Client["sync"]>>[number]) => {
          if (e.type === "message") out.log(`${e.groupId} ${e.sender}: ${e.text}`);
          else if (e.type === "joined") out.log(`${e.groupId} joined at epoch ${e.epoch}: ${e.members.join(", ")}`);
          else if (e.type === "membership") out.log(`${e.groupId} epoch ${e.epoch} by ${e.by}: +[${e.added.join(", ")}] -[${e.removed.join(", ")}]${e.selfRemoved ? " (removed me)" : ""}`);
          else if (e.type === "untrusted") out.log(`${e.groupId} UNTRUSTED ${e.member}: the AS does not vouch for this member (${e.reason})`);
          else out.err(`${e.groupId} error: ${e.error.message}`);
        };
        if (o.once === true) {
          for (const e of await client.sync()) print(e);
          return 0;
        }
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        for await (const e of client.events({ signal: ac.signal })) print(e);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    // One line each, with a stable code a script can match.
    if (e instanceof UsageError) {
      out.err(`conclave: USAGE: ${e.message} (conclave --help shows every command)`);
      return 2;
    }
    if (isApiError(e)) {
      out.err(`conclave: ${e.code}: ${e.message}`);
      return 1;
    }
    if ((e as Error).name === "KeyWrapError") {
      out.err(`conclave: KEY_ENCRYPTION_KEY: ${(e as Error).message}`);
      return 1;
    }
    const code = (e as { code?: unknown }).code;
    out.err(`conclave: ${typeof code === "string" ? `${code}: ` : ""}${(e as Error).message}`);
    return 1;
  }
}
