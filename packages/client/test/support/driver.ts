/**
 * One Client in its own OS process, for the multi-process tests: JSON-line
 * commands on stdin, one JSON-line reply per command on stdout.
 *
 *   node --import tsx driver.ts <serverUrl> <storeDir> <passphrase>
 *   → {"id":1,"cmd":"register","args":{"user":"bob","device":"phone"}}
 *   ← {"id":1,"ok":true,"result":{...}}   or   {"id":1,"ok":false,"code":"…","message":"…"}
 *
 * `dieOnWrite` arms a trap: the process SIGKILLs itself right before the store
 * writes a key starting with `key`; `dieOnRequest` right before a request to a
 * URL ending in `path` leaves it. Each stands for a crash at an exact point of
 * a later command.
 */
import { createInterface } from "node:readline";
import { Client, FileStore, type ClientEvent, type ClientStore } from "../../src/index.js";

const [serverUrl, dir, passphrase] = process.argv.slice(2);
if (serverUrl === undefined || dir === undefined || passphrase === undefined) throw new Error("usage: driver.ts <serverUrl> <storeDir> <passphrase>");

let trap: string | undefined;
const file = new FileStore(dir, passphrase);
const store: ClientStore = {
  get: (k) => file.get(k),
  keys: (p) => file.keys(p),
  delete: (k) => file.delete(k),
  put: (k, v) => {
    if (trap !== undefined && k.startsWith(trap)) process.kill(process.pid, "SIGKILL");
    return file.put(k, v);
  },
};
let requestTrap: string | undefined;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (requestTrap !== undefined && String(input instanceof Request ? input.url : input).endsWith(requestTrap)) process.kill(process.pid, "SIGKILL");
  return realFetch(input, init);
};
const client = await Client.open({ serverUrl, store });

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function eventJson(e: ClientEvent): Record<string, unknown> {
  switch (e.type) {
    case "message":
      return { type: e.type, groupId: e.groupId, sender: e.sender, epoch: Number(e.epoch), text: e.text };
    case "joined":
      return { ...e, epoch: Number(e.epoch) };
    case "membership":
      return { ...e, epoch: Number(e.epoch) };
    case "error":
      return { type: e.type, groupId: e.groupId, entryId: e.entryId, code: (e.error as { code?: string }).code, message: e.error.message };
    case "untrusted":
      return { ...e, epoch: Number(e.epoch) };
  }
}

type Args = Record<string, string | undefined>;
const commands: Record<string, (a: Args) => Promise<unknown>> = {
  register: (a) => client.register(a.user!, a.device!, a.recoveryCode !== undefined ? { recoveryCode: a.recoveryCode } : {}).then((r) => ({ ...r, identity: client.identity })),
  whoami: async () => ({ identity: client.registered ? client.identity : null, groups: client.groups }),
  createGroup: () => client.createGroup(),
  addUser: (a) => client.addUser(a.groupId!, a.user!),
  addOwnDevices: () => client.addOwnDevices(),
  removeMember: (a) => client.removeMember(a.groupId!, a.who!),
  update: (a) => client.update(a.groupId!).then(Number),
  leave: (a) => client.leave(a.groupId!),
  recover: (a) => client.recover(a.groupId!).then(Number),
  send: (a) => client.send(a.groupId!, a.text!),
  sync: async () => (await client.sync()).map(eventJson),
  state: async (a) => {
    const g = client.group(a.groupId!);
    return { epoch: Number(g.epoch), members: client.members(a.groupId!).sort(), safetyNumber: client.safetyNumber(a.groupId!), authenticator: hex(client.epochAuthenticator(a.groupId!)) };
  },
  stats: async () => ({ commitConflicts: client.commitConflicts }),
  dieOnWrite: async (a) => {
    trap = a.key;
  },
  dieOnRequest: async (a) => {
    requestTrap = a.path;
  },
};

const reply = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
// Commands run one after another in arrival order (the Client also serializes its operations).
let chain: Promise<void> = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, cmd, args } = JSON.parse(line) as { id: number; cmd: string; args?: Args };
  chain = chain.then(async () => {
    const fn = commands[cmd];
    try {
      if (fn === undefined) throw Object.assign(new Error(`unknown command ${cmd}`), { code: "BAD_REQUEST" });
      reply({ id, ok: true, result: (await fn(args ?? {})) ?? null });
    } catch (e) {
      reply({ id, ok: false, code: (e as { code?: string }).code ?? "ERROR", message: (e as Error).message });
    }
  });
});
reply({ ready: true, identity: client.registered ? client.identity : null });
process.stdin.on("end", () => void chain.then(() => process.exit(0)));
