/**
 * The `conclave` command. Arguments are parsed with node:util parseArgs.
 *
 *   conclave serve [--db FILE] [--host H] [--port P] [--domain D] [--no-rate-limit]
 *   conclave demo [--server URL]
 *   conclave register <user> <device> --server URL [--account-secret=S]
 *   conclave group create | list
 *   conclave group add <groupId> <user>
 *   conclave group remove <groupId> <user|identity>
 *   conclave devices add          (bring this user's other devices into all groups)
 *   conclave update <groupId>
 *   conclave send <groupId> <message>
 *   conclave listen [--once]
 *   conclave safety <groupId>
 *
 * Client commands keep their state in --home (default $CONCLAVE_HOME or
 * ./.conclave-client), encrypted with $CONCLAVE_PASSPHRASE.
 */
import { parseArgs } from "node:util";
import { isApiError } from "@conclave/api";
import { Client, FileStore } from "@conclave/client";
import { runDemo } from "./demo.js";
import { serve } from "./serve.js";

export class UsageError extends Error {}

const USAGE = `usage: conclave <command> [options]

commands:
  serve [--db FILE] [--host H] [--port P] [--domain D] [--no-rate-limit]
                                  run the DS+AS on SQLite (--no-rate-limit: for local tests,
                                  where every client shares 127.0.0.1)
  demo [--server URL]                                     RFC 9750 §3 walk-through
  register <user> <device> --server URL [--account-secret=S]
  group create | group list
  group add <groupId> <user>
  group remove <groupId> <user|identity>
  devices add                     add my other devices to all my groups
  update <groupId>
  send <groupId> <message>
  listen [--once]
  safety <groupId>

client options: --home DIR (or CONCLAVE_HOME), passphrase in CONCLAVE_PASSPHRASE`;

const OPTIONS = {
  db: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  domain: { type: "string" },
  server: { type: "string" },
  home: { type: "string" },
  "account-secret": { type: "string" },
  once: { type: "boolean" },
  "no-rate-limit": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Out = { log(s: string): void; err(s: string): void };
const stdio: Out = { log: (s) => console.log(s), err: (s) => console.error(s) };

async function openClient(home: string, server?: string): Promise<{ client: Client; store: FileStore }> {
  const pass = process.env.CONCLAVE_PASSPHRASE;
  if (pass === undefined || pass === "") throw new UsageError("set CONCLAVE_PASSPHRASE: the client state is encrypted with it");
  const store = new FileStore(home, pass);
  let url = server;
  const saved = await store.get("server");
  if (url === undefined && saved !== undefined) url = new TextDecoder().decode(saved);
  if (url === undefined) throw new UsageError("no server known: pass --server URL");
  if (server !== undefined) await store.put("server", new TextEncoder().encode(server));
  return { client: await Client.open({ serverUrl: url, store }), store };
}

function need(args: string[], n: number, what: string): string[] {
  if (args.length !== n) throw new UsageError(`expected ${what}`);
  return args;
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], out: Out = stdio): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values: o, positionals: [cmd, ...rest] } = parsed;
    if (o.help === true || cmd === undefined || cmd === "help") {
      out.log(USAGE);
      return cmd === undefined && o.help !== true ? 2 : 0;
    }
    const home = o.home ?? process.env.CONCLAVE_HOME ?? ".conclave-client";
    switch (cmd) {
      case "serve": {
        const port = Number(o.port ?? process.env.CONCLAVE_PORT ?? 7300);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`bad --port ${o.port}`);
        const s = await serve({
          db: o.db ?? process.env.CONCLAVE_DB ?? ".conclave/conclave.sqlite",
          host: o.host ?? process.env.CONCLAVE_HOST ?? "127.0.0.1",
          port,
          domain: o.domain ?? process.env.CONCLAVE_DOMAIN ?? "localhost",
          ...(o["no-rate-limit"] === true ? { rateLimits: false } : {}),
        });
        out.log(`conclave: DS+AS listening on ${s.url}/v1; OpenAPI at ${s.url}/v1/openapi.json`);
        await new Promise<void>((resolve) => {
          for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
        });
        await s.close();
        return 0;
      }
      case "demo":
        await runDemo(out.log, o.server !== undefined ? { server: o.server } : {});
        return 0;
      case "register": {
        const [user, device] = need(rest, 2, "register <user> <device>");
        const { client } = await openClient(home, o.server);
        const r = await client.register(user!, device!, o["account-secret"] !== undefined ? { accountSecret: o["account-secret"] } : {});
        out.log(`registered ${client.identity}`);
        if (o["account-secret"] === undefined) out.log(`account secret (keep it to register more devices, as --account-secret=<secret>): ${r.accountSecret}`);
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
        const { client } = await openClient(home, o.server);
        if (sub === "create") out.log(await client.createGroup());
        else if (sub === "list") for (const g of client.groups) out.log(`${g} epoch ${client.group(g).epoch} members ${client.members(g).join(", ")}`);
        else if (sub === "add") {
          const [g, user] = args;
          await client.sync();
          const added = await client.addUser(g!, user!);
          out.log(added.length > 0 ? `added ${added.join(", ")} (epoch ${client.group(g!).epoch})` : `${user} is already in the group`);
        } else {
          const [g, who] = args;
          await client.sync();
          out.log(`removed ${(await client.removeMember(g!, who!)).join(", ")} (epoch ${client.group(g!).epoch})`);
        }
        return 0;
      }
      case "devices": {
        if (rest[0] !== "add" || rest.length !== 1) throw new UsageError("expected devices add");
        const { client } = await openClient(home, o.server);
        await client.sync();
        for (const [g, ids] of Object.entries(await client.addOwnDevices())) out.log(`${g}: ${ids.length > 0 ? `added ${ids.join(", ")}` : "nothing to add"}`);
        return 0;
      }
      case "update": {
        const [g] = need(rest, 1, "update <groupId>");
        const { client } = await openClient(home, o.server);
        await client.sync();
        out.log(`epoch ${await client.update(g!)}`);
        return 0;
      }
      case "send": {
        const [g, msg] = need(rest, 2, "send <groupId> <message>");
        const { client } = await openClient(home, o.server);
        await client.sync();
        await client.send(g!, msg!);
        out.log("sent");
        return 0;
      }
      case "safety": {
        const [g] = need(rest, 1, "safety <groupId>");
        const { client } = await openClient(home, o.server);
        await client.sync();
        out.log(client.safetyNumber(g!));
        return 0;
      }
      case "listen": {
        need(rest, 0, "listen");
        const { client } = await openClient(home, o.server);
        const print = (e: Awaited<ReturnType<Client["sync"]>>[number]) => {
          if (e.type === "message") out.log(`${e.groupId} ${e.sender}: ${e.text}`);
          else if (e.type === "joined") out.log(`${e.groupId} joined at epoch ${e.epoch}: ${e.members.join(", ")}`);
          else if (e.type === "membership") out.log(`${e.groupId} epoch ${e.epoch} by ${e.by}: +[${e.added.join(", ")}] -[${e.removed.join(", ")}]${e.selfRemoved ? " (removed me)" : ""}`);
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
    if (e instanceof UsageError) {
      out.err(`conclave: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (isApiError(e)) {
      out.err(`conclave: ${e.code}: ${e.message}`);
      return 1;
    }
    out.err(`conclave: ${(e as Error).message}`);
    return 1;
  }
}
